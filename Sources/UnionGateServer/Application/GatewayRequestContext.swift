import Foundation
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
    /// The connection the request came on, for its peer's address.
    private let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The peer's IP address (without its port), or `unknown`. Behind a reverse proxy this is
    /// the proxy's address.
    var clientAddress: String {
        channel.remoteAddress?.ipAddress ?? "unknown"
    }

    var responseEncoder: JSONEncoder { AdminRecords.encoder }

    /// Forms (`application/x-www-form-urlencoded`, the console's) and JSON (the admin API's).
    var requestDecoder: GatewayRequestDecoder { GatewayRequestDecoder() }
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
