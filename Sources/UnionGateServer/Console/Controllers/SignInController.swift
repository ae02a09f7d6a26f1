import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import UnionServices

/// Signing in and out, and changing one's own password.
///
/// Signing in: a staff account's name and password, or `root` with `UNIONGATE_ADMIN_TOKEN`. The
/// session cookie is `HttpOnly`, `SameSite=Strict`, `Secure` when the public URL is https, and
/// expires after `idle` seconds without a request. Failed sign-ins are slowed, then refused for a
/// while, per client address, and each is audited.
struct SignInController: ConsoleController {
    let shared: ConsoleShared

    /// The sign-in form's own token cookie (before there is a session).
    static let loginCookieName = "ug_login"

    struct LoginView: Encodable {
        let loginToken: String
        let next: String
        let typedAccount: String
    }

    struct LoginForm: Decodable {
        var csrf: String?
        var next: String?
        var account: String?
        var password: String?
        enum CodingKeys: String, CodingKey {
            case csrf = "_csrf"
            case next, account, password
        }
    }

    struct PasswordView: Encodable {
        let isRoot: Bool
    }

    struct PasswordForm: Decodable {
        var current: String?
        var new: String?
        var again: String?
    }

    /// The sign-in routes, outside the console's door.
    func registerSignIn(on console: RouterGroup<GatewayRequestContext>) {
        console.get("login") { request, context in
            if context.sessions.session != nil { return ConsoleLinks.redirect("/admin/") }
            return try loginForm(
                next: ConsoleLinks.safeNext((try ConsoleQuery(request)).next), account: "", error: nil)
        }
        console.post("login", use: signIn)
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.post("logout") { _, context in
            context.sessions.clearSession()
            var response = ConsoleLinks.redirect("/admin/login")
            response.headers[.cacheControl] = "no-store"
            return response
        }
        pages.get("password") { _, context in try passwordForm(context, error: nil, status: .ok) }
        pages.post("password", use: changePassword)
    }

    /// The sign-in form, with a fresh token in its own cookie (a double submit: a page elsewhere
    /// can neither read the cookie nor send it, SameSite=Strict).
    private func loginForm(next: String, account: String, error: String?, status: HTTPResponse.Status = .ok) throws
        -> Response
    {
        let token = ConsoleSession.newToken()
        var response = try pages.render(
            "login", title: "登录", LoginView(loginToken: token, next: next, typedAccount: account), status: status,
            error: error)
        response.headers[values: .setCookie].append(
            Cookie(
                name: Self.loginCookieName, value: token, maxAge: 3600, path: "/admin", secure: shared.secureCookie,
                httpOnly: true, sameSite: .strict
            ).description)
        return response
    }

    @Sendable func signIn(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        _ = try await request.collectBody(upTo: 64 * 1024)
        let form = try await request.decode(as: LoginForm.self, context: context)
        let next = ConsoleLinks.safeNext(form.next)
        let account = (form.account ?? "").trimmingCharacters(in: .whitespaces)
        guard let token = request.cookies[Self.loginCookieName]?.value, !token.isEmpty, form.csrf == token else {
            return try loginForm(next: next, account: account, error: "登录页已过期，请重新输入。", status: .forbidden)
        }
        let address = context.clientAddress
        if case .locked(let retryAfter) = shared.attempts.admission(address) {
            var response = try loginForm(
                next: next, account: account,
                error: "登录失败次数太多，请 \(max(1, (retryAfter + 59) / 60)) 分钟后再试。", status: .tooManyRequests)
            response.headers[.retryAfter] = String(retryAfter)
            return response
        }
        let password = form.password ?? ""
        var signedIn: String?
        if account == "root" {
            if shared.secrets.isAdminToken(password) { signedIn = "root" }
        } else if StaffDirectory.isValidName(account), !password.isEmpty,
            let member = try await staff.member(named: account, password: password)
        {
            signedIn = member.name
        }
        let now = clock()
        guard let signedIn else {
            let penalty = shared.attempts.failed(address)
            try await AuditLog.record(
                Principal(
                    name: account.isEmpty ? "?" : String(account.prefix(32)), role: .viewer, unit: nil,
                    scope: .units([])),
                action: "console.login_failed", record: "console",
                details: ["client": address, "failures": String(penalty.failures)],
                at: now, in: store)
            if penalty.log {
                shared.logger.warning(
                    "console: wrong account or password",
                    metadata: ["client": "\(RefusalLog.clean(address, limit: 64))", "failures": "\(penalty.failures)"])
            }
            if penalty.delay > .zero { await shared.pause(penalty.delay) }
            return try loginForm(next: next, account: account, error: "账号或密码不正确。", status: .unauthorized)
        }
        shared.attempts.succeeded(address)
        context.sessions.createSession(
            ConsoleSession(account: signedIn, csrf: ConsoleSession.newToken(), signedInAt: now),
            expiresIn: .seconds(shared.idle))
        let principal: Principal =
            signedIn == "root"
            ? .root
            : (try await staff.member(named: signedIn)).map { .staff($0, in: organisation) } ?? .root
        try await AuditLog.record(
            principal, action: "console.login", record: "console", details: ["client": address], at: now, in: store)
        var response = ConsoleLinks.redirect(next)
        response.headers[values: .setCookie].append(
            Cookie(name: Self.loginCookieName, value: "", maxAge: 0, path: "/admin", httpOnly: true).description)
        return response
    }

    private func passwordForm(_ context: GatewayRequestContext, error: String?, status: HTTPResponse.Status) throws
        -> Response
    {
        try pages.render(
            "password", title: "修改密码", PasswordView(isRoot: context.principal?.name == "root"), status: status,
            context: context, error: error)
    }

    @Sendable func changePassword(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard actor.name != "root" else {
            return try passwordForm(context, error: "总管理员的密码是服务器的 UNIONGATE_ADMIN_TOKEN，在服务器上修改。", status: .badRequest)
        }
        let form = try await request.decode(as: PasswordForm.self, context: context)
        let new = form.new ?? ""
        guard new == form.again ?? "" else {
            return try passwordForm(context, error: "两次输入的新密码不一样。", status: .badRequest)
        }
        do {
            try await staff.changeOwnPassword(actor.name, current: form.current ?? "", new: new, at: clock())
        } catch let error as AdminActionError {
            return try passwordForm(
                context, error: error.message, status: error.kind == .forbidden ? .forbidden : .badRequest)
        }
        return pages.redirect("/admin/", flash: "密码已修改。")
    }
}
