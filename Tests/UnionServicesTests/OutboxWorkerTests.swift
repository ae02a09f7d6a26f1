import Foundation
import Logging
import SQLKit
import Testing
import WeChatAPI
import WeChatTestSupport

@testable import UnionServices

@Suite("The outbox worker")
struct OutboxWorkerTests {
    func openStore(_ path: String) async throws -> UnionStore {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await UnionStore.open(path: path, logger: logger)
    }

    func client(_ base: String, store: UnionStore) -> WeChatAPIClient {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var options = WeChatAPIClient.Options()
        options.backoff = .milliseconds(2)
        options.allowsHTTP = true
        return WeChatAPIClient(
            baseURL: base, appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret,
            cache: StoreTokenCache(store: store), options: options, logger: logger)
    }

    @Test(arguments: StoreKind.allCases)
    func aRestartSendsWhatTheOutboxHeld(_ kind: StoreKind) async throws {
        try await withFakeWeChat { fake, base in
            let path = try kind.freshLocation()
            let store = try await openStore(path)
            try await store.transaction { database in
                try await Outbox.enqueue([.text("第一条"), .text("第二条")], to: "oA", reason: .notice, at: 1, in: database)
                try await Outbox.enqueue([.text("发送中断的一条")], to: "oB", reason: .notice, at: 1, in: database)
                try await database.update("outbox").set("status", to: "sending").where("openid", .equal, "oB").run()
            }
            await store.close()

            let reopened = try await openStore(path)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var options = OutboxWorker.Options()
            options.backoffSeconds = 0
            let worker = OutboxWorker(
                store: reopened, sender: client(base, store: reopened), held: HeldNotices(), options: options,
                logger: logger)
            try await worker.recoverInterrupted()
            #expect(try await worker.runOnce() == 3)
            let bodies = fake.calls(to: "/cgi-bin/message/custom/send").map(\.body)
            #expect(bodies.count == 3)
            #expect(bodies.contains { $0.contains("第一条") } && bodies.contains { $0.contains("发送中断的一条") })
            let statuses = try await reopened.read { try await Outbox.list(in: $0).map(\.status) }
            #expect(statuses == [.sent, .sent, .sent])
            #expect(try await worker.runOnce() == 0)  // nothing is sent twice
            await reopened.close()
        }
    }

    /// When WeChat's API stops answering, the client pauses its calls; messages the pause
    /// stopped wait for it and keep their attempts, instead of each spending a timeout.
    @Test(arguments: StoreKind.allCases)
    func messagesStoppedByAPauseKeepTheirAttempts(_ kind: StoreKind) async throws {
        let store = try await openStore(kind == .sqlite ? ":memory:" : try kind.freshLocation())
        try await store.transaction { database in
            for openid in ["oA", "oB", "oC"] {
                try await Outbox.enqueue([.text("通知")], to: openid, reason: .notice, at: 1, in: database)
            }
        }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var apiOptions = WeChatAPIClient.Options()
        apiOptions.allowsHTTP = true
        apiOptions.circuitThreshold = 1
        apiOptions.circuitCooldown = 30
        // Nothing listens on port 1: each call fails at once.
        let api = WeChatAPIClient(
            baseURL: "http://127.0.0.1:1", appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret,
            cache: StoreTokenCache(store: store), options: apiOptions, logger: logger, clock: { 1_000 })
        var options = OutboxWorker.Options()
        options.backoffSeconds = 5
        let worker = OutboxWorker(
            store: store, sender: api, held: HeldNotices(), options: options, logger: logger, clock: { 1_000 })
        #expect(try await worker.runOnce() == 3)
        let rows = try await store.read { try await Outbox.list(in: $0) }.sorted { $0.id < $1.id }
        #expect(rows.map(\.status) == [.queued, .queued, .queued])
        #expect(rows.map(\.attempts) == [1, 0, 0])
        let due = try await store.read { database in
            try await database.raw("SELECT next_attempt_at FROM outbox ORDER BY id").all().map {
                try $0.decode(column: "next_attempt_at", as: Int64.self)
            }
        }
        #expect(due == [1_005, 1_030, 1_030])
        await store.close()
    }
}
