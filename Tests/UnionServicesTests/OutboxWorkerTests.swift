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
        return WeChatAPIClient(
            baseURL: base, appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret,
            cache: StoreTokenCache(store: store), options: options, logger: logger)
    }

    @Test func aRestartSendsWhatTheOutboxHeld() async throws {
        try await withFakeWeChat { fake, base in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "outbox-\(UUID().uuidString).sqlite"
            ).path
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
}
