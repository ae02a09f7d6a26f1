import Foundation
import HTTPTypes
import Hummingbird
import Logging
import UnionServices
import WeChatAPI

/// The member pages' door: a live member session (else the way in: WeChat's web authorisation,
/// or a page saying how to get a personal link), its idle expiry pushed back, and on every POST
/// the session's CSRF token in the form (else 403).
struct MemberDoor: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let shared: MemberShared

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        guard let (key, session, expiresAt) = try await shared.session(of: request) else {
            if request.method == .get || request.method == .head { return try await signIn(request) }
            return shared.pages.message(
                "页面停留太久，登录已过期，没有办理。请回到会员中心重新进入后再提交。", status: .unauthorized, context: nil,
                action: ("/m/", "重新进入会员中心"))
        }
        context.member = session
        let now = shared.clock()
        // Sliding expiry: written again at most once a minute.
        if expiresAt - now < shared.idle - 60 {
            let json = String(decoding: try JSONEncoder().encode(session), as: UTF8.self)
            try await shared.sessions.put(key, value: json, expiresAt: now + shared.idle)
        }
        var request = request
        if request.method == .post {
            let token: String?
            if MultipartForm.isMultipart(request) {
                do {
                    token = try await MultipartForm.read(&request, limit: MemberShared.uploadLimit).value("_csrf")
                } catch let refusal as MultipartForm.Refusal {
                    return shared.pages.message(
                        refusal.message, status: refusal.status, context: context, action: ("/m/", "回到会员中心"))
                }
            } else {
                _ = try await request.collectBody(upTo: MemberShared.formLimit)
                token = try? await request.decode(as: CSRFField.self, context: context).token
            }
            guard let token, MemberAccess.constantTimeEqual(token, session.csrf) else {
                shared.logger.warning(
                    "member page: form without its CSRF token refused",
                    metadata: ["path": "\(RefusalLog.clean(request.uri.path, limit: 120))"])
                return shared.pages.message(
                    "这个表单来源不明或已过期，没有办理。请返回后刷新页面再试。", status: .forbidden, context: context,
                    action: ("/m/", "回到会员中心"))
            }
        }
        return try await next(request, context)
    }

    /// The way in for a browser without a session.
    private func signIn(_ request: Request) async throws -> Response {
        let next = MemberShared.safeNext(request.uri.path + (request.uri.query.map { "?" + $0 } ?? ""))
        guard shared.signIn == .oauth, let publicURL = shared.publicURL, let appId = shared.appId else {
            return shared.pages.message(
                "请回到公众号对话框，回复「会员中心」，点击收到的链接进入（链接 10 分钟内有效，只能本人使用一次）。", status: .unauthorized,
                context: nil, title: "进入会员中心")
        }
        let nonce = String(ConsoleSession.newToken().prefix(32))
        let state = shared.access.state(nonce: nonce, at: shared.clock())
        let redirect = publicURL.trimmingSlash() + "/m/oauth?next=" + ConsoleLinks.encoded(next)
        // WeChat wants its parameters in this order, and `#wechat_redirect` at the end.
        let location =
            shared.authorizeBaseURL.trimmingSlash() + "/connect/oauth2/authorize?appid=" + ConsoleLinks.encoded(appId)
            + "&redirect_uri=" + ConsoleLinks.encoded(redirect) + "&response_type=code&scope=snsapi_base&state="
            + state + "#wechat_redirect"
        var response = Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
        response.headers[values: .setCookie].append(
            shared.cookie(MemberShared.nonceCookie, nonce, maxAge: Int(MemberAccess.stateLifetime)))
        return response
    }
}

/// The ways in: WeChat's web authorisation coming back with its code, a personal link, and out.
struct MemberSignInRoutes: Sendable {
    let shared: MemberShared

    func register(on members: RouterGroup<GatewayRequestContext>) {
        members.get("oauth", use: oauth)
        members.get("in/:token", use: link)
    }

