import Logging
import WeChatAPI
import UnionServices
import WeChatWire

/// The gateway's parts, assembled once by ``buildGateway(configuration:clock:overrides:logger:)``
/// and shared by the routes and the fast lane.
struct Gateway: Sendable {
    /// The configuration it was built from.
    let configuration: GatewayConfiguration
    /// The services, rules and store.
    let core: UnionCore
    /// The resolved tokens.
    let secrets: GatewaySecrets
    /// The metrics.
    let metrics: GatewayMetrics
    /// The webhook's one way through, shared by its route and its fast lane.
    let webhook: WebhookResponder
    /// The connection cap and request-read deadline the fast lanes share.
    let connections: ConnectionLimits
    /// The outbox worker, when WeChat's API is configured.
    let outbox: OutboxWorker?
    /// WeChat's API, when an AppID and AppSecret are configured.
    let wechat: WeChatAPIClient?
    /// Downloads members' media into the inbox, when WeChat's API is configured.
    let media: MediaFetcher?
    /// Where that media is kept.
    let mediaDirectory: String
    /// Where replies that cannot go in the passive reply are sent.
    let lateDelivery: any LateDelivery
    let unixTime: @Sendable () -> Int64
    /// Every HTML page's template, parsed once.
    let pages: PageLibrary
    /// The staff accounts.
    let staff: StaffDirectory
    /// The admin API's token check, with the memory of failed attempts the console shares.
    let adminAuth: AdminAuthMiddleware
    /// The key that seals members' identity data.
    let dataKey: DataKey
    /// The key file this start made, to announce (back it up apart from the database).
    let dataKeyFileMade: String?
    let logger: Logger

    var store: UnionStore { core.store }
    var rules: LiveRules { core.rules }
    var ledger: DeliveryLedger { webhook.ledger }
}

/// What tests replace when building a gateway.
struct GatewayOverrides: Sendable {
    /// Answers messages in place of the dispatcher.
    var handler: (any MessageHandler)?
    /// The services the dispatcher hands to.
    var desk: (@Sendable (UnionStore) -> any ServiceDesk)?
    /// Where late replies go, in place of the outbox.
    var lateDelivery: (any LateDelivery)?
    /// The current Unix time.
    var unixTime: @Sendable () -> Int64 = UnixTime.now
    /// WeChat's API client's options.
    var apiOptions = WeChatAPIClient.Options()
    /// The outbox worker's options.
    var outboxOptions = OutboxWorker.Options()
    /// Holds a failed admin login's answer (a sleep by default).
    var adminPause: (@Sendable (Duration) async -> Void)?
}

/// A configuration problem that stops the gateway from starting.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// What to fix.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
