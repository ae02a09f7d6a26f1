import Foundation
import ReplyRules
import Synchronization
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

/// Two gateway instances on one PostgreSQL database, as behind a load balancer: any may receive
/// any message, or WeChat's retry of a message the other handled.
@Suite("Several instances, one account")
struct InstancesTests {
    func withTwoInstances(_ body: @Sendable (WeChatClient, WeChatClient, Gateway, Gateway) async throws -> Void)
        async throws
    {
        let url = try TestPostgres.database()
        // A deadline no busy test machine misses: these tests are about which answer, not when.
        // (20 s was missed once in a fresh-clone run, the full suite's rushes sharing two cores
        // with both instances: a form's step came back as `success`.)
        let configure: @Sendable (inout GatewayConfiguration) -> Void = {
            $0.databasePath = url
            $0.replyDeadline = .seconds(90)
            // Each instance has its own journal (a shared one is refused).
            $0.journalPath =
                Scratch.folder
                .appendingPathComponent("instance-\(UUID().uuidString).journal").path
        }
        try await withGateway(configure: configure) { a, gateway in
            try await withGateway(configure: configure) { b, other in
                try await body(a, b, gateway, other)
            }
        }
    }

    @Test func aRetryOnTheOtherInstanceGetsTheSameReplyAndStoresNothingTwice() async throws {
        try await withTwoInstances { a, b, gateway, _ in
            let member = Member()
            let message = member.text("建议：夜班食堂增加热饭供应")
            let first = try #require(try await a.replyText(message))
            #expect(first.contains("JY-2026-") || first.contains("JY-"))
            #expect(try await b.replyText(message) == first)
            // Both at once, many times: each message is stored once and both get its receipt.
            for index in 0..<8 {
                let burst = member.text("建议：第\(index)条，车间通风要改善")
                async let fromA = a.replyText(burst)
                async let fromB = b.replyText(burst)
                let (replyA, replyB) = try await (fromA, fromB)
                #expect(replyA == replyB, "\(String(describing: replyA)) / \(String(describing: replyB))")
                #expect(replyA?.contains("JY-") == true)
            }
            let stored = try await gateway.store.read { try await $0.count("suggestions") }
            #expect(stored == 9)
            // Both serve the same Replies, and say so.
            let healthA = try await a.request("GET", "/healthz").body
            let healthB = try await b.request("GET", "/healthz").body
            #expect(healthA.hasPrefix("ok rules=") && healthA == healthB)
        }
    }

    /// The console's daily counts: a message counted on one instance and WeChat's retry of it on
    /// the other count once; another message counts too; and a third instance's retry, after the
    /// first two flushed, does not count again.
    @Test func dailyCountsCountARetryOnAnotherInstanceOnce() async throws {
        try await withTwoInstances { a, b, gateway, other in
            let member = Member()
            let message = member.text("帮助")
            _ = try await a.replyText(message)
            _ = try await b.replyText(message)  // WeChat's retry reached the other instance
            _ = try await b.replyText(member.text("热线"))
            let follow = member.event(.subscribe(scene: nil, ticket: nil))
            _ = try await a.send(follow, mode: .plain)
            _ = try await b.send(follow, mode: .plain)
            try await gateway.core.counts.flush(to: gateway.store)
            try await other.core.counts.flush(to: other.store)
            _ = try await a.replyText(message)  // answered by a's ledger: not counted anyway
            func total(_ name: String) async throws -> Int {
                try await gateway.store.read { database in
                    try await database.select().column("count").from("daily_counts").where("name", .equal, name)
                        .all(decodingColumn: "count", as: Int.self).reduce(0, +)
                }
            }
            #expect(try await total("messages") == 3, "帮助 once, 热线, the follow")
            #expect(try await total("followers") == 1)
            // A retry that comes after both flushed, to an instance that never saw the message.
            let third = DailyCounts(acrossInstances: true)
            third.count(.messages, at: UnixTime.now(), utcOffsetMinutes: 480, messageKey: MessageKey.of(message))
            try await third.flush(to: gateway.store)
            #expect(try await total("messages") == 3)
        }
    }

    /// Each instance hears what the other changes (LISTEN/NOTIFY), so a keyword is answered from
    /// memory on PostgreSQL too, and a form begun on one instance is never answered from the
    /// other's stale memory.
    @Test func keywordsAreAnsweredFromMemoryAndAFormBegunElsewhereIsNot() async throws {
        try await withTwoInstances { a, b, gatewayA, gatewayB in
            try await waitUntil(timeout: .seconds(30)) {
                gatewayA.store.changes.isLive && gatewayB.store.changes.isLive
            }
            let member = Member()
            let help = member.text("帮助")
            let fromMemory = try #require(gatewayB.core.dispatcher.answerAtOnce(help))
            #expect(visibleText(of: fromMemory.replies).contains("入会"))

            let started = try #require(try await a.replyText(member.text("入会")))
            // B heard that the member's form moved on: memory no longer answers for them.
            try await waitUntil(timeout: .seconds(30)) { gatewayB.core.dispatcher.answerAtOnce(help) == nil }
            // The store's path reads the form, and B answers with its question again.
            let midForm = try #require(try await b.replyText(member.text("帮助")))
            let question = try #require(started.split(separator: "\n").last)
            #expect(midForm.contains(question) && !midForm.contains("合理化建议"), "\(midForm) / \(started)")
            // Read again, memory is trusted for the member once more: help mid-form from memory.
            let again = try #require(gatewayB.core.dispatcher.answerAtOnce(help))
            #expect(visibleText(of: again.replies) == midForm)
        }
    }

