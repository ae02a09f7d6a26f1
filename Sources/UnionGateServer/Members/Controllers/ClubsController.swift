import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 俱乐部·志愿服务: the member's clubs and requests, the clubs and volunteer teams they may join
/// (asking once however often the page is sent), leaving, and their volunteer service hours.
struct ClubsController: MemberController {
    let shared: MemberShared

    struct View: Encodable {
        struct Club: Encodable {
            let id: Int
            let clubName: String
            let kind: String
            let leader: String?
            let about: String?
            let standing: String?
            let canJoin: Bool
            let canLeave: Bool
        }
        struct Service: Encodable {
            let title: String
            let day: String
            let hours: String
        }
        let mine: [Club]
        let others: [Club]
        let service: [Service]
        let totalHours: String?
        let submission: String
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("clubs", use: list)
        pages.post("clubs/:id/join", use: join)
        pages.post("clubs/:id/leave", use: leave)
    }

    private var clubs: Clubs { Clubs(store: shared.store) }

    private func page(
        _ openid: String, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok,
        context: GatewayRequestContext
    ) async throws -> Response {
        let unit = try await shared.desk.latestApplication(of: openid)?.unitCode ?? ""
        let mine = try await clubs.mine(openid)
        let open = try await clubs.open(forMemberOf: unit, organisation: book.join.organisation)
        let standing = Dictionary(mine.map { ($0.0.id, $0.1) }, uniquingKeysWith: { first, _ in first })
        func item(_ club: UnionServices.Club, _ membership: ClubMembership?) -> View.Club {
            var said = membership?.status.chinese
            if membership?.status == .refused, let reason = membership?.reason { said = "未通过：\(reason)" }
            return View.Club(
                id: club.id, clubName: club.name, kind: club.kind, leader: club.leader.isEmpty ? nil : club.leader,
                about: club.description.isEmpty ? nil : club.description, standing: said,
                canJoin: club.status == .open && (membership == nil || membership?.status == .refused),
                canLeave: membership?.status == .approved || membership?.status == .pending)
        }
        let service = try await Activities(store: shared.store).service(of: openid)
        let total = service.reduce(0) { $0 + $1.minutes }
        let view = View(
            mine: mine.filter { $0.1.status != .refused }.map { item($0.0, $0.1) },
            others: open.filter { standing[$0.id] == nil || standing[$0.id]?.status == .refused }.map {
                item($0, standing[$0.id])
            },
            service: service.prefix(20).map { activity, minutes in
                View.Service(
                    title: activity.title,
                    day: Activities.day(activity.startsAt, utcOffsetMinutes: book.settings.utcOffsetMinutes),
                    hours: Activities.hours(minutes))
            },
            totalHours: service.isEmpty ? nil : "\(Activities.hours(total))（\(service.count) 次）",
            submission: ConsoleSession.newToken())
        return try pages.render(
            "clubs", title: "俱乐部·志愿服务", view, status: status, context: context, back: "/m/", error: error,
            notice: notice)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        try await page(try member(context).openid, context: context)
    }

    @Sendable func join(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let id = try context.parameters.require("id", as: Int.self)
        let body = try await MemberFormInput.read(request, context: context)
        let submission = try body.submission()
        guard
            let (club, outcome) = try await clubs.ask(
                id, openid: member.openid, key: "page:\(member.openid):\(submission)",
                isMember: try await shared.desk.isMember(member.openid), organisation: book.join.organisation,
                at: shared.clock())
        else { throw HTTPError(.notFound) }
        if case .refused(let reason) = outcome {
            return try await page(member.openid, error: reason, status: .conflict, context: context)
        }
        return try await page(member.openid, notice: outcome.text(club), context: context)
    }

    @Sendable func leave(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let id = try context.parameters.require("id", as: Int.self)
        guard let club = try await clubs.club(id) else { throw HTTPError(.notFound) }
        let left = try await clubs.leave(
            id, openid: member.openid, organisation: book.join.organisation, at: shared.clock())
        return try await page(
            member.openid, notice: left ? "已退出「\(club.name)」。" : "您不是「\(club.name)」的成员。", context: context)
    }
}
