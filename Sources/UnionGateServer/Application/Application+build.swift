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
///   - announce: where the start-up notices go (standard output by default): generated tokens, and
///     where the web console is and how root signs in.
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
    if let file = gateway.dataKeyFileMade {
        announce(
            "A data key was made at \(file): it seals members' identity numbers. Back it up apart from the "
                + "database, and give every instance the same key (the file, or UNIONGATE_DATA_KEY); without it the "
                + "numbers cannot be read.")
    }
    announce(
        GatewaySecrets.consoleNotice(
            consoleURL: (configuration.publicURL ?? "http://\(configuration.hostname):\(configuration.port)")
                + "/admin/"))
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
    // Personal links point at the public address, or at the address served on (a local trial).
    options.memberPages = UnionServiceDesk.MemberPages(
        signIn: configuration.memberSignIn,
        baseURL: configuration.publicURL
            ?? (configuration.port == 0 ? nil : "http://\(configuration.hostname):\(configuration.port)"))
    let core = try await UnionCore.open(
        databasePath: configuration.databasePath, rules: rules, options: options, logger: logger)
    do {
        let store = core.store
        let coded = try await MembershipRegistry(store: store).assignUnitCodes(rules.engine.book.join.organisation)
        if coded > 0 { logger.info("gave earlier applications their unit's code", metadata: ["count": "\(coded)"]) }
        let secrets = try await GatewaySecrets.resolve(
            wechatToken: configuration.wechatToken, adminToken: configuration.adminToken, store: store)
        let dataKey: (key: DataKey, madeFile: String?)
        do {
            dataKey = try await DataKey.resolve(
                configured: configuration.dataKey, file: configuration.dataKeyFile, for: store)
        } catch let error as DataKeyError {
            throw ConfigurationError(error.message)
        }
        let wechat = WeChatParts(
            configuration: configuration, store: store, held: core.held, overrides: overrides,
            book: { rules.engine.book }, logger: logger)
        let metrics = GatewayMetrics()
        // One directory of staff accounts and one memory of failed sign-ins, for the admin API
        // and the console alike.
        let staff = StaffDirectory(store: store)
        let lateDelivery =
            overrides.lateDelivery ?? OutboxLateDelivery(store: store, worker: wechat.outbox, logger: logger)
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
            outbox: wechat.outbox, wechat: wechat.client, media: wechat.media, mediaDirectory: wechat.mediaDirectory,
            lateDelivery: lateDelivery, unixTime: overrides.unixTime, pages: try PageLibrary.load(), staff: staff,
            adminAuth: AdminAuthMiddleware(
                secrets: secrets, staff: staff, organisation: { rules.engine.book.join.organisation },
                attempts: AdminAttempts(unixTime: overrides.unixTime), logger: logger,
                pause: overrides.adminPause ?? { try? await Task.sleep(for: $0) }),
            dataKey: dataKey.key, dataKeyFileMade: dataKey.madeFile, logger: logger)
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
    services.append(
        SessionPurger(
            sessions: ConsoleSessions(store: gateway.store), access: gateway.core.services.memberAccess,
            cards: MemberCards(store: gateway.store), unixTime: gateway.unixTime, logger: gateway.logger))
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
            desk: gateway.core.services, rules: gateway.rules, unixTime: gateway.unixTime, logger: gateway.logger,
            escalations: { [metrics = gateway.metrics] in metrics.aidEscalations($0) }))
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
