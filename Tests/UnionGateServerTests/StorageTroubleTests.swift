import Foundation
import Logging
import ReplyRules
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

@Suite("Storage trouble loses nothing")
struct StorageTroubleTests {
    func temporaryDatabase(_ name: String) -> String {
        Scratch.folder.appendingPathComponent("\(name)-\(UUID().uuidString).sqlite").path
    }

    /// Another process holds the write lock past every retry: the member is told the message
    /// was received, `/healthz` is not ready, and once the lock is gone the suggestion is stored
    /// and its receipt sent later.
    @Test func aLockedDatabaseKeepsTheMessageAndReplaysIt() async throws {
        let database = temporaryDatabase("locked")
        let late = RecordingLateDelivery()
        try await withGateway(
            lateDelivery: late,
            configure: {
                $0.databasePath = database
                $0.replyDeadline = .seconds(20)
            }
        ) { client, gateway in
            #expect(try await client.request("GET", "/healthz").status == 200)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let other = try await UnionStore.open(path: database, logger: logger)
            let holding = Gate()
            let released = Gate()
            let holder = Task {
                try await other.transaction { _ in
                    await holding.open()
                    await released.wait()
                }
            }
            await holding.wait()

            let member = Member()
            let message = member.text("建议 锅炉房夜班需要增加一名值守人员")
            let reply = try await client.replyText(message)
            #expect(reply == Dispatcher.heldText)
            #expect(gateway.core.journal.pending.count == 1)
            #expect(try await client.request("GET", "/healthz").status == 503)
            // WeChat's retry gets the same answer, and nothing is kept twice.
            #expect(try await client.replyText(message) == Dispatcher.heldText)
            #expect(gateway.core.journal.pending.count == 1)
            // The member's next message waits behind the first.
            #expect(try await client.replyText(member.text("我的建议")) == Dispatcher.heldText)
            #expect(gateway.core.journal.pending.count == 2)

            await released.open()
            try await holder.value
            await other.close()

            let receipt = try #require(await late.next(timeout: .seconds(30)))
            #expect(receipt.reason == .journal)
            #expect(receipt.recipient == member.openid)
            #expect(visibleText(of: receipt.bodies).contains("JY-"))
            let status = try #require(await late.next(timeout: .seconds(30)))
            #expect(visibleText(of: status.bodies).contains("锅炉房"))
            try await waitUntil(timeout: .seconds(30)) { gateway.core.journal.pending.isEmpty }
            try await waitUntil(timeout: .seconds(30)) { (try? await client.request("GET", "/healthz").status) == 200 }
            let stored = try await client.adminList("/admin/api/suggestions")
            #expect(stored.count == 1)
            #expect(stored.first?["content"] as? String == "锅炉房夜班需要增加一名值守人员")
        }
    }

    /// The disk is full: the same, and writes resume when there is room again.
    @Test func aFullDiskKeepsTheMessageAndReplaysIt() async throws {
        let database = temporaryDatabase("full")
        let late = RecordingLateDelivery()
        // A generous reply deadline: on a loaded machine no message may go late for slowness, so
        // the only late delivery is the journal's replay.
        try await withGateway(
            lateDelivery: late,
            configure: {
                $0.databasePath = database
                $0.replyDeadline = .seconds(30)
            }
        ) { client, gateway in
            // No page beyond those the file has: a new row that needs a page cannot be written.
            try await gateway.store.read { database in
                let pages = try await database.raw("PRAGMA page_count").first()?.decode(
                    column: "page_count", as: Int.self)
                try await database.raw("PRAGMA max_page_count = \(unsafeRaw: String(pages ?? 1))").run()
            }
            // Fill what room the pages have left, so that no write fits, the health probe's
            // neither (as on a full disk), whenever it runs.
            for size in [2000, 200, 20, 1] {
                var index = 0
                while (try? await gateway.store.transaction({ [index] database in
                    try await database.raw(
                        "INSERT INTO settings (key, value, updated_at) VALUES (\(bind: "filler-\(size)-\(index)"), \(bind: String(repeating: "x", count: size)), 0)"
                    ).run()
                })) != nil {
                    index += 1
                }
            }
            let member = Member()
            let long = String(repeating: "车间通风设备老化需要更换。", count: 60)
            var heldContent: String?
            for index in 0..<5 where heldContent == nil {
                let content = "第\(index)条 \(long)"
                let reply = try await client.replyText(member.text("建议 \(content)"))
                if reply == Dispatcher.heldText { heldContent = content }
            }
            let held = try #require(heldContent, "a suggestion met the full disk")
            #expect(try await client.request("GET", "/healthz").status == 503)

            try await gateway.store.read { database in
                try await database.raw("PRAGMA max_page_count = 1073741823").run()
            }
            let receipt = try #require(await late.next(timeout: .seconds(60)))
            #expect(receipt.reason == .journal)
            #expect(visibleText(of: receipt.bodies).contains("JY-"))
            try await waitUntil(timeout: .seconds(30)) { (try? await client.request("GET", "/healthz").status) == 200 }
            // The held suggestion is stored, once, found by its text: a count taken while the disk
            // was full is no baseline, as the journal may already have replayed it by then.
            let stored: @Sendable () async -> Int? = {
                (try? await client.adminList("/admin/api/suggestions"))?.filter { $0["content"] as? String == held }
                    .count
            }
            try await waitUntil(timeout: .seconds(30)) { await stored() == 1 }
            let times = await stored()
            #expect(times == 1, "the held suggestion is stored \(String(describing: times)) times")
        }
    }

    /// A message kept by a run that then crashed is replayed by the next one.
    @Test func theJournalOfAnEarlierRunIsReplayedOnStart() async throws {
        let database = temporaryDatabase("journal")
        let member = Member()
        do {  // an earlier run's journal, closed before the gateway opens it
            let journal = try InboundJournal.beside(databasePath: database)
            try journal.record(member.text("建议 宿舍热水器坏了"))
            // While it is open, another gateway cannot take it.
            #expect(throws: StoreError.self) { try InboundJournal.beside(databasePath: database) }
        }
        #expect(FileManager.default.fileExists(atPath: database + ".journal"))
        let attributes = try FileManager.default.attributesOfItem(atPath: database + ".journal")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let late = RecordingLateDelivery()
        try await withGateway(lateDelivery: late, configure: { $0.databasePath = database }) { client, gateway in
            let receipt = try #require(await late.next(timeout: .seconds(30)))
            #expect(receipt.recipient == member.openid)
            #expect(visibleText(of: receipt.bodies).contains("JY-"))
            try await waitUntil(timeout: .seconds(30)) { gateway.core.journal.pending.isEmpty }
            #expect(!FileManager.default.fileExists(atPath: database + ".journal"))
            let stored = try await client.adminList("/admin/api/suggestions")
            #expect(stored.first?["content"] as? String == "宿舍热水器坏了")
        }
    }
}
