import Foundation
import Hummingbird
import Logging
import ReplyRules
import UnionServices
import WeChatWire

/// The gateway's parts, assembled once and shared by the routes.
public struct Gateway: Sendable {
    /// The configuration it was built from.
    public let configuration: GatewayConfiguration
    /// The store.
    public let store: UnionStore
    /// The rules in force.
    public let rules: LiveRules
    /// The resolved tokens.
    public let secrets: GatewaySecrets
    /// The metrics.
    public let metrics: GatewayMetrics
    let codec: WebhookCodec
    let ledger: DeliveryLedger
    let logger: Logger

    /// Assembles a gateway.
    ///
    /// - Parameters:
    ///   - handler: what answers messages; by default a ``Dispatcher`` over `rules` and the built-in services.
    ///   - lateDelivery: what sends replies after the passive reply.
    ///   - clock: the current Unix time.
    /// - Throws: when the AES key is invalid or the AppID is missing for it.
    public init(
        configuration: GatewayConfiguration, store: UnionStore, rules: LiveRules, secrets: GatewaySecrets,
        handler: any MessageHandler, lateDelivery: any LateDelivery, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = UnixTime.now
    ) throws {
        self.configuration = configuration
        self.store = store
        self.rules = rules
        self.secrets = secrets
        self.logger = logger
        self.metrics = GatewayMetrics()
        var cipher: MessageCipher?
        if let key = configuration.encodingAESKey, !key.isEmpty {
            guard let appId = configuration.appId, !appId.isEmpty else {
                throw ConfigurationError(
                    "WECHAT_ENCODING_AES_KEY is set but WECHAT_APP_ID is not: encrypted modes need both")
            }
            do {
                cipher = try MessageCipher(encodingAESKey: key, appId: appId)
            } catch {
                throw ConfigurationError("WECHAT_ENCODING_AES_KEY is not usable: \(error)")
            }
        }
        self.codec = WebhookCodec(
            token: secrets.wechatToken, cipher: cipher,
            reader: XMLReader(limits: .init(maxBytes: configuration.bodyLimit)))
        self.ledger = DeliveryLedger(
            handler: handler, lateDelivery: lateDelivery, metrics: metrics, deadline: configuration.replyDeadline,
            window: configuration.duplicateWindow, capacity: configuration.duplicateCapacity, logger: logger)
        self.clock = clock
    }

    let clock: @Sendable () -> Int64

    /// The webhook's responder, shared by its route and its fast lane.
    var webhook: WebhookResponder {
        WebhookResponder(
            codec: codec, ledger: ledger, metrics: metrics, bodyLimit: configuration.bodyLimit, clock: clock,
            logger: logger)
    }

    /// The routes: the webhook, health and metrics.
    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let webhook = self.webhook
        router.get("/wechat") { request, _ in webhook.verify(request) }
        router.post("/wechat") { request, _ in await webhook.receive(request) }
        router.get("/healthz") { _, _ in WebhookResponder.text("ok") }
        let rules = self.rules
        router.get("/hotline") { _, _ in
            let book = rules.engine.book
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(
                    byteBuffer: ByteBuffer(string: HotlinePage.html(book.hotline, unionName: book.settings.unionName))))
        }
        AdminRoutes(
            adminToken: secrets.adminToken, registry: MembershipRegistry(store: store),
            suggestions: SuggestionBox(store: store),
            submissions: FormSubmissions(store: store), store: store, rules: rules, clock: clock
        ).register(on: router)
        let metrics = self.metrics
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        return router
    }

    /// The application: the routes plus the Replies watcher.
    ///
    /// - Parameter outbox: the outbox worker to run beside the server, when WeChat's API is configured.
    public func buildApplication(
        outbox: OutboxWorker? = nil, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var services: [any Service] = [
            RulesWatcher(rules: rules, interval: configuration.reloadInterval, metrics: metrics)
        ]
        if let outbox { services.append(OutboxService(worker: outbox)) }
        let webhook = self.webhook
        let serverName = "UnionGate"
        return Application(
            router: buildRouter(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [WebhookFastLane(responder: webhook, serverName: serverName)])),
            configuration: .init(
                address: .hostname(configuration.hostname, port: configuration.port), serverName: serverName),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// A configuration problem that stops the gateway from starting.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// What to fix.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs the outbox worker for as long as the server runs.
struct OutboxService: Service {
    let worker: OutboxWorker

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await worker.run()
        }
    }
}

import ServiceLifecycle
