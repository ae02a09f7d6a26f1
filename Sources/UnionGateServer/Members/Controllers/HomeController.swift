import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 会员中心 (the member's home), 我的会员卡 (the e-member card with its changing code), and leaving.
struct HomeController: MemberController {
    let shared: MemberShared

    struct HomeView: Encodable {
        /// 工会会员, 入会申请审核中, 尚未入会 …
        let status: String
        let isMember: Bool
        let canJoin: Bool
        let name: String?
        let unit: String?
    }

    struct CardView: Encodable {
        struct Card: Encodable {
            let name: String
            let unit: String
            let parentUnit: String?
            let number: String
            let joined: String
            /// The code as shown: `1234 5678`.
            let code: String
            /// The code as typed: `12345678`.
            let digits: String
            /// Seconds until the code changes.
            let changesIn: Int
            /// The local time the code was made for.
            let shownAt: String
            /// The code as a QR code staff scan: the console's 会员验证 with the code filled in.
            let qr: QR?
        }
        struct QR: Encodable {
            let path: String
            /// The side of the drawing, quiet zone included, in modules.
            let side: Int
        }
        let card: Card?
        /// Why there is no card: the 入会 status.
        let status: String?
        let canJoin: Bool
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("", use: home)
        pages.get("card", use: card)
        pages.post("logout", use: logout)
    }

    @Sendable func home(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let application = try await shared.desk.latestApplication(of: member.openid)
        let status: String =
            switch application?.status {
            case .approved: "工会会员"
            case .pending: "入会申请审核中"
            case .rejected: "入会申请未通过，可以重新申请"
            case nil: "尚未入会"
            }
        let view = HomeView(
            status: status, isMember: application?.status == .approved,
            canJoin: application == nil || application?.status == .rejected,
            name: application?.name, unit: application?.unit)
        return try pages.render("home", title: "会员中心", view, context: context)
    }

    @Sendable func card(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        guard let application = try await shared.desk.latestApplication(of: member.openid),
            application.status == .approved
        else {
            let application = try await shared.desk.latestApplication(of: member.openid)
            let view = CardView(
                card: nil,
                status: application.map(JoinPageController.status) ?? "您还不是工会会员，入会后即可使用电子会员卡。",
                canJoin: application == nil || application?.status == .rejected)
            return try pages.render("card", title: "我的会员卡", view, context: context, back: "/m/")
        }
        let now = shared.clock()
        let code = try await shared.cards.code(for: member.openid, at: now)
        let entry = try await shared.registry.entry(for: member.openid)
        let organisation = book.join.organisation
        let unit = organisation.units[application.unitCode]
        let parent = unit?.parent.flatMap { organisation.units[$0]?.name }
        let changesIn = Int(max(1, code.changesAt - now))
        let view = CardView(
            card: CardView.Card(
                name: application.name, unit: unit?.name ?? application.unit, parentUnit: parent,
                number: entry?.memberNumber ?? application.number,
                joined: entry.flatMap { $0.joinedOn.isEmpty ? nil : $0.joinedOn }
                    ?? shared.day(application.decidedAt ?? application.createdAt),
                code: String(code.code.prefix(4)) + " " + String(code.code.suffix(4)), digits: code.code,
                changesIn: changesIn, shownAt: shared.local(now),
                qr: QRCode(shared.publicURL.map { $0.trimmingSlash() + "/admin/verify?code=" + code.code } ?? code.code)
                    .map { CardView.QR(path: $0.svgPath, side: $0.size + 8) }),
            status: nil, canJoin: false)
        // The page loads again when the code changes (no script needed).
        return try pages.render(
            "card", title: "我的会员卡", view, context: context, back: "/m/", refresh: changesIn + 1)
    }

    @Sendable func logout(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        if let current = try await shared.session(of: request) { try await shared.sessions.remove(current.key) }
        var response = shared.pages.message(
            "您已退出会员中心。需要时在公众号对话框回复「会员中心」即可再次进入。", status: .ok, context: nil, title: "已退出")
        response.headers[values: .setCookie].append(shared.cookie(MemberShared.cookieName, "", maxAge: 0))
        return response
    }
}
