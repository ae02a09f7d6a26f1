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

    /// Two gateway instances on one PostgreSQL database: each message is sent once, by one of
    /// them; a message an instance claimed and never finished (it crashed) is taken over once its
    /// lease has run out, and one claimed just now is left to its instance.
    @Test func twoInstancesSendEachMessageOnceAndTakeOverAbandonedClaims() async throws {
        try await withFakeWeChat { fake, base in
            let url = try StoreKind.postgres.freshLocation()
            let storeA = try await StoreKind.postgres.open(url)
            let storeB = try await StoreKind.postgres.open(url)
            try await storeA.transaction { database in
                for index in 0..<60 {
                    try await Outbox.enqueue(
                        [.text("通知第\(index)条")], to: "o\(index)", reason: .notice, at: 1, in: database)
                }
            }
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var options = OutboxWorker.Options()
            options.batch = 4
            options.backoffSeconds = 0
            let workers = [
                OutboxWorker(
                    store: storeA, sender: client(base, store: storeA), held: HeldNotices(), options: options,
                    logger: logger),
                OutboxWorker(
                    store: storeB, sender: client(base, store: storeB), held: HeldNotices(), options: options,
                    logger: logger),
            ]
            let tried = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in workers {
                    group.addTask {
                        var total = 0
                        while case let count = try await worker.runOnce(), count > 0 { total += count }
                        return total
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(tried.reduce(0, +) == 60, "\(tried)")
            let sent = fake.calls(to: "/cgi-bin/message/custom/send").map(\.body)
            #expect(sent.count == 60)
            #expect(Set(sent).count == 60)
            let statuses = try await storeB.read { try await Outbox.list(in: $0).map(\.status) }
            #expect(statuses.allSatisfy { $0 == .sent })

            // One claim abandoned ten minutes ago, one made just now by a live instance.
            let now = UnixTime.now()
            try await storeA.transaction { database in
                try await Outbox.enqueue([.text("崩溃前认领的通知")], to: "oLost", reason: .notice, at: 1, in: database)
                try await Outbox.enqueue([.text("正在发送的通知")], to: "oBusy", reason: .notice, at: 1, in: database)
                try await database.update("outbox").set("status", to: "sending").set("claimed_at", to: now - 600)
                    .where("openid", .equal, "oLost").run()
                try await database.update("outbox").set("status", to: "sending").set("claimed_at", to: now)
                    .where("openid", .equal, "oBusy").run()
            }
            try await workers[1].recoverInterrupted()  // a restart leaves the live claim alone
            #expect(try await workers[1].runOnce() == 1)
            let after = fake.calls(to: "/cgi-bin/message/custom/send").map(\.body)
            #expect(after.count == 61)
            #expect(after.last?.contains("崩溃前认领的通知") == true)
            let busy = try await storeA.read { database in
                try await Outbox.select(in: database).where("openid", .equal, "oBusy")
                    .first(decoding: Outbox.Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.status
            }
            #expect(busy == .sending)
            await storeA.close()
            await storeB.close()
        }
    }
}
