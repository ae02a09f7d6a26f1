import Foundation
import Logging
import Synchronization
import Testing
import WeChatTestSupport

@testable import UnionServices

@Suite("Conversation versions")
struct ConversationVersionTests {
    /// Two gateway processes over one database: each has its own memory of the conversation.
    @Test(arguments: StoreKind.allCases)
    func aWriteFromAStaleCopyFailsAndSucceedsAfterARefresh(_ kind: StoreKind) async throws {
        let path = try kind.freshLocation()
        let storeA = try await kind.open(path)
        let storeB = try await kind.open(path)
        let a = try await ConversationStore.load(from: storeA)
        let b = try await ConversationStore.load(from: storeB)
        let member = "oVersioned"

        try await a.save(FormProgress(form: "入会", step: 0, answers: [:], updatedAt: 100), for: member)
        #expect(a.entry(for: member)?.version == 1)
        // B never saw the row: its insert does not overwrite.
        await #expect(throws: ConversationConflict.self) {
            try await b.save(FormProgress(form: "入会", step: 1, answers: ["name": "错"], updatedAt: 101), for: member)
        }
        try await b.refresh(member)
        #expect(b.entry(for: member)?.version == 1)
        try await b.save(FormProgress(form: "入会", step: 1, answers: ["name": "张三"], updatedAt: 102), for: member)
        #expect(b.entry(for: member)?.version == 2)
        // Now A's copy is stale.
        await #expect(throws: ConversationConflict.self) {
            try await a.save(
                FormProgress(form: "入会", step: 1, answers: ["name": "13912345678"], updatedAt: 103), for: member)
        }
        try await a.refresh(member)
        #expect(a.entry(for: member)?.progress.answers == ["name": "张三"])

        // A finish from a stale copy rolls its whole transaction back.
        try await a.save(FormProgress(form: "入会", step: 2, answers: ["name": "张三"], updatedAt: 104), for: member)
        await #expect(throws: ConversationConflict.self) {
            try await storeB.transaction { database in
                _ = try await SuggestionBox.submit(
                    openid: member, content: "不该留下的建议", messageKey: "k-stale", at: 105, year: 2026, in: database)
                _ = try await b.finish(member, key: "k-stale", reply: "r", at: 105, in: database)
            }
        }
        #expect(try await SuggestionBox(store: storeA).list().isEmpty)
        await storeA.close()
        await storeB.close()
    }

    @Test(arguments: StoreKind.allCases)
    func idleAndFinishedConversationsAreSwept(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let conversations = try await ConversationStore.load(from: store)
        try await conversations.save(FormProgress(form: "入会", updatedAt: 1_000), for: "oIdle")
        try await conversations.save(FormProgress(form: "入会", updatedAt: 2_500), for: "oActive")
        try await conversations.save(FormProgress(form: "入会", updatedAt: 1_000), for: "oFinished")
        let finished = try await store.transaction { database in
            try await conversations.finish("oFinished", key: "k", reply: "好", at: 2_000, in: database)
        }
        await conversations.didFinish(
            "oFinished", progress: FormProgress(form: "入会", updatedAt: 2_000), key: "k", reply: "好", finished: finished)
        try await conversations.save(FormProgress(form: "入会", updatedAt: 2_500), for: "oJustFinished")
        let recent = try await store.transaction { database in
            try await conversations.finish("oJustFinished", key: "k2", reply: "好", at: 2_700, in: database)
        }
        await conversations.didFinish(
            "oJustFinished", progress: FormProgress(form: "入会", updatedAt: 2_700), key: "k2", reply: "好",
            finished: recent)

        // At 3,000 with a 30-minute timeout: idle since 1,000 goes; finished at 2,000 (over 10
        // minutes ago) goes; the others stay.
        #expect(try await conversations.sweep(idleSeconds: 1_800, finishedSeconds: 600, at: 3_000) == 2)
        #expect(conversations.entry(for: "oIdle") == nil)
        #expect(conversations.entry(for: "oFinished") == nil)
        #expect(conversations.entry(for: "oActive") != nil)
        #expect(conversations.entry(for: "oJustFinished")?.finishedKey == "k2")
        let reloaded = try await ConversationStore.load(from: store)
        #expect(reloaded.count == 2)
        await store.close()
    }

    /// Two instances on PostgreSQL: each hears what the other changes, so its memory of a
    /// member's form is not trusted until read again; and while it cannot hear, none is.
    @Test func anInstanceHearsTheOthersChangesAndDistrustsItsMemoryMeanwhile() async throws {
        let path = try StoreKind.postgres.freshLocation()
        let storeA = try await StoreKind.postgres.open(path)
        let storeB = try await StoreKind.postgres.open(path)
        let a = try await ConversationStore.load(from: storeA)
        let b = try await ConversationStore.load(from: storeB)
        let heard = HeardChanges()
        storeA.changes.follow(.init(changed: { _, openids in a.changed(openids) }, resync: { try await a.reloadAll() }))
        storeB.changes.follow(
            .init(
                changed: { kind, openids in
                    heard.append(kind, openids)
                    b.changed(openids)
                },
                resync: { try await b.reloadAll() }))
        try await waitUntil(timeout: .seconds(30)) { storeA.changes.isLive && storeB.changes.isLive }
        let member = "oHeard"
        #expect(b.isCurrent(member))

        try await a.save(FormProgress(form: "入会", step: 0, answers: [:], updatedAt: 100), for: member)
        // A answers only once it has heard its own announcement; B hears it at the same time.
        try await waitUntil(timeout: .seconds(30)) { !b.isCurrent(member) }
        #expect(heard.all.contains { $0.kind == .conversation && $0.openids == [member] })
        #expect(b.entry(for: member) == nil)  // what B remembers is stale, and B knows it
        try await b.refresh(member)
        #expect(b.isCurrent(member))
        #expect(b.entry(for: member)?.progress.form == "入会")

        // B's listening connection is cut: B trusts nothing until it listens and has read again.
        // Only this test's database: other tests' instances share the server and listen too.
        // A listening connection's last statement is its LISTEN or its presence announcement.
        try await storeA.read { database in
            try await database.raw(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE (query LIKE 'LISTEN%' OR query LIKE 'SELECT pg_notify%') AND state = 'idle'
                AND datname = current_database() AND pid <> pg_backend_pid()
                """
            ).run()
        }
        try await waitUntil(timeout: .seconds(30)) { !storeB.changes.isLive }
        try await a.clear(member)
        try await waitUntil(timeout: .seconds(30)) { storeB.changes.isLive }
        // Back, B has read the table again (or heard the removal and knows it is stale).
        #expect(b.entry(for: member) == nil || !b.isCurrent(member))
        await storeA.close()
        await storeB.close()
        #expect(!storeB.changes.isLive)
    }
}

/// Changes an instance heard, in order.
final class HeardChanges: Sendable {
    private let changes = Mutex<[(kind: StoreChanges.Kind, openids: [String])]>([])
    func append(_ kind: StoreChanges.Kind, _ openids: [String]) { changes.withLock { $0.append((kind, openids)) } }
    var all: [(kind: StoreChanges.Kind, openids: [String])] { changes.withLock { $0 } }
}
