import Foundation
import SQLKit
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

/// A pool of two connections, both at work, under a burst of suggestions: the messages wait for
/// a connection past its 1 s deadline, and that is not an outage. Nothing goes to the journal,
/// `/healthz` stays ready, and every suggestion is stored once.
///
/// It runs after the rest of the suite, alone with the whole-system test (`.ci/run` sets
/// `UNIONGATE_CLUSTER_TEST=1`): its 1 s deadline for a connection is about a pool at work, and
/// the rest of the suite loading both cores and the shared PostgreSQL would make it about the
/// machine instead.
@Suite(
    "A busy PostgreSQL pool is not an outage",
    .enabled(if: ProcessInfo.processInfo.environment["UNIONGATE_CLUSTER_TEST"] == "1"))
struct BusyPoolTests {
    @Test func aBurstOnAPoolOfTwoWaitsAndJournalsNothing() async throws {
        let shared = try TestPostgres.database()
        let url = shared.replacingOccurrences(of: "pool_size=4", with: "pool_size=2")
            .replacingOccurrences(of: "connect_timeout=30", with: "connect_timeout=1")
        #expect(url.contains("pool_size=2") && url.contains("connect_timeout=1"))
        let journal = Scratch.folder.appendingPathComponent("busy-\(UUID().uuidString).journal").path
        try await withGateway(configure: {
            $0.databasePath = url
            $0.journalPath = journal
            $0.replyDeadline = .seconds(20)  // which answer, not how fast
        }) { client, gateway in
            let store = gateway.store
            // Both connections busy for 3 s: three times the deadline for a connection.
            let slow = (0..<2).map { _ in
                Task { try await store.read { try await $0.raw("SELECT pg_sleep(3)").run() } }
            }
            try await waitUntil(timeout: .seconds(30)) { store.leasedConnections == 2 }
            let replies = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        try await client.replyText(Member().text("建议 第\(index)条：车间饮水机需要定期清洗消毒"))
                    }
                }
                var replies: [String?] = []
                for try await reply in group { replies.append(reply) }
                return replies
            }
            for task in slow { try await task.value }
            #expect(replies.count == 12)
            #expect(
                replies.allSatisfy { $0?.contains("JY-") == true }, "\(replies.filter { $0?.contains("JY-") != true })")
            #expect(gateway.core.journal.pending.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: journal), "nothing was journaled")
            #expect(!store.writesFailing)
            #expect(try await client.request("GET", "/healthz").status == 200)
            let stored = try await store.read { try await $0.select().column("number").from("suggestions").all() }
            #expect(stored.count == 12)
        }
    }
}
