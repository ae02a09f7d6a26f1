import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ReplyRules
import UnionServices
import WeChatAPI

/// A member signed in to their pages.
struct MemberSession: Codable, Sendable, Equatable {
    /// The member's openid.
    var openid: String
    /// The token a form must carry to be accepted.
    var csrf: String
    /// When they signed in, Unix seconds.
    var signedInAt: Int64
}

/// What every member page works with.
struct MemberShared: Sendable {
    let store: UnionStore
    let rules: LiveRules
    let desk: UnionServiceDesk
    let access: MemberAccess
    let cards: MemberCards
    let records: MemberRecords
    /// The real-name roster (identity sealed with the data key).
    let registry: RealNameRegistry
    let sessions: ConsoleSessions
    /// WeChat's API, for the web authorisation's code exchange.
    let wechat: WeChatAPIClient?
    let signIn: MemberSignIn
    /// The gateway's public address (the web authorisation's redirect goes back to it).
    let publicURL: String?
    /// WeChat's web authorisation host (`WECHAT_OPEN_BASE_URL`).
    let authorizeBaseURL: String
    let appId: String?
    let secureCookie: Bool
    /// Seconds without a request after which a member's session ends.
    let idle: Int64
    let clock: @Sendable () -> Int64
    let logger: Logger
    let pages: MemberPageRenderer
    /// Where members' media and form photos are kept.
    let mediaDirectory: String

    /// The member's session cookie (path `/m`).
    static let cookieName = "ug_member"
    /// The cookie that ties a web authorisation's `state` to the browser that asked for it.
    static let nonceCookie = "ug_oauth"
    /// Sessions are kept among the console's under this prefix (a console key never finds one).
    static let keyPrefix = "m:"
    /// The largest form accepted.
    static let formLimit = 256 * 1024
    /// The largest upload accepted: six photos of up to 5 MB each, and the form around them.
    static let uploadLimit = 6 * 5 * 1024 * 1024 + 256 * 1024

    var book: RuleBook { rules.engine.book }

    /// A time in the union's local time: `2026-11-23 14:05`.
    func local(_ unixSeconds: Int64) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        return String(format: "%04d-%02d-%02d %02d:%02d", time.year, time.month, time.day, time.hour, time.minute)
    }

    /// A date in the union's local time: `2026-11-23`.
    func day(_ unixSeconds: Int64) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        return String(format: "%04d-%02d-%02d", time.year, time.month, time.day)
    }

    /// A cookie of the member pages: `HttpOnly`, `SameSite=Lax` (the redirect back from WeChat
    /// carries it), `Secure` under https.
    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> String {
        Cookie(
            name: name, value: value, maxAge: maxAge, path: "/m", secure: secureCookie, httpOnly: true, sameSite: .lax
        ).description
    }

    /// The session a request's cookie names, if it is live.
    func session(of request: Request) async throws -> (key: String, session: MemberSession, expiresAt: Int64)? {
        guard let value = request.cookies[Self.cookieName]?.value, value.count == 64, value.allSatisfy(\.isHexDigit)
        else { return nil }
        let key = Self.keyPrefix + value
        guard let entry = try await sessions.get(key, at: clock()),
            let session = try? JSONDecoder().decode(MemberSession.self, from: Data(entry.value.utf8))
        else { return nil }
        return (key, session, entry.expiresAt)
    }

    /// Starts a session for `openid` (a new key every time) and sends the browser to `next`.
    func startSession(for openid: String, next: String, replacing request: Request) async throws -> Response {
        if let old = try await session(of: request) { try await sessions.remove(old.key) }
        let value = ConsoleSession.newToken()
        let now = clock()
        let session = MemberSession(openid: openid, csrf: ConsoleSession.newToken(), signedInAt: now)
        let json = String(decoding: try JSONEncoder().encode(session), as: UTF8.self)
        try await sessions.put(Self.keyPrefix + value, value: json, expiresAt: now + idle)
        var response = Response(status: .seeOther, headers: [.location: next, .cacheControl: "no-store"])
        response.headers[values: .setCookie].append(cookie(Self.cookieName, value))
        response.headers[values: .setCookie].append(cookie(Self.nonceCookie, "", maxAge: 0))
        logger.info("member signed in to the member pages", metadata: ["member": "\(PersonalData.maskOpenID(openid))"])
        return response
    }

    /// A `next` that stays in the member pages.
    static func safeNext(_ next: String?) -> String {
        guard let next, next == "/m" || next.hasPrefix("/m/"), !next.contains("//"), !next.contains("\\"),
            !next.hasPrefix("/m/in/"), !next.hasPrefix("/m/oauth")
        else { return "/m/" }
        return next
    }
}

/// One part of the member pages: its routes, behind the members' door.
protocol MemberController: Sendable {
    var shared: MemberShared { get }
    func register(on pages: RouterGroup<GatewayRequestContext>)
}

extension MemberController {
    var pages: MemberPageRenderer { shared.pages }
    var book: RuleBook { shared.book }

    /// The signed-in member (the door lets no one else through).
    func member(_ context: GatewayRequestContext) throws -> MemberSession {
        guard let member = context.member else { throw HTTPError(.unauthorized) }
        return member
    }
}
