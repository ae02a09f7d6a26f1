import Foundation
import ReplyRules
import SQLKit
import Synchronization

/// How many messages members sent, and how many followed the account, per day: counted in
/// memory as messages are answered (the fast lane writes nothing), and added to the store's
/// `daily_counts` every few seconds by ``flush(to:)``, so that the console's overview can show
/// them. Each instance adds its own counts, so instances sharing a database add up.
public final class DailyCounts: Sendable {
    /// What is counted.
    public enum Name: String, Sendable, CaseIterable {
        /// A message or menu tap from a member (a new follower's subscribe event included).
        case messages
        /// A subscribe event: someone followed the account.
        case followers
    }

    private struct Key: Hashable {
        var day: Int64
        var name: Name
    }

    private let pending = Mutex<[Key: Int]>([:])

    /// Creates an empty counter.
    public init() {}

    /// Counts one of `name` at `now`.
    public func count(_ name: Name, at now: Int64, utcOffsetMinutes: Int) {
        let key = Key(day: LocalTime.dayStart(now, utcOffsetMinutes: utcOffsetMinutes), name: name)
        pending.withLock { $0[key, default: 0] += 1 }
    }

    /// Whether counts wait to be written.
    public var isEmpty: Bool { pending.withLock { $0.isEmpty } }

    /// Adds what was counted since the last flush to the store, in one transaction; when the
    /// store cannot write, the counts are kept for the next flush.
    public func flush(to store: UnionStore) async throws {
        let taken = pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        guard !taken.isEmpty else { return }
        do {
            try await store.transaction { database in
                for (key, count) in taken.sorted(by: {
                    ($0.key.day, $0.key.name.rawValue) < ($1.key.day, $1.key.name.rawValue)
                }) {
                    try await database.raw(
                        """
                        INSERT INTO daily_counts (day, name, count) VALUES (\(bind: key.day), \(bind: key.name.rawValue), \(bind: count))
                        ON CONFLICT (day, name) DO UPDATE SET count = daily_counts.count + excluded.count
                        """
                    ).run()
                }
            }
        } catch {
            pending.withLock { pending in
                for (key, count) in taken { pending[key, default: 0] += count }
            }
            throw error
        }
    }

    /// The stored counts of `name` for the 30 days from `start` (a day's start), oldest first.
    static func last30Days(_ name: Name, from start: Int64, in database: any SQLDatabase) async throws -> [Int] {
        struct Row: Decodable {
            var day: Int64
            var count: Int
        }
        let rows = try await database.select().columns("day", "count").from("daily_counts")
            .where("name", .equal, name.rawValue).where("day", .greaterThanOrEqual, start)
            .all(decoding: Row.self)
        var days = Array(repeating: 0, count: 30)
        for row in rows {
            let index = Int((row.day - start) / 86_400)
            if (0..<30).contains(index) { days[index] += row.count }
        }
        return days
    }
}
