import Foundation
import Synchronization
import WeChatWire

/// The activities not yet begun with the places left in each, as 「活动」 lists them: read from
/// the store at most once a `lifetime` and again after this instance changed an activity or its
/// sign-ups, so that the list members ask for most costs no query. Another instance's sign-ups
/// show here within a `lifetime`; the places themselves are always counted in the store, under
/// the activity's lock, when a member signs up.
final class ActivityBoard: Sendable {
    struct Entry: Sendable {
        var read: ContinuousClock.Instant
        var activities: [(Activity, left: Int)]
    }

    private let entry = Mutex<Entry?>(nil)
    /// Counts the invalidations: a list read while one happened is not kept.
    private let generation = Atomic<Int>(0)
    let lifetime: Duration

    init(lifetime: Duration = .seconds(1)) {
        self.lifetime = lifetime
    }

    /// Forgets the list: the next reader reads the store.
    func invalidate() {
        entry.withLock { entry in
            generation.add(1, ordering: .sequentiallyConsistent)
            entry = nil
        }
    }

    /// The list's replies as rendered, by what they show (``ActivityService``): most members
    /// read the same few lists, so each is written once.
    private let renders = Mutex<[Int: [ReplyBody]]>([:])

    /// The reply rendered for `key`, or `make`'s, kept for the next member who reads the same.
    func rendering(_ key: Int, _ make: () -> [ReplyBody]) -> [ReplyBody] {
        if let known = renders.withLock({ $0[key] }) { return known }
        let made = make()
        renders.withLock { renders in
            if renders.count >= 1_000 { renders.removeAll() }  // lists that changed: few live at once
            renders[key] = made
        }
        return made
    }

    /// Whether a read of the store is under way for a list gone stale.
    private let refreshing = Atomic<Bool>(false)

    /// The list as last read, while it is fresh. A list older than `lifetime` (but not forgotten
    /// by a change here) is still answered while one reader reads it again in the background, so
    /// that no member's message waits for the store because a second has passed.
    func fromMemory(_ store: UnionStore? = nil, at now: Int64 = 0) -> [(Activity, left: Int)]? {
        let (list, stale) = entry.withLock { entry -> ([(Activity, left: Int)]?, Bool) in
            guard let entry else { return (nil, false) }
            return (entry.activities, ContinuousClock.now - entry.read >= lifetime)
        }
        guard let list else { return nil }
        guard stale else { return list }
        guard let store,
            refreshing.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return store == nil ? nil : list }
        Task {
            defer { refreshing.store(false, ordering: .releasing) }
            _ = try? await self.read(store, at: now)
        }
        return list
    }

    /// The list, read from the store when it is not fresh: the open activities not begun at
    /// `now`, soonest first (500 at most), with their places left.
    func current(_ store: UnionStore, at now: Int64) async throws -> [(Activity, left: Int)] {
        if let known = fromMemory(store, at: now) { return known }
        return try await read(store, at: now)
    }

    /// Reads the list from the store and keeps it, unless a change happened meanwhile.
    private func read(_ store: UnionStore, at now: Int64) async throws -> [(Activity, left: Int)] {
        let started = ContinuousClock.now
        let before = generation.load(ordering: .sequentiallyConsistent)
        let activities = try await store.read { database in try await Activities.board(at: now, in: database) }
        entry.withLock { entry in
            if generation.load(ordering: .sequentiallyConsistent) == before {
                entry = Entry(read: started, activities: activities)
            }
        }
        return activities
    }
}
