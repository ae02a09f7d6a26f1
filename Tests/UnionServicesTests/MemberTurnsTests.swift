import Foundation
import Logging
import Synchronization
import Testing
import WeChatTestSupport

@testable import UnionServices

@Suite("Members' turns across instances")
struct MemberTurnsTests {
    /// An instance takes turns only while another may serve: while it cannot listen, in the
    /// moments after it begins to (the others answer its first announcement), and then only
    /// while another instance's announcements are heard (its own are not counted). A new
    /// instance heard is answered at once. On SQLite there are no turns at all.
    @Test func turnsAreTakenOnlyWhileAnotherInstanceMayServe() async throws {
        let clock = Mutex(Duration.zero)
        let changes = StoreChanges(
            connect: { throw StoreError("not connected in this test") }, logger: Logger(label: "test"),
            uptime: { clock.withLock { $0 } })
        #expect(changes.othersMayServe, "not listening: it cannot tell")
        changes.markLiveForTests()
        #expect(changes.othersMayServe, "just listening: the others' answers are on their way")
        clock.withLock { $0 = StoreChanges.listeningWindow + .seconds(1) }
        #expect(!changes.othersMayServe, "nobody answered")
        changes.hear("t1 p \(changes.instance)")
        #expect(!changes.othersMayServe && !changes.willAnnounce, "its own announcement")
        changes.hear("t2 p another-instance")
        #expect(changes.othersMayServe)
        #expect(changes.willAnnounce, "a new instance is answered at once")
        clock.withLock { $0 += StoreChanges.presenceWindow }
        #expect(!changes.othersMayServe, "the other has not been heard for a window")

        let sqlite = try await StoreKind.sqlite.open()
        #expect(MemberTurns(store: sqlite) == nil && !sqlite.changes.othersMayServe)
        await sqlite.close()
    }

    /// On PostgreSQL a second turn of the member's waits until the first ends; another member's
    /// does not wait; ended turns are gone.
    @Test func aSecondTurnWaitsForTheFirst() async throws {
        let store = try await StoreKind.postgres.open()
        let turns = try #require(MemberTurns(store: store))
        let first = try await turns.take(account: "gh", openid: "oA").turn
        let order = Mutex<[String]>([])
        let second = Task {
            let id = try await turns.take(account: "gh", openid: "oA").turn
            order.withLock { $0.append("second") }
            try await turns.end(id)
        }
        try await waitUntil(timeout: .seconds(30)) { (try? await turns.count(account: "gh", openid: "oA")) == 2 }
        let other = try await turns.take(account: "gh", openid: "oB").turn  // not held up
        try await turns.end(other)
        order.withLock { $0.append("first") }
        try await turns.end(first)
        try await second.value
        #expect(order.withLock { $0 } == ["first", "second"])
        #expect(try await turns.count(account: "gh", openid: "oA") == 0)
        await store.close()
    }

    /// A turn comes with the version of the member's stored conversation, read when every earlier
    /// message of theirs had committed: memory that holds that version need not read it again;
    /// memory another instance has moved past must. Turns ended together are all removed.
    @Test func aTurnSaysWhichConversationMemoryMustHold() async throws {
        let path = try StoreKind.postgres.freshLocation()
        let storeA = try await StoreKind.postgres.open(path)
        let storeB = try await StoreKind.postgres.open(path)
        let turns = try #require(MemberTurns(store: storeA))
        let a = try await ConversationStore.load(from: storeA)
        let b = try await ConversationStore.load(from: storeB)
        let member = "oTurnVersion"
        func turn() async throws -> MemberTurns.ConversationAtTurn {
            let (id, version) = try await turns.take(account: "gh", openid: member)
            try await turns.end(id)
            return MemberTurns.ConversationAtTurn(version: version)
        }
        let none = try await turn()
        #expect(a.holds(member, version: none), "none stored, none in memory")
        #expect(!a.holds(member, version: nil), "outside a turn memory is not taken for current")
        try await a.save(FormProgress(form: "入会", step: 0, answers: [:], updatedAt: 1), for: member)
        let saved = try await turn()
        #expect(saved.version == 1 && a.holds(member, version: saved))
        // Another instance moves the member on: A's memory is behind, B's is not.
        try await b.refresh(member)
        try await b.save(FormProgress(form: "入会", step: 1, answers: ["name": "张三"], updatedAt: 2), for: member)
        let moved = try await turn()
        #expect(moved.version == 2 && !a.holds(member, version: moved) && b.holds(member, version: moved))
        let before = a.refreshes.load(ordering: .relaxed)
        try await a.refresh(member)
        #expect(a.holds(member, version: moved) && a.refreshes.load(ordering: .relaxed) == before + 1)

        // Many turns ended at once are all gone when each end returns.
        let many = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<20 { group.addTask { try await turns.take(account: "gh", openid: "oMany\(index)").turn } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in many { group.addTask { try await turns.end(id) } }
            try await group.waitForAll()
        }
        let left = try await storeA.read { database in
            try await database.raw("SELECT count(*) AS n FROM member_turns").first()?.decode(column: "n", as: Int.self)
        }
        #expect(left == 0)
        await storeA.close()
        await storeB.close()
    }
}
