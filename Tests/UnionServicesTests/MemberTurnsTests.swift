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
        let first = try await turns.take(account: "gh", openid: "oA")
        let order = Mutex<[String]>([])
        let second = Task {
            let id = try await turns.take(account: "gh", openid: "oA")
            order.withLock { $0.append("second") }
            try await turns.end(id)
        }
        try await waitUntil(timeout: .seconds(30)) { (try? await turns.count(account: "gh", openid: "oA")) == 2 }
        let other = try await turns.take(account: "gh", openid: "oB")  // not held up
        try await turns.end(other)
        order.withLock { $0.append("first") }
        try await turns.end(first)
        try await second.value
        #expect(order.withLock { $0 } == ["first", "second"])
        #expect(try await turns.count(account: "gh", openid: "oA") == 0)
        await store.close()
    }
}
