import Foundation
import Synchronization

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

    /// The list as last read, while it is fresh.
    func fromMemory() -> [(Activity, left: Int)]? {
        entry.withLock { entry in
            guard let entry, ContinuousClock.now - entry.read < lifetime else { return nil }
            return entry.activities
        }
    }

    /// The list, read from the store when it is not fresh: the open activities not begun at
    /// `now`, soonest first (500 at most), with their places left.
    func current(_ store: UnionStore, at now: Int64) async throws -> [(Activity, left: Int)] {
        if let known = fromMemory() { return known }
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