    private var again: (href: String, label: String) { ("/m/", "重新进入会员中心") }

    /// WeChat's redirect back: the `state` checked against the browser's cookie, the `code`
    /// exchanged server-side for the openid.
    @Sendable func oauth(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let pages = shared.pages
        guard shared.signIn == .oauth, let wechat = shared.wechat else { throw HTTPError(.notFound) }
        let query = request.uri.queryParameters
        let next = MemberShared.safeNext(query.get("next"))
        // Already signed in: WeChat calling the redirect a second time, or a link made to sign
        // this browser in as someone else (its code is not used).
        if try await shared.session(of: request) != nil {
            return Response(status: .seeOther, headers: [.location: next])
        }
        guard let code = query.get("code"), !code.isEmpty, code.count <= 512 else {
            // The member declined, or the address was cut short.
            return pages.message(
                "没有取得微信授权，无法进入会员中心。请回到公众号重新打开。", status: .badRequest, context: nil, action: again)
        }
        let nonce = request.cookies[MemberShared.nonceCookie]?.value
        guard shared.access.acceptsState(query.get("state") ?? "", nonce: nonce, at: shared.clock()) else {
            shared.logger.notice("member pages: web authorisation with a forged or expired state refused")
            return pages.message(
                "这个授权链接已过期或不是从本页面发起的。请回到公众号重新打开会员中心。", status: .badRequest, context: nil, action: again)
        }
        let authorisation: WeChatAPIClient.WebAuthorisation
        do {
            authorisation = try await wechat.webAuthorisation(code: code)
        } catch let error as WeChatAPIError where error.code == 40163 || error.code == 40029 {
            shared.logger.notice(
                "member pages: web authorisation code refused by WeChat", metadata: ["code": "\(error.code)"])
            return pages.message(
                error.code == 40163 ? "这个授权已经用过了。请回到公众号重新打开会员中心。" : "微信授权已失效。请回到公众号重新打开会员中心。",
                status: .badRequest, context: nil, action: again)
        } catch let error as WeChatAPIError {
            shared.logger.error(
                "member pages: web authorisation failed", metadata: ["error": "\(error)"])
            return pages.message(
                error.transport ? "微信暂时无法确认您的身份，请稍后再试。" : "微信授权没有成功（错误码 \(error.code)），请稍后重新打开会员中心。",
                status: error.transport ? .serviceUnavailable : .badGateway, context: nil, action: again)
        }
        if authorisation.snapshot {
            return pages.message(
                "请在微信中打开会员中心（当前是快照页，无法确认身份）。", status: .forbidden, context: nil, title: "进入会员中心")
        }
        return try await shared.startSession(for: authorisation.openid, next: next, replacing: request)
    }

    /// A personal link from the chat: the first opening within ten minutes signs its member in.
    @Sendable func link(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let token = context.parameters.get("token") ?? ""
        let ask = "请回到公众号对话框，回复「会员中心」获取新的链接。"
        // A link to one page (an application's) goes there once signed in.
        let next = MemberShared.safeNext(request.uri.queryParameters.get("next"))
        switch try await shared.access.redeem(token, at: shared.clock()) {
        case .member(let openid):
            return try await shared.startSession(for: openid, next: next, replacing: request)
        case .used(let openid):
            // The member opening their own link again, while signed in by it, goes on.
            if let current = try await shared.session(of: request), current.session.openid == openid {
                return Response(status: .seeOther, headers: [.location: next])
            }
            return shared.pages.message(
                "这个链接已经用过了（每个链接只能本人打开一次，转发给别人无效）。" + ask, status: .gone, context: nil,
                title: "链接已失效")
        case .expired:
            return shared.pages.message(
                "这个链接已过期（10 分钟内有效）。" + ask, status: .gone, context: nil, title: "链接已失效")
        case .unknown:
            return shared.pages.message("这个链接无效。" + ask, status: .notFound, context: nil, title: "链接无效")
        }
    }
}
