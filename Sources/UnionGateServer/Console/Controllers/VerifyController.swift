import Foundation
import Hummingbird
import UnionServices

/// 会员验证: staff type (or scan) the code on a member's e-member card and see whose it is: name,
/// unit and status. A code is good for its minute and one more; an older one (a screenshot) is
/// refused. Every verification is audited.
struct VerifyController: ConsoleController {
    let shared: ConsoleShared

    struct View: Encodable {
        struct Holder: Encodable {
            let name: String
            let unit: String
            let parentUnit: String?
            let status: String
            let number: String
            let isMember: Bool
        }
        let code: String
        let holder: Holder?
        /// Why the code verifies nobody.
        let refusal: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("verify", use: verify)
    }

    @Sendable func verify(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let actor = context.principal else { throw HTTPError(.unauthorized) }
        let code = (try ConsoleQuery(request).code ?? "").trimmingCharacters(in: .whitespaces)
        guard !code.isEmpty else {
            return try pages.render(
                "verify", title: "会员验证", View(code: "", holder: nil, refusal: nil), context: context)
        }
        let now = clock()
        var holder: View.Holder?
        var refusal: String?
        switch try await MemberCards(store: store).holder(of: String(code.prefix(32)), at: now) {
        case .unknown:
            refusal = "没有这个会员卡验证码。请核对 8 位数字，或请会员刷新会员卡页面。"
        case .expired:
            refusal = "这个验证码已过期（可能是截图）。请会员打开会员卡页面，出示正在显示的验证码。"
        case .member(let openid):
            guard let application = try await MembershipRegistry(store: store).latest(for: openid) else {
                refusal = "这个验证码的会员没有入会记录。"
                break
            }
            let unit = organisation.units[application.unitCode]
            holder = View.Holder(
                name: application.name, unit: unit?.name ?? application.unit,
                parentUnit: unit?.parent.flatMap { organisation.units[$0]?.name },
                status: application.status == .approved ? "会员（有效）" : "不是会员（入会申请\(application.status.chinese)）",
                number: application.number, isMember: application.status == .approved)
            try await AuditLog.record(
                actor, action: "member.verify", record: "application:\(application.number)",
                unit: application.unitCode, details: ["via": "console"], at: now, in: store)
        }
        return try pages.render(
            "verify", title: "会员验证", View(code: code, holder: holder, refusal: refusal),
            status: refusal == nil ? .ok : .notFound, context: context)
    }
}
