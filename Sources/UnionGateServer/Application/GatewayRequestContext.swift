import Foundation
import Hummingbird
import NIOCore
import UnionServices

/// The request context of every route: Hummingbird's basics, with JSON written the way the
/// admin API's contract has it (sorted keys, slashes unescaped).
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Who the admin API acts for, once its door has let them in.
    var principal: Principal?
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
}
