import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ReplyRules
import ServiceLifecycle
import UnionServices
import WeChatAPI
import WeChatWire

/// Builds the whole gateway from plain values: the store (migrated before the server starts),
/// the rules, the services, the webhook with its fast lane, the admin API and the outbox worker.
/// `uniongate serve` runs what this returns; the tests build through it too.
///
/// - Parameters:
///   - announce: where the start-up notice for generated tokens goes (standard output by default).
///   - onServerRunning: called with the port once the server listens.
/// - Throws: ``ConfigurationError`` for a configuration that cannot work, ``RuleProblems`` when
///   the Replies folder has errors, and store errors.
public func buildApplication(
    configuration: GatewayConfiguration, logger: Logger,
    announce: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) },
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let gateway = try await buildGateway(
        configuration: configuration, clock: ContinuousClock(), overrides: GatewayOverrides(), logger: logger)
    if let notice = gateway.secrets.startupNotice(publicURL: configuration.publicURL) {
        announce(notice)
    }
    logger.info(
        "UnionGate starting",
        metadata: [
            "address": "\(configuration.hostname):\(configuration.port)",
            "replies": "\(configuration.repliesDirectory)", "database": "\(gateway.core.store.path)",
            "rules": "\(gateway.rules.engine.book.rules.count)",
            "encryption": "\(configuration.encodingAESKey == nil ? "plain only" : "plain, compatible and safe")",
        ])
    return buildApplication(gateway, onServerRunning: onServerRunning)
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

/// Assembles the gateway's parts; the store is open and migrated when it returns.
func buildGateway<C: Clock>(
    configuration: GatewayConfiguration, clock: C, overrides: GatewayOverrides, logger: Logger
) async throws -> Gateway where C.Duration == Duration {
    try configuration.validate()
    let cipher = try configuration.messageCipher()
    let rules = try LiveRules(directory: configuration.repliesDirectory, logger: logger)
    var options = UnionCore.Options()
    options.publicURL = configuration.publicURL
    options.desk = overrides.desk
    options.unixTime = overrides.unixTime
    options.journalPath = configuration.journalPath
    let core = try await UnionCore.open(
        databasePath: configuration.databasePath, rules: rules, options: options, logger: logger)
    do {
        let store = core.store
        let coded = try await MembershipRegistry(store: store).assignUnitCodes(rules.engine.book.join.organisation)
        if coded > 0 { logger.info("gave earlier applications their unit's code", metadata: ["count": "\(coded)"]) }
        let secrets = try await GatewaySecrets.resolve(
            wechatToken: configuration.wechatToken, adminToken: configuration.adminToken, store: store)
        // Late replies and notices always go to the outbox; it is sent when WeChat's API is configured.
        var outbox: OutboxWorker?
        var media: MediaFetcher?
        var wechatClient: WeChatAPIClient?
        let mediaDirectory =
            configuration.mediaDirectory
            ?? (store.location.localFolder.map { URL(fileURLWithPath: $0).appendingPathComponent("media").path }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("uniongate-media-\(UUID().uuidString)")
                .path)
        if let appId = configuration.appId, let secret = configuration.appSecret {
            var apiOptions = overrides.apiOptions
            apiOptions.allowsHTTP = configuration.apiAllowsHTTP
            let client = WeChatAPIClient(
                baseURL: configuration.apiBaseURL, appId: appId, secret: secret, cache: StoreTokenCache(store: store),
                options: apiOptions, logger: logger)
            wechatClient = client
            outbox = OutboxWorker(
                store: store, sender: client, held: core.held, options: overrides.outboxOptions, logger: logger,
                book: { rules.engine.book })
            media = MediaFetcher(store: store, source: client, directory: mediaDirectory, logger: logger)
        } else {
            logger.warning(
                "WECHAT_APP_ID or WECHAT_APP_SECRET is not set: late replies and notices wait in the outbox unsent")
        }
        let metrics = GatewayMetrics()
        let lateDelivery = overrides.lateDelivery ?? OutboxLateDelivery(store: store, worker: outbox, logger: logger)
        let ledger = DeliveryLedger(
            handler: overrides.handler ?? core.dispatcher,
            lateDelivery: lateDelivery,
            metrics: metrics, deadline: configuration.replyDeadline, window: configuration.duplicateWindow,
            capacity: configuration.duplicateCapacity, clock: clock, logger: logger)
        let codec = WebhookCodec(
            token: secrets.wechatToken, cipher: cipher,
            reader: XMLReader(limits: .init(maxBytes: configuration.bodyLimit)))
        let webhook = WebhookResponder(
            codec: codec, ledger: ledger, metrics: metrics, bodyLimit: configuration.bodyLimit,
            unixTime: overrides.unixTime, serverName: GatewayConfiguration.serverName, logger: logger,
            replays: configuration.replayWindow > 0
                ? ReplayGuard(window: configuration.replayWindow, unixTime: overrides.unixTime) : nil,
            acceptsPlain: configuration.wireMode != .safe, refusals: RefusalLog(logger: logger))
        return Gateway(
            configuration: configuration, core: core, secrets: secrets, metrics: metrics, webhook: webhook,
            connections: ConnectionLimits(
                maxConnections: configuration.maxConnections, requestReadTimeout: configuration.requestReadTimeout),
            outbox: outbox, wechat: wechatClient, media: media, mediaDirectory: mediaDirectory,
            lateDelivery: lateDelivery,
            unixTime: overrides.unixTime,
            pages: try PageLibrary.load(),
            adminAuth: AdminAuthMiddleware(
                secrets: secrets, staff: StaffDirectory(store: store),
                organisation: { rules.engine.book.join.organisation },
                attempts: AdminAttempts(unixTime: overrides.unixTime), logger: logger,
                pause: overrides.adminPause ?? { try? await Task.sleep(for: $0) }),
            logger: logger)
    } catch {
        await core.store.close()
        throw error
    }
}

