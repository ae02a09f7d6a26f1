import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ReplyRules
import Synchronization
import Testing
import UnionServices
import WeChatAPI
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

let testToken = "unionTestToken"
let testKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
let testAppId = "wxUnionTest"
/// An admin token of the length the gateway requires (32 characters or more).
let testAdminToken = "admin-token-for-tests-0123456789abcdef"

/// Records what the gateway hands to late delivery, and lets a test wait for it.
final class RecordingLateDelivery: LateDelivery {
    struct Delivery: Sendable {
        let bodies: [ReplyBody]
        let recipient: String
        let reason: LateReason
    }

    private let stream: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream()
    }

    func deliver(_ bodies: [ReplyBody], to recipient: String, account: String, reason: LateReason) async {
        continuation.yield(Delivery(bodies: bodies, recipient: recipient, reason: reason))
    }

    /// The next delivery, or nil if none comes within `timeout`.
    func next(timeout: Duration = .seconds(10)) async -> Delivery? {
        let stream = self.stream
        return await withTaskGroup(of: Delivery?.self) { group in
            group.addTask {
                var iterator = stream.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// A gate a test opens when it is ready.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}

/// A handler that counts its calls, reports that it started, and finishes when the test opens its gate.
final class GatedHandler: MessageHandler {
    let gate = Gate()
    let calls = Mutex(0)
    let started: AsyncStream<Void>
    private let startedContinuation: AsyncStream<Void>.Continuation
    let replies: [ReplyBody]

    init(replies: [ReplyBody]) {
        self.replies = replies
        (started, startedContinuation) = AsyncStream.makeStream()
    }

    func handle(_ message: InboundMessage) async -> HandlerOutcome {
        calls.withLock { $0 += 1 }
        startedContinuation.yield()
        await gate.wait()
        return HandlerOutcome(replies: replies, ruleName: "gated")
    }

    var callCount: Int { calls.withLock { $0 } }
}

/// Talks to a live gateway over HTTP, playing WeChat.
struct WeChatClient: Sendable {
    let port: Int
    /// The clock the gateway reads: requests are signed with its time, so they are fresh.
    var clock: @Sendable () -> Int64 = UnixTime.now
    let wechat = SimulatedWeChat(
        token: testToken, cipher: try! MessageCipher(encodingAESKey: testKey, appId: testAppId))
    let session = URLSession(configuration: .ephemeral)

    struct HTTPResult: Sendable {
        let status: Int
        let body: String
        let contentType: String?
        /// The response's headers, by lower-cased name.
        var headers: [String: String] = [:]
    }

    func request(
        _ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil,
        headers: [String: String] = [:]
    )
        async throws -> HTTPResult
    {
        var components = URLComponents()
        components.scheme = "http"
        components.host = "127.0.0.1"
        components.port = port
        components.path = path
        if !query.isEmpty {
            components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        request.httpBody = body
        // Longer than any test's reply deadline (the two-instance tests wait up to 90 s), so a
        // slow answer is the gateway's to give, not the client's to abandon.
        request.timeoutInterval = 100
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for case (let name as String, let value as String) in http.allHeaderFields {
            headers[name.lowercased()] = value
        }
        return HTTPResult(
            status: http.statusCode, body: String(decoding: data, as: UTF8.self),
            contentType: http.value(forHTTPHeaderField: "Content-Type"), headers: headers)
    }

    /// `message` in `mode`, signed like WeChat with the gateway's time and a fresh nonce
    /// (or `nonce`).
    func signed(_ message: InboundMessage, mode: WireMode, nonce: String? = nil) throws -> SimulatedWeChat.Request {
        try wechat.request(
            for: message, mode: mode, timestamp: String(clock()),
            nonce: nonce ?? String(UInt64.random(in: 1...UInt64.max)))
    }

    /// Posts `message` in `mode`, signed like WeChat, and returns the raw response.
    func post(_ message: InboundMessage, mode: WireMode, nonce: String? = nil) async throws -> HTTPResult {
        let signed = try signed(message, mode: mode, nonce: nonce)
        return try await request("POST", "/wechat", query: signed.query.parameters, body: Data(signed.body.utf8))
    }

    /// Posts `message` and opens the reply (nil for `success`). Expects 200.
    func send(_ message: InboundMessage, mode: WireMode = .plain) async throws -> ReplyMessage? {
        let result = try await post(message, mode: mode)
        #expect(result.status == 200, "status \(result.status): \(result.body)")
        return try wechat.openReply(result.body)
    }

    /// The reply's visible text.
    func replyText(_ message: InboundMessage, mode: WireMode = .plain) async throws -> String? {
        try await send(message, mode: mode).map { visibleText(of: [$0.body]) }
    }
}

/// Builds messages with fresh ids.
final class Member: Sendable {
    let openid: String
    private let counter = Mutex<UInt64>(UInt64.random(in: 1...1_000_000_000))

    init(_ openid: String = "oMember\(UInt32.random(in: 0...UInt32.max))") {
        self.openid = openid
    }

    private func nextId() -> UInt64 {
        counter.withLock {
            $0 += 1; return $0
        }
    }

    func text(_ content: String) -> InboundMessage {
        InboundMessage(
            header: MessageHeader(account: "gh_union", sender: openid, createTime: 1_700_000_000, msgId: nextId()),
            kind: .text(TextMessage(content: content)))
    }

    func event(_ event: InboundEvent, at time: Int64 = 1_700_000_000) -> InboundMessage {
        InboundMessage(
            header: MessageHeader(account: "gh_union", sender: openid, createTime: time), kind: .event(event))
    }
}

/// Starts a gateway on a free port, runs `body` against it, and shuts it down.
func withGateway(
    replies: String = shippedReplies,
    handler: (any MessageHandler)? = nil,
    services: (@Sendable (UnionStore) -> any ServiceDesk)? = nil,
    lateDelivery: RecordingLateDelivery = RecordingLateDelivery(),
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    clock: @escaping @Sendable () -> Int64 = UnixTime.now,
    wechatAPI: String? = nil,
    adminPause: (@Sendable (Duration) async -> Void)? = nil,
    logs: LogCapture? = nil,
    _ body: @Sendable (WeChatClient, Gateway) async throws -> Void
) async throws {
    try await withGateway(
        replies: replies, handler: handler, services: services, lateDelivery: lateDelivery, configure: configure,
        unixTime: clock, ledgerClock: ContinuousClock(), wechatAPI: wechatAPI, adminPause: adminPause, logs: logs,
        body)
}

/// Starts a gateway whose ledger reads `ledgerClock`, built through the composition root.
func withGateway<C: Clock>(
    replies: String = shippedReplies,
    handler: (any MessageHandler)? = nil,
    services: (@Sendable (UnionStore) -> any ServiceDesk)? = nil,
    lateDelivery: RecordingLateDelivery = RecordingLateDelivery(),
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    unixTime: @escaping @Sendable () -> Int64 = UnixTime.now,
    ledgerClock: C,
    wechatAPI: String? = nil,
    adminPause: (@Sendable (Duration) async -> Void)? = nil,
    logs: LogCapture? = nil,
    _ body: @Sendable (WeChatClient, Gateway) async throws -> Void
) async throws where C.Duration == Duration {
    let gateway = try await buildTestGateway(
        replies: replies, handler: handler, services: services, lateDelivery: lateDelivery, configure: configure,
        unixTime: unixTime, ledgerClock: ledgerClock, wechatAPI: wechatAPI, adminPause: adminPause, logs: logs)
    try await buildApplication(gateway).test(.live) { client in
        try await body(WeChatClient(port: client.port!, clock: unixTime), gateway)
    }
}

/// Builds a gateway as the tests run it (an in-memory store, the test tokens), through the
/// composition root.
func buildTestGateway<C: Clock>(
    replies: String = shippedReplies,
    handler: (any MessageHandler)? = nil,
    services: (@Sendable (UnionStore) -> any ServiceDesk)? = nil,
    lateDelivery: RecordingLateDelivery = RecordingLateDelivery(),
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    unixTime: @escaping @Sendable () -> Int64 = UnixTime.now,
    ledgerClock: C,
    wechatAPI: String? = nil,
    adminPause: (@Sendable (Duration) async -> Void)? = nil,
    logs: LogCapture? = nil
) async throws -> Gateway where C.Duration == Duration {
    var configuration = GatewayConfiguration()
    configuration.port = 0
    configuration.repliesDirectory = replies
    configuration.databasePath = ":memory:"
    configuration.appId = testAppId
    configuration.encodingAESKey = testKey
    configuration.wechatToken = testToken
    configuration.adminToken = testAdminToken
    // The tests of the reply deadline read a manual clock. For the others, a generous deadline:
    // in the parallel suite on two cores, CPU-bound tests can hold the handler's task past 4.5 s,
    // and the member is then answered `success` (seen in CI: the QR join's follow, the inbox's
    // first case).
    if ledgerClock is ContinuousClock { configuration.replyDeadline = .seconds(60) }
    configure(&configuration)
    // On PostgreSQL the data key's file would be made in the working directory (the checkout):
    // keep it with the test's other files instead, one per database (instances share it).
    if configuration.dataKeyFile == nil, configuration.dataKey == nil,
        configuration.databasePath.hasPrefix("postgres"),
        let database = URL(string: configuration.databasePath)?.lastPathComponent
    {
        configuration.dataKeyFile = Scratch.folder.appendingPathComponent("uniongate-\(database).key").path
    }
    var logger = logs?.logger() ?? Logger(label: "test")
    if logs == nil { logger.logLevel = .critical }
    var overrides = GatewayOverrides()
    overrides.handler = handler
    overrides.desk = services
    overrides.unixTime = unixTime
    overrides.adminPause = adminPause
    // With a (fake) WeChat API, late replies go through the real outbox and its worker.
    if let wechatAPI {
        configuration.apiBaseURL = wechatAPI
        configuration.apiAllowsHTTP = true
        configuration.appId = FakeWeChatAPI.appId
        configuration.appSecret = FakeWeChatAPI.secret
        overrides.apiOptions.backoff = .milliseconds(5)
        overrides.outboxOptions.interval = .milliseconds(50)
        overrides.outboxOptions.backoffSeconds = 0
    } else {
        overrides.lateDelivery = lateDelivery
    }
    return try await buildGateway(
        configuration: configuration, clock: ledgerClock, overrides: overrides, logger: logger)
}

/// A clock a test moves by hand.
final class TestClock: Sendable {
    private let now: Mutex<Int64>
    init(_ start: Int64 = 1_795_363_200) { now = Mutex(start) }
    func advance(seconds: Int64) { now.withLock { $0 += seconds } }
    var read: @Sendable () -> Int64 { { [self] in now.withLock { $0 } } }
}

extension WeChatClient {
    /// An admin API call with the test admin token (or another `token`).
    func admin(
        _ method: String, _ path: String, query: [String: String] = [:], json: String? = nil,
        token: String? = testAdminToken
    )
        async throws -> HTTPResult
    {
        var headers: [String: String] = [:]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if json != nil { headers["Content-Type"] = "application/json" }
        return try await request(method, path, query: query, body: json.map { Data($0.utf8) }, headers: headers)
    }

    /// Decodes an admin API JSON array.
    func adminList(_ path: String, query: [String: String] = [:]) async throws -> [[String: Any]] {
        let result = try await admin("GET", path, query: query)
        #expect(result.status == 200, "\(path): \(result.status) \(result.body)")
        return (try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [[String: Any]]) ?? []
    }

    /// Sends each text in turn and returns the replies' visible text.
    func conversation(_ member: Member, _ texts: [String], mode: WireMode = .plain) async throws -> [String] {
        var replies: [String] = []
        for text in texts {
            replies.append(try await replyText(member.text(text), mode: mode) ?? "")
        }
        return replies
    }
}
