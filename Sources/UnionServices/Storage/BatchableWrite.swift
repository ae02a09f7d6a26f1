import SQLKit
import Synchronization

/// A write the store's writer may run together with others of its kind, in one statement for
/// all of them, when they wait in the same group.
///
/// On PostgreSQL every statement of a group is a round trip on the writer's connection, and the
/// writer's task waits its turn on the gateway's busy threads between one answer and the next
/// statement: in a burst of suggestions that was most of a group's time (about 1.3 ms a
/// statement against PostgreSQL's 0.3 ms). A write of this kind is run through
/// ``runTogether(_:in:)`` with the others of its kind and key in its group; on its own (alone
/// in its group, on SQLite, or when its group runs again a savepoint each after a failure) it
/// runs ``run(in:)``. Both must give the same result for the same database.
protocol BatchableWrite: Sendable {
    associatedtype Result: Sendable

    /// Writes of one type with equal keys may run together.
    var batchKey: String { get }

    /// Whether ``runTogether(_:in:)`` is one statement on PostgreSQL, atomic on its own, and
    /// ``run(in:)`` after it (a write it gave no result) changes nothing twice: then a group that
    /// holds nothing but such writes runs without `BEGIN` and `COMMIT`, two round trips fewer.
    static var isOneStatement: Bool { get }

    /// The write on its own, inside the group's transaction.
    func run(in database: any SQLDatabase) async throws -> Result

    /// `writes` together, inside the group's transaction: each write's result in order, or nil for
    /// a write to run on its own afterwards; nil for all of them to run on their own (a database
    /// without a statement for them together).
    static func runTogether(_ writes: [Self], in database: any SQLDatabase) async throws -> [Result?]?
}

/// One write of a batch, type-erased for the writer's queue: what it is, and where its result goes.
struct WriteBatchEntry: Sendable {
    /// The write's type and key: entries with equal keys run together.
    let key: String
    /// The write and its result's place (a ``BatchSlot``).
    let slot: any Sendable
    /// The write type's ``BatchableWrite/isOneStatement``.
    let isOneStatement: Bool
    /// Runs entries of this key together and puts each one's result in its slot; false, having
    /// run nothing, when the database has no statement for them together.
    let runTogether: @Sendable ([any Sendable], any SQLDatabase) async throws -> Bool

    init<Write: BatchableWrite>(_ slot: BatchSlot<Write>) {
        key = "\(Write.self)|\(slot.write.batchKey)"
        self.slot = slot
        isOneStatement = Write.isOneStatement
        runTogether = { slots, database in
            let typed = slots.compactMap { $0 as? BatchSlot<Write> }
            guard typed.count == slots.count else {
                throw StoreError("writes of different kinds were batched together")
            }
            // Nothing ran: the writer runs each on its own, inside a transaction.
            guard let results = try await Write.runTogether(typed.map(\.write), in: database) else { return false }
            guard results.count == typed.count else {
                throw StoreError("\(Write.self) gave \(results.count) results for \(typed.count) writes")
            }
            for (slot, result) in zip(typed, results) {
                let value: Write.Result
                if let result { value = result } else { value = try await slot.write.run(in: database) }
                slot.result.withLock { $0 = value }
            }
            return true
        }
    }
}

/// A batched write and where its result goes.
final class BatchSlot<Write: BatchableWrite>: Sendable {
    let write: Write
    let result = Mutex<Write.Result?>(nil)

    init(_ write: Write) {
        self.write = write
    }

    /// Runs the write on its own and keeps its result.
    func run(in database: any SQLDatabase) async throws {
        let value = try await write.run(in: database)
        result.withLock { $0 = value }
    }
}