/// The application over assembled parts: the routes, the fast lane, and the services beside the
/// server (the store, the Replies watcher and the outbox worker).
func buildApplication(
    _ gateway: Gateway, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let configuration = gateway.configuration
    // The store is first, so that it is shut down last.
    var services: [any Service] = [
        StoreService(store: gateway.store, counts: gateway.core.counts),
        RulesWatcher(
            rules: gateway.rules, interval: configuration.reloadInterval, metrics: gateway.metrics,
            store: gateway.store),
    ]
    if let outbox = gateway.outbox { services.append(OutboxService(worker: outbox)) }
    if let media = gateway.media {
        services.append(
            MediaService(
                fetcher: media, interval: gateway.outbox?.options.interval ?? .seconds(1), unixTime: gateway.unixTime,
                logger: gateway.logger))
    }
    services.append(
        JournalReplayer(
            dispatcher: gateway.core.dispatcher, journal: gateway.core.journal, lateDelivery: gateway.lateDelivery,
            logger: gateway.logger))
    services.append(
        ConversationSweeper(
            desk: gateway.core.services, rules: gateway.rules, unixTime: gateway.unixTime, logger: gateway.logger))
    let webhook = gateway.webhook
    let limits = gateway.connections
    return Application(
        router: buildRouter(gateway),
        server: WebhookHTTP1Channel.builder(
            lane: { WebhookFastLane(responder: webhook, limits: limits) },
            idleTimeout: configuration.idleTimeout),
        configuration: .init(
            address: .hostname(configuration.hostname, port: configuration.port),
            serverName: GatewayConfiguration.serverName),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: gateway.logger)
}

/// The routes: the webhook, health, metrics, the hotline page and the admin API.
func buildRouter(_ gateway: Gateway) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    let webhook = gateway.webhook
    router.get("/wechat") { request, _ in webhook.verify(request) }
    router.post("/wechat") { request, _ in await webhook.receive(request) }
    let health = gateway.store
    let journal = gateway.core.journal
    let rules = gateway.rules
    router.get("/healthz") { _, _ in
        // Not ready while the database cannot write, or messages wait in the journal for it (a
        // small write may get through meanwhile, a member's does not): a load balancer sends
        // members elsewhere. Each instance says which rules it serves (they reload the Replies
        // folder on their own).
        let version = rules.engine.book.version
        var response =
            health.writesFailing || !journal.pending.isEmpty
            ? Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "database not writable")))
            : WebhookResponder.text("ok rules=\(version)")
        response.headers[HTTPField.Name("X-UnionGate-Rules")!] = version
        return response
    }
    let pages = gateway.pages
    router.get("/hotline") { _, _ in
        let book = rules.engine.book
        return try pages.response(HotlinePage(book.hotline, unionName: book.settings.unionName), template: "hotline")
    }
    let store = gateway.store
    AdminRoutes(
        auth: gateway.adminAuth, registry: MembershipRegistry(store: store), mediaDirectory: gateway.mediaDirectory,
        suggestions: SuggestionBox(store: store), submissions: FormSubmissions(store: store), store: store,
        rules: rules, clock: gateway.unixTime, pages: pages
    ).register(on: router)
    let metrics = gateway.metrics
    ConsoleRoutes(
        shared: ConsoleShared(
            store: store, rules: rules, secrets: gateway.secrets, staff: StaffDirectory(store: store),
            attempts: AdminAttempts(unixTime: gateway.unixTime), metrics: metrics, clock: gateway.unixTime,
            pause: gateway.adminAuth.pause,
            secureCookie: gateway.configuration.publicURL?.lowercased().hasPrefix("https://") ?? false,
            idle: gateway.configuration.consoleIdleSeconds, logger: gateway.logger,
            pages: ConsolePages(library: pages, unionName: { rules.engine.book.settings.unionName }),
            wechat: gateway.wechat, publicURL: gateway.configuration.publicURL,
            mediaDirectory: gateway.mediaDirectory)
    ).register(on: router)
    let inbox = Inbox(store: store)
    let unixTime = gateway.unixTime
    router.get("/metrics") { _, _ in
        // Cases past their due time, counted when asked (a gauge of the store, not of this process).
        let overdue = (try? await inbox.overdueCount(at: unixTime())).map {
            "# HELP uniongate_cases_overdue Cases waiting for an answer past their due time.\n"
                + "# TYPE uniongate_cases_overdue gauge\nuniongate_cases_overdue \($0)\n"
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render() + (overdue ?? ""))))
    }
    return router
}

