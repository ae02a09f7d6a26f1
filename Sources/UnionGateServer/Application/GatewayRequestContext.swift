import Foundation
import Hummingbird
import UnionServices

/// The request context of every route: Hummingbird's basics, with JSON written the way the
/// admin API's contract has it (sorted keys, slashes unescaped).
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    var responseEncoder: JSONEncoder { AdminRecords.encoder }
}
