import Foundation
import ReplyRules
import SQLKit
import Synchronization

/// How many messages members sent, and how many followed the account, per day: counted in
/// memory as messages are answered (the fast lane writes nothing), and added to the store's
/// `daily_counts` every few seconds by ``flush(to:)``, so that the console's overview can show
/// them. Each instance adds its own counts, so instances sharing a database add up.
///
/// Instances that share a database (``init(acrossInstances:)``) also keep each counted message's
/// key in `daily_count_keys`, and add only the keys not there yet: WeChat's retry of a message
/// that reaches another instance (whose ledger has not seen it) is not counted twice.
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

    /// Counts not yet written, and (across instances) the message keys behind them.
    private struct Pending {
        var counts: [Key: Int] = [:]
        var messages: [Key: Set<String>] = [:]
        var isEmpty: Bool { counts.isEmpty && messages.isEmpty }
    }

    private let pending = Mutex(Pending())
    /// Whether other instances count the same messages' retries.
    let acrossInstances: Bool

    /// Creates an empty counter; `acrossInstances` when instances share the database.
    public init(acrossInstances: Bool = false) {
        self.acrossInstances = acrossInstances
    }

    /// Counts one of `name` at `now`; `messageKey` (WeChat's id of the message or event) is what
    /// keeps a retry from being counted again on another instance.
    public func count(_ name: Name, at now: Int64, utcOffsetMinutes: Int, messageKey: String? = nil) {
        let key = Key(day: LocalTime.dayStart(now, utcOffsetMinutes: utcOffsetMinutes), name: name)
        pending.withLock {
            if acrossInstances, let messageKey {
                $0.messages[key, default: []].insert(messageKey)
            } else {
                $0.counts[key, default: 0] += 1
            }
        }
    }

    /// Whether counts wait to be written.
    public var isEmpty: Bool { pending.withLock { $0.isEmpty } }

    /// The most keys inserted by one statement, and by one transaction.
    static let keysPerStatement = 500

    /// Adds what was counted since the last flush to the store; when the store cannot write,
    /// what was not written is kept for the next flush.
    ///
    /// Message keys go in transactions of ``keysPerStatement`` each, every one adding to the
    /// day what its new keys add: a transaction goes through the store's writer, in a group
    /// with members' messages, and one transaction for a flush of 200,000 keys (a busy minute
    /// of a large account) held the writer's groups for over a second (`scripts/pg-bench`: 16
    /// suggestions past wrk's 2 s timeout, 2026-12-07). The plain counts go with the first.
    public func flush(to store: UnionStore) async throws {
        let taken = pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
        guard !taken.isEmpty else { return }
        var chunks: [(key: Key, messages: ArraySlice<String>)] = []
        for (key, messages) in taken.messages.sorted(by: { Self.order($0.key, $1.key) }) {
            let sorted = messages.sorted()
            for start in stride(from: 0, to: sorted.count, by: Self.keysPerStatement) {
                chunks.append((key, sorted[start..<min(start + Self.keysPerStatement, sorted.count)]))
            }
        }
        var plain = taken.counts
        var written = 0
        do {
            repeat {
                let chunk = written < chunks.count ? chunks[written] : nil
                let counts = plain
                // Not in the writer's groups: there the day's row would be locked together with
                // what the group's other writes lock (a receipt counter), in whatever order the
                // group holds them, and two instances' groups waited on each other until
                // PostgreSQL's deadlock timeout (1 s) broke one (pg-bench, three instances).
                try await store.separateTransaction { database in
                    var counts = counts
                    if let chunk {
                        // Only the keys no instance has counted yet add to the day.
                        var insert = database.insert(into: "daily_count_keys").columns("day", "name", "message_key")
                        for message in chunk.messages {
                            insert = insert.values(
                                SQLBind(chunk.key.day), SQLBind(chunk.key.name.rawValue), SQLBind(message))
                        }
                        let added = try await insert.ignoringConflicts(with: ["day", "name", "message_key"])
                            .returning("message_key").all().count
                        if added > 0 { counts[chunk.key, default: 0] += added }
                    }
                    for (key, count) in counts.sorted(by: { Self.order($0.key, $1.key) }) {
                        try await database.raw(
                            """
                            INSERT INTO daily_counts (day, name, count) VALUES (\(bind: key.day), \(bind: key.name.rawValue), \(bind: count))
                            ON CONFLICT (day, name) DO UPDATE SET count = daily_counts.count + excluded.count
                            """
                        ).run()
                    }
                }
                plain = [:]
                written += 1
            } while written < chunks.count
        } catch {
            pending.withLock { pending in
                for (key, count) in plain { pending.counts[key, default: 0] += count }
                for chunk in chunks[min(written, chunks.count)...] {
                    pending.messages[chunk.key, default: []].formUnion(chunk.messages)
                }
            }
            throw error
        }
        if let newest = taken.messages.keys.map(\.day).max() {
            // A retry comes within minutes: yesterday's keys are the oldest still needed.
            try await store.transaction { database in
                try await database.delete(from: "daily_count_keys").where("day", .lessThan, newest - 86_400).run()
            }
        }
    }

    /// Days, then names: the order counts are written in (two instances' flushes never wait
    /// on each other's rows in opposite orders).
    private static func order(_ left: Key, _ right: Key) -> Bool {
        (left.day, left.name.rawValue) < (right.day, right.name.rawValue)
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