/// Keeps the store open while the server runs, and closes it after everything else has stopped.
/// Meanwhile it looks for writes from outside the process (`uniongate members approve`), so
/// that what the services remember about members is never older than a quarter of a second.
struct StoreService: Service {
    let store: UnionStore
    /// Messages and new followers counted per day, added to the store every few seconds and
    /// once more before it closes.
    var counts: DailyCounts?
    var interval = Duration.milliseconds(250)
    /// The counts are written every this many looks (five seconds).
    var countsEvery = 20
    /// While writes fail, a small write is tried every this many looks (a second), so the
    /// store is known to write again even when no member writes.
    var probeEvery = 4

    func run() async throws {
        let store = self.store
        await cancelWhenGracefulShutdown {
            var looks = 0
            while !Task.isCancelled {
                try? await store.noticeOutsideWrites()
                looks += 1
                if store.writesFailing, looks % probeEvery == 0 {
                    try? await store.probeWrite(at: UnixTime.now())
                }
                if let counts, looks % countsEvery == 0, !store.writesFailing {
                    try? await counts.flush(to: store)
                }
                try? await Task.sleep(for: interval)
            }
        }
        try? await counts?.flush(to: store)
        // Closed in a task of its own, so that a cancelled group (a failed start, say) still closes it.
        await Task { await store.close() }.value
    }
}

/// Replays the messages kept in the journal while the database could not write: every
/// `interval`, when some wait, each is handled in order and its reply sent later.
struct JournalReplayer: Service {
    let dispatcher: Dispatcher
    let journal: InboundJournal
    let lateDelivery: any LateDelivery
    let logger: Logger
    var interval = Duration.seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await replayOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Replays what waits; returns how many were handled.
    @discardableResult
    func replayOnce() async -> Int {
        guard !journal.pending.isEmpty else { return 0 }
        do {
            let handled = try await dispatcher.replayJournal { message, outcome in
                await lateDelivery.deliver(
                    outcome.replies, to: message.header.sender, account: message.header.account, reason: .journal)
            }
            if handled > 0 {
                logger.info(
                    "messages from the journal handled",
                    metadata: ["count": "\(handled)", "left": "\(journal.pending.count)"])
            }
            return handled
        } catch {
            logger.error("the journal could not be rewritten: \(error)")
            return 0
        }
    }
}

/// Sweeps conversations idle past their expiry from the store, every `interval`.
struct ConversationSweeper: Service {
    let desk: UnionServiceDesk
    let rules: LiveRules
    let unixTime: @Sendable () -> Int64
    let logger: Logger
    var interval = Duration.seconds(60)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                do {
                    let swept = try await desk.sweepConversations(book: rules.engine.book, at: unixTime())
                    if swept > 0 { logger.info("idle conversations swept", metadata: ["count": "\(swept)"]) }
                } catch {
                    logger.error("conversations not swept: \(error)")
                }
                // Cases past their due time go up to the parent unit's staff.
                do {
                    let escalated = try await Inbox(store: desk.store).escalateOverdue(
                        organisation: rules.engine.book.join.organisation, at: unixTime())
                    for memberCase in escalated {
                        logger.warning(
                            "overdue case escalated",
                            metadata: ["number": "\(memberCase.number)", "to": "\(memberCase.escalatedTo ?? "")"])
                    }
                } catch {
                    logger.error("overdue cases not escalated: \(error)")
                }
            }
        }
    }
}

/// Downloads members' media into the inbox, every `interval`, for as long as the server runs.
struct MediaService: Service {
    let fetcher: MediaFetcher
    let interval: Duration
    let unixTime: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await fetcher.runOnce(at: unixTime())
                } catch {
                    logger.error("media downloads failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
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
