import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import NIOCore
import UnionServices

/// The request context of every route: Hummingbird's basics, with JSON written the way the
/// admin API's contract has it (sorted keys, slashes unescaped).
struct GatewayRequestContext: RequestContext, SessionRequestContext {
    var coreContext: CoreRequestContextStorage
    /// Who the admin API acts for, once its door has let them in.
    var principal: Principal?
    /// The web console's session, when the request carries one.
    let sessions = SessionContext<ConsoleSession>()
    /// The console session's token for forms, once the console's door has let them in.
    var csrf: String?
    /// The line the previous console action left to show.
    var flash: String?
    /// The request's path, for the console's navigation.
    var path: String = ""
    /// The member signed in to the member pages (`/m/`), once their door has let them in.
    var member: MemberSession?
    /// The client's address as a trusted proxy gave it (``ClientAddressMiddleware``); nil when
    /// the peer is the client.
    var forwardedClient: String?
    /// The connection the request came on, for its peer's address.
    private let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The client's IP address (without its port), or `unknown`: the peer's, or behind a
    /// trusted proxy the address the proxy forwarded (``TrustedProxies``).
    var clientAddress: String {
        forwardedClient ?? peerAddress
    }

    /// The address of the connection's other end (behind a proxy, the proxy).
    var peerAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    var responseEncoder: JSONEncoder { AdminRecords.encoder }

    /// Forms (`application/x-www-form-urlencoded`, the console's) and JSON (the admin API's).
    var requestDecoder: GatewayRequestDecoder { GatewayRequestDecoder() }
}

/// Takes the client's address from `X-Forwarded-For` or `X-Real-IP` when the request comes
/// from a trusted proxy. Installed only when proxies are configured.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let peer = context.peerAddress
        if proxies.trusts(peer) {
            let client = proxies.client(
                peer: peer, forwardedFor: request.headers[values: .xForwardedFor],
                realIP: request.headers[.xRealIP])
            if client != peer { context.forwardedClient = client }
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xRealIP = HTTPField.Name("X-Real-IP")!
}

/// Decodes a request's body by its content type: an HTML form, or else JSON.
struct GatewayRequestDecoder: RequestDecoder {
    func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        if let contentType = request.headers[.contentType],
            contentType.lowercased().hasPrefix("application/x-www-form-urlencoded")
        {
            return try await URLEncodedFormDecoder().decode(type, from: request, context: context)
        }
        return try await JSONDecoder().decode(type, from: request, context: context)
    }
}
