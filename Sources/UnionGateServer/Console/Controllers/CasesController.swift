import Foundation
import Hummingbird
import UnionServices

/// 留言: the inbox's cases, overdue first; a case's thread with members' pictures and videos;
/// reply, hand on to another unit or staff member, close.
struct CasesController: ConsoleController {
    let shared: ConsoleShared

    struct ListView: Encodable {
        struct Row: Encodable {
            let id: Int
            let number: String
            let latest: String
            let status: String
            let statusName: String
            let overdue: Bool
            let dueAt: String
            let unit: String
        }
        let statuses: [Option]
        let q: String
        let rows: [Row]
        let pager: Pager
    }

    struct ThreadView: Encodable {
        struct Media: Encodable {
            let link: String
            let image: Bool
            let video: Bool
            /// WeChat's voice is AMR, which browsers do not play: a download.
            let file: Bool
        }
        struct Message: Encodable {
            let from: String
            let who: String
            let at: String
            let content: String
            var media: Media?
            var mediaNote: String?
        }
        let id: Int
        let status: String
        let statusName: String
        let overdue: Bool
        let closed: Bool
        let dueAt: String
        let unit: String
        let assignedStaff: String?
        let rating: Int?
        let canDecide: Bool
        let units: [UnitOption]
        let messages: [Message]
    }

    struct ReplyForm: Decodable {
        var text: String?
    }

    struct AssignForm: Decodable {
        var unit: String?
        var staff: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("cases", use: list)
        pages.get("cases/:id", use: thread)
        pages.get("cases/:id/media/:message", use: media)
        pages.post("cases/:id/reply", use: reply)
        pages.post("cases/:id/close", use: close)
        pages.post("cases/:id/assign", use: assign)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let status = query.status ?? "open"
        let now = clock()
        let (scope, _) = try scope(for: actor, unit: query.unit)
        let pageRequest = try ConsoleLinks.pageRequest(query)
        let inbox = Inbox(store: store)
        let filter = RecordFilter(
            scope: scope, status: MemberCase.Status(rawValue: status)?.rawValue, search: query.q)
        // Overdue first: on the first page of open cases, those past their due time lead (the
        // overview and the metrics count them all).
        var page = try await inbox.page(filter, request: pageRequest)
        if status == "open", pageRequest.page == 1 {
            let overdue = try await inbox.page(filter, overdueAt: now, request: pageRequest).items
            let ids = Set(overdue.map(\.id))
            page.items = overdue + page.items.filter { !ids.contains($0.id) }
        }
        let latest = try await inbox.latestFromMember(page.items.map(\.id))
        let view = ListView(
            statuses: Option.list(
                [("open", "待答复"), ("answered", "已答复"), ("closed", "已办结"), ("all", "全部")], selected: status),
            q: query.q ?? "",
            rows: page.items.map { memberCase in
                ListView.Row(
                    id: memberCase.id, number: memberCase.number, latest: latest[memberCase.id] ?? "",
                    status: memberCase.status.rawValue, statusName: memberCase.status.chinese,
                    overdue: memberCase.isOverdue(at: now), dueAt: local(memberCase.dueAt),
                    unit: unitName(memberCase.unitCode))
            },
            pager: ConsoleLinks.pager(page, request))
        return try pages.render("cases", title: "留言", view, context: context)
    }

    @Sendable func thread(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let now = clock()
        let (memberCase, messages) = try await Inbox(store: store).thread(id, for: actor)
        let member = try await MembershipRegistry(store: store).latest(for: memberCase.openid)
        let view = ThreadView(
            id: memberCase.id, status: memberCase.status.rawValue, statusName: memberCase.status.chinese,
            overdue: memberCase.isOverdue(at: now), closed: memberCase.status == .closed,
            dueAt: local(memberCase.dueAt), unit: unitName(memberCase.unitCode),
            assignedStaff: memberCase.assignedStaff, rating: memberCase.rating,
            canDecide: actor.may(.decide), units: unitOptions(for: actor, selected: nil),
            messages: messages.map { message in
                var shown = ThreadView.Message(
                    from: message.direction == "member" ? "member" : "staff",
                    who: message.direction == "member"
                        ? (member?.name ?? "会员") : "工会 · \(message.author ?? "工作人员")",
                    at: local(message.createdAt), content: message.content)
                // What a member sent as a picture, voice or video: shown, or how its download went.
                switch message.mediaStatus {
                case "stored":
                    shown.media = ThreadView.Media(
                        link: "/admin/cases/\(memberCase.id)/media/\(message.id)", image: message.kind == "image",
                        video: message.kind == "video", file: message.kind != "image" && message.kind != "video")
                case "pending": shown.mediaNote = "（正在从微信下载）"
                case "failed": shown.mediaNote = "（从微信下载失败：\(message.mediaError ?? "原因不明")）"
                default: break
                }
                return shown
            })
        return try pages.render("case", title: "留言 \(memberCase.number)", view, context: context)
    }

    @Sendable func media(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let message = try context.parameters.require("message", as: Int.self)
        return AdminRoutes.mediaResponse(
            try await Inbox(store: store).storedMedia(id, message: message, for: actor, in: shared.mediaDirectory))
    }

    @Sendable func reply(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let text = (try await request.decode(as: ReplyForm.self, context: context).text ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw AdminActionError(.invalid, "答复不能是空的。") }
        let memberCase = try await Inbox(store: store).reply(id, text: text, by: actor, at: clock())
        return pages.redirect("/admin/cases/\(memberCase.id)", flash: "答复已发给会员（\(memberCase.number)）。")
    }

    @Sendable func assign(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: AssignForm.self, context: context)
        let unit = (form.unit ?? "").trimmingCharacters(in: .whitespaces)
        let staffName = (form.staff ?? "").trimmingCharacters(in: .whitespaces)
        guard !unit.isEmpty || !staffName.isEmpty else { throw AdminActionError(.invalid, "请选择单位或填写经办人。") }
        let memberCase = try await Inbox(store: store).assign(
            id, unit: unit.isEmpty ? nil : unit, staff: staffName.isEmpty ? nil : staffName,
            organisation: organisation, by: actor, at: clock())
        let target = [organisation.units[unit]?.name, staffName.isEmpty ? nil : staffName].compactMap { $0 }
        return pages.redirect(
            "/admin/cases/\(memberCase.id)", flash: "留言 \(memberCase.number) 已转给\(target.joined(separator: "、"))。")
    }

    @Sendable func close(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let memberCase = try await Inbox(store: store).close(id, by: actor, at: clock())
        return pages.redirect("/admin/cases/\(memberCase.id)", flash: "留言 \(memberCase.number) 已办结。")
    }
}
