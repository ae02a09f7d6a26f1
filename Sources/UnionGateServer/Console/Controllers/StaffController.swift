import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 人员, 外发通知 and 审计: staff accounts (add with a one-time password, reset, move, disable),
/// the outbox with the notices to make by phone, and the audit log.
struct StaffController: ConsoleController {
    let shared: ConsoleShared

    struct StaffView: Encodable {
        struct Row: Encodable {
            let name: String
            let unit: String
            let role: String
            let state: String
            let disabled: Bool
            let createdAt: String
        }
        let secret: String?
        let secretFor: String?
        let units: [UnitOption]
        let roles: [Option]
        let rows: [Row]
    }

    struct EditView: Encodable {
        let name: String
        let units: [UnitOption]
        let roles: [Option]
    }

    struct OutboxView: Encodable {
        struct Row: Encodable {
            let id: Int
            let openid: String
            let preview: String
            let status: String
            let statusName: String
            let lastError: String?
            let createdAt: String
        }
        struct Phone: Encodable {
            let name: String
            let phone: String
            let text: String
            let why: String
        }
        let rows: [Row]
        let phone: [Phone]
    }

    struct AuditView: Encodable {
        struct Row: Encodable {
            let at: String
            let actor: String
            let action: String
            let record: String
            let unit: String
        }
        let rows: [Row]
        let pager: Pager
    }

    struct AccountForm: Decodable {
        var name: String?
        var unit: String?
        var role: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("outbox", use: outbox)
        pages.get("staff") { _, context in try await staffPage(context, secret: nil) }
        pages.post("staff", use: add)
        pages.post("staff/reset", use: reset)
        pages.post("staff/disable", use: disable)
        pages.get("staff/edit", use: edit)
        pages.post("staff/change", use: change)
        pages.get("audit", use: audit)
    }

    @Sendable func outbox(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        try actor.requireWholeTree(.administer)
        let list = try await Outbox.list(limit: 200, in: store)
        let phone = try await Outbox.phoneNotices(for: actor, in: store)
        let statusNames = ["queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败", "held": "需电话通知"]
        let view = OutboxView(
            rows: list.map { message in
                OutboxView.Row(
                    id: message.id, openid: message.openid,
                    preview: String(visibleText(of: message.bodies).prefix(120)), status: message.status.rawValue,
                    statusName: statusNames[message.status.rawValue] ?? message.status.rawValue,
                    lastError: message.lastError, createdAt: local(message.createdAt))
            },
            phone: phone.map { notice in
                OutboxView.Phone(
                    name: notice.name, phone: notice.phone, text: notice.notices.joined(separator: "；"),
                    why: notice.why.joined(separator: "；"))
            })
        return try pages.render("outbox", title: "外发通知", view, context: context)
    }

    /// The staff page; `secret` is a one-time password just made, shown once.
    private func staffPage(_ context: GatewayRequestContext, secret: (name: String, password: String)?) async throws
        -> Response
    {
        let actor = try context.actor()
        try actor.requireWholeTree(.administer)
        let list = try await staff.list()
        let view = StaffView(
            secret: secret?.password, secretFor: secret?.name, units: unitOptions(for: actor, selected: nil),
            roles: StaffRole.allCases.map { Option(value: $0.rawValue, label: $0.chinese, selected: false) },
            rows: list.map { member in
                StaffView.Row(
                    name: member.name, unit: unitName(member.unitCode), role: member.role.chinese,
                    state: member.disabled ? "已停用" : "正常", disabled: member.disabled,
                    createdAt: local(member.createdAt))
            })
        return try pages.render("staff", title: "人员", view, context: context)
    }

    @Sendable func add(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = try await request.decode(as: AccountForm.self, context: context)
        guard let role = StaffRole(rawValue: form.role ?? "") else { throw AdminActionError(.invalid, "请选择角色。") }
        let name = (form.name ?? "").trimmingCharacters(in: .whitespaces)
        guard StaffDirectory.isValidName(name) else {
            throw AdminActionError(.invalid, "账号 1–32 个字符，不能有空格或冒号，也不能是 root 等保留名。")
        }
        let (member, password) = try await staff.add(
            name: name, unit: form.unit ?? "", role: role, password: nil, organisation: organisation, by: actor,
            at: clock())
        return try await staffPage(context, secret: (member.name, password))
    }

    @Sendable func reset(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = try await request.decode(as: AccountForm.self, context: context).name ?? ""
        let password = try await staff.resetPassword(name, by: actor, at: clock())
        return try await staffPage(context, secret: (name, password))
    }

    /// One account's unit and role, to change.
    @Sendable func edit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = (try ConsoleQuery(request)).name ?? ""
        try actor.requireWholeTree(.administer)
        guard let member = try await staff.member(named: name) else {
            throw AdminActionError(.notFound, "no staff member called \(name)")
        }
        let view = EditView(
            name: member.name, units: unitOptions(for: actor, selected: member.unitCode),
            roles: Option.list(StaffRole.allCases.map { ($0.rawValue, $0.chinese) }, selected: member.role.rawValue))
        return try pages.render("staffEdit", title: "更改 \(member.name) 的单位和角色", view, context: context)
    }

    @Sendable func change(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = try await request.decode(as: AccountForm.self, context: context)
        let name = form.name ?? ""
        guard let role = StaffRole(rawValue: form.role ?? "") else { throw AdminActionError(.invalid, "请选择角色。") }
        let member = try await staff.change(
            name, unit: form.unit ?? "", role: role, organisation: organisation, by: actor, at: clock())
        return pages.redirect(
            "/admin/staff", flash: "\(name) 现在是\(unitName(member.unitCode))的\(member.role.chinese)，下一次操作起生效。")
    }

    @Sendable func disable(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = try await request.decode(as: AccountForm.self, context: context).name ?? ""
        _ = try await staff.disable(name, by: actor, at: clock())
        return pages.redirect("/admin/staff", flash: "\(name) 已停用，不能再登录。")
    }

    @Sendable func audit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard actor.may(.administer) else { throw AdminActionError(.forbidden, "administer") }
        let query = try ConsoleQuery(request)
        let page = try await AuditLog.page(
            for: actor, action: query.action, request: try ConsoleLinks.pageRequest(query), in: store)
        let view = AuditView(
            rows: page.items.map { entry in
                AuditView.Row(
                    at: local(entry.at), actor: entry.actor, action: entry.action, record: entry.record,
                    unit: unitName(entry.unitCode))
            },
            pager: ConsoleLinks.pager(page, request))
        return try pages.render("audit", title: "审计", view, context: context)
    }
}