    /// A member's second message reaching the other instance while their first is still being
    /// applied waits for it: 「我的建议」 on B, sent while A's writer holds the member's
    /// suggestion back, lists that suggestion with its number. (Without turns B answers at once,
    /// with no suggestion, and the member never holds two turns.)
    @Test func aMembersMessagesAreAppliedInOrderAcrossInstances() async throws {
        try await withTwoInstances { a, b, gateway, _ in
            let member = Member()
            let turns = try #require(MemberTurns(store: gateway.store))
            let gate = Gate()
            let held = Mutex(false)
            // A's writer busy with a transaction that waits for the gate: A's suggestion queues.
            let holding = Task {
                try await gateway.store.transaction { _ in
                    held.withLock { $0 = true }
                    await gate.wait()
                }
            }
            try await waitUntil(timeout: .seconds(30)) { held.withLock { $0 } }
            let first = Task { try await a.replyText(member.text("建议：夜班公交能不能延长到十二点")) }
            try await waitUntil(timeout: .seconds(30)) {
                (try? await turns.count(account: "gh_union", openid: member.openid)) == 1
            }
            let second = Task { try await b.replyText(member.text("我的建议")) }
            // B's message took its turn behind A's and waits for it.
            try await waitUntil(timeout: .seconds(30)) {
                (try? await turns.count(account: "gh_union", openid: member.openid)) == 2
            }
            await gate.open()
            try await holding.value
            let receipt = try #require(try await first.value)
            let number = try #require(receipt.firstMatch(of: /JY-\d{4}-\d{6}/).map { String($0.output) })
            let listed = try #require(try await second.value)
            #expect(listed.contains(number), "\(listed)")
            try await waitUntil(timeout: .seconds(30)) {
                (try? await turns.count(account: "gh_union", openid: member.openid)) == 0
            }
        }
    }

    @Test func aFormGoesOnWhicheverInstanceEachAnswerReaches() async throws {
        try await withTwoInstances { a, b, gateway, _ in
            let member = Member()
            let steps = ["入会", "王小明", "13912345678", "2", "无"]
            for (index, text) in steps.enumerated() {
                let client = index.isMultiple(of: 2) ? a : b
                let reply = try #require(try await client.replyText(member.text(text)))
                #expect(!reply.contains("暂时无法") && !reply.contains("出错"), "\(text): \(reply)")
            }
            let confirm = member.text("确认")
            let done = try #require(try await b.replyText(confirm))
            #expect(done.contains("RH-"), "\(done)")
            #expect(try await a.replyText(confirm) == done)  // the retry, on the other instance
            let applications = try await gateway.store.read { try await $0.count("membership_applications") }
            #expect(applications == 1)
            // Approved through one instance's admin API: the other, which has just read the
            // application as pending, tells the member at once.
            let pending = try #require(try await a.replyText(member.text("入会进度")))
            #expect(!pending.contains("您已是工会会员"), "\(pending)")
            let list = try await b.adminList("/admin/api/members")
            let id = try #require(list.first?["id"] as? Int)
            #expect(try await b.admin("POST", "/admin/api/members/\(id)/approve").status == 200)
            let status = try #require(try await a.replyText(member.text("入会进度")))
            #expect(status.contains("您已是工会会员"), "\(status)")
        }
    }

    /// PostgreSQL stops for a while: members are told their message was received (it waits in
    /// the journal), `/healthz` is not ready, and once PostgreSQL is back the instance recovers
    /// by itself and stores what waited. Nothing acknowledged is lost.
    @Test func whilePostgreSQLIsDownMessagesWaitInTheJournal() async throws {
        let server = try TestPostgres.privateServer()
        defer { server.destroy() }
        // 6 s, not 2, for a connection: the suite's 1,000-sign-up rush on the same two cores can
        // keep a new connection (PostgreSQL's start, SCRAM) waiting past 2 s; while PostgreSQL is
        // down the message still goes to the journal within the 20 s reply deadline.
        let url = try server.database(connectTimeout: 6)
        let journal = Scratch.folder.appendingPathComponent("pg-\(UUID().uuidString).journal")
            .path
        defer { try? FileManager.default.removeItem(atPath: journal) }
        try await withGateway(configure: {
            $0.databasePath = url
            $0.journalPath = journal
            // On a loaded machine, PostgreSQL's 2-second connection deadline and the journal
            // can outlast the default reply deadline; this test is about which answer, not when.
            $0.replyDeadline = .seconds(20)
        }) { client, gateway in
            let member = Member()
            #expect(try await client.replyText(member.text("建议：宿舍热水改为全天供应"))?.contains("JY-") == true)
            try server.stop()
            let waiting = try await client.replyText(member.text("建议：澡堂延长开放时间"))
            #expect(waiting == Dispatcher.heldText)
            try await waitUntil(timeout: .seconds(30)) { (try? await client.request("GET", "/healthz").status) == 503 }
            try server.start()
            try await waitUntil(timeout: .seconds(30)) {
                (try? await client.request("GET", "/healthz").status) == 200 && gateway.core.journal.pending.isEmpty
            }
            let stored = try await gateway.store.read { database in
                try await database.select().column("content").from("suggestions").orderBy("id").all(
                    decodingColumn: "content", as: String.self)
            }
            #expect(stored == ["宿舍热水改为全天供应", "澡堂延长开放时间"])
        }
    }
}
