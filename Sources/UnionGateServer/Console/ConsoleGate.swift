import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Logging
import ReplyRules
import UnionServices

/// The console's door for every page but the sign-in: a live session (else to the sign-in page),
/// the account still enabled (its role read afresh, so a change applies at once), the idle
/// expiry pushed back, and on every POST the session's CSRF token in the form (else 403).
struct ConsoleGate: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let staff: StaffDirectory
    let organisation: @Sendable () -> Organisation
    /// Seconds without a request after which a session ends.
    let idle: Int64
    let pages: ConsolePages
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.path = request.uri.path
        guard let session = context.sessions.session, let account = try await account(for: session) else {
            context.sessions.clearSession()
            if request.method == .get {
                let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                let encoded = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                return ConsoleLinks.redirect("/admin/login?next=\(encoded)")
            }
            return pages.message("登录已过期，请重新登录后再操作。", status: .unauthorized, context: nil)
        }
        let principal = account.0
        context.principal = principal
        context.csrf = session.csrf
        // A password someone else set (a new account, a reset) is changed before anything else.
        if account.mustChangePassword, request.uri.path != "/admin/password", request.uri.path != "/admin/logout" {
            if request.method == .get { return ConsoleLinks.redirect("/admin/password") }
            return pages.message("请先修改初始密码。", status: .forbidden, context: context)
        }
        // Sliding expiry: pushed back at most once a minute, not written on every request.
        context.sessions.withLockedSession { data in
            if let remaining = data?.expiresIn, remaining < .seconds(idle - 60) {
                data?.expiresIn = .seconds(idle)
            }
        }
        var request = request
        if request.method == .post {
            let token: String?
            if MultipartForm.isMultipart(request) {
                do {
                    token = try await MultipartForm.read(&request, limit: ConsoleRoutes.uploadLimit).value("_csrf")
                } catch let refusal as MultipartForm.Refusal {
                    return pages.message(refusal.message, status: refusal.status, context: context)
                }
            } else {
                _ = try await request.collectBody(upTo: ConsoleRoutes.formLimit)
                token = try? await request.decode(as: CSRFField.self, context: context).token
            }
            guard let token, MemberAccess.constantTimeEqual(token, session.csrf) else {
                logger.warning(
                    "console: form without its CSRF token refused",
                    metadata: [
                        "account": "\(principal.name)", "path": "\(RefusalLog.clean(request.uri.path, limit: 120))",
                    ])
                return pages.message("这个表单来源不明或已过期，没有执行。请刷新页面后再试。", status: .forbidden, context: context)
            }
        }
        if let flash = request.cookies["ug_flash"]?.value, !flash.isEmpty {
            context.flash = flash.removingPercentEncoding
        }
        var response = try await next(request, context)
        if context.flash != nil, request.method == .get {
            response.headers[values: .setCookie].append(
                Cookie(name: "ug_flash", value: "", maxAge: 0, path: "/admin", httpOnly: true).description)
        }
        return response
    }

    /// Who the session is now, and whether their password must be changed first: nil when the
    /// account is gone or disabled.
    private func account(for session: ConsoleSession) async throws -> (Principal, mustChangePassword: Bool)? {
        if session.account == "root" { return (.root, false) }
        guard let member = try await staff.member(named: session.account), !member.disabled else { return nil }
        return (.staff(member, in: organisation()), member.mustChangePassword)
    }
}

/// The token every console form carries (`_csrf`).
struct CSRFField: Decodable {
    let token: String
    enum CodingKeys: String, CodingKey { case token = "_csrf" }
}
