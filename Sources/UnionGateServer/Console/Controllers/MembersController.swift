import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 入会审核: applications by status, unit and search; approve or reject; the CSV export.
struct MembersController: ConsoleController {
    let shared: ConsoleShared

    struct View: Encodable {
        struct Row: Encodable {
            let id: Int
            let number: String
            let name: String
            let phone: String
            let unit: String
            let createdAt: String
            let status: String
            let statusName: String
            let reason: String?
            let pending: Bool
        }
        let statuses: [Option]
        let units: [UnitOption]
        let q: String
        let rows: [Row]
        let canDecide: Bool
        let exportPath: String?
        let pager: Pager
    }

    struct RejectForm: Decodable {
        var reason: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("members", use: list)
        pages.post("members/:id/approve") { request, context in try await decide(request, context, approve: true) }
        pages.post("members/:id/reject") { request, context in try await decide(request, context, approve: false) }
        pages.get("members/export", use: export)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let status = query.status ?? "pending"
        let (scope, unit) = try scope(for: actor, unit: query.unit)
        let page = try await MembershipRegistry(store: store).page(
            RecordFilter(
                scope: scope, status: MembershipApplication.Status(rawValue: status)?.rawValue, search: query.q),
            request: try ConsoleLinks.pageRequest(query))
        let view = View(
            statuses: Option.list(
                [("pending", "待审核"), ("approved", "已通过"), ("rejected", "未通过"), ("all", "全部")], selected: status),
            units: unitOptions(for: actor, selected: unit), q: query.q ?? "",
            rows: page.items.map { application in
                View.Row(
                    id: application.id, number: application.number, name: application.name,
                    phone: application.phone,
                    unit: organisation.units[application.unitCode]?.name ?? application.unit,
                    createdAt: local(application.createdAt), status: application.status.rawValue,
                    statusName: application.status.chinese, reason: application.reason,
                    pending: application.status == .pending)
            },
            canDecide: actor.may(.decide),
            exportPath: actor.may(.export)
                ? ConsoleLinks.exportLink("/admin/members/export", status: status, query) : nil,
            pager: ConsoleLinks.pager(page, request))
        return try pages.render("members", title: "入会审核", view, context: context)
    }

    private func decide(_ request: Request, _ context: GatewayRequestContext, approve: Bool) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let registry = MembershipRegistry(store: store)
        let now = clock()
        let application: MembershipApplication
        if approve {
            application = try await registry.approve(id, by: actor, at: now)
        } else {
            let form = try await request.decode(as: RejectForm.self, context: context)
            let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !reason.isEmpty else { throw AdminActionError(.invalid, "请写明不通过的原因，会员会收到它。") }
            application = try await registry.reject(id, reason: reason, by: actor, at: now)
        }
        let notice = try await Outbox.latest(to: application.openid, in: store)
        let shown = notice.map { visibleText(of: $0.bodies) }.flatMap { $0.isEmpty ? nil : $0 }
        let flash =
            "\(application.name)（\(application.number)）\(approve ? "已通过" : "未通过")。"
            + (shown.map { "已排队通知会员：「\($0)」" } ?? "")
        return pages.redirect("/admin/members", flash: flash)
    }

    /// The applications as filtered, as CSV (UTF-8 with BOM, for Excel), streamed a batch at a
    /// time so that memory stays flat however many; audited.
    @Sendable func export(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        try actor.require(.export)
        let query = try ConsoleQuery(request)
        let (scope, unit) = try scope(for: actor, unit: query.unit)
        let filter = RecordFilter(
            scope: scope, status: query.status.flatMap { $0 == "all" ? nil : $0 }, search: query.q)
        try await auditExport(
            actor, action: "members.export", record: "members", unit: unit, query: ExportQuery.values(of: query))
        let stream = CSVExport.MembersStream(
            fields: book.join.form.fields.filter { !["name", "phone", "unit", "unit_code"].contains($0.key) }
                .map { ($0.key, $0.label) }, utcOffsetMinutes: offset)
        let registry = MembershipRegistry(store: store)
        var response = AdminRoutes.csv("", name: "members")
        response.body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: stream.head))
            try await registry.batches(filter) { batch in
                try await writer.write(ByteBuffer(string: stream.rows(batch)))
            }
            try await writer.finish(nil)
        }
        response.headers[.contentLength] = nil
        return response
    }
}

/// The filter of an export as the audit log records it.
enum ExportQuery {
    static func values(of query: ConsoleQuery) -> [String: String] {
        var values: [String: String] = [:]
        for (key, value) in [("unit", query.unit), ("status", query.status), ("q", query.q), ("form", query.form)] {
            if let value { values[key] = value }
        }
        return values
    }
}
