import Logging
import NIOCore
import PostgresKit
import SQLKit
import Synchronization

/// A leased PostgreSQL connection as the store uses it: every statement comes back, with its
/// result or with ``StoreUnavailable``, even when the server cuts the connection under it.
///
/// postgres-nio (1.33) sends a statement by writing it to the connection's channel without a
/// promise for the write. When the channel closes between the caller's last look and that write
/// (PostgreSQL stopped, its backends killed), the write is dropped and the statement's own
/// promise is never completed: the caller would wait for ever. A member's message whose read hung
/// so was never answered nor stored, and a hung write held the store's writer and every later
/// write (both found by the whole-system test, PostgreSQL stopped during a burst). Reproduced by
/// `PostgresOutageTests` with 30 cuts: 2 calls hung; with the watch below, 3 and 15 statements
/// of about 4,000 were lost in two runs, and each caller was answered. So:
/// - once the connection itself has failed (not a statement: a constraint, a syntax error), no
///   further statement is sent on it;
/// - each statement runs in a task of its own while the caller waits for it or for the
///   connection to be found closed (looked at every second): then the caller gets
///   ``StoreUnavailable``, its messages go to the journal, and the pool replaces the connection.
///   A statement lost so leaves its task waiting; that costs a few hundred bytes per lost
///   statement, and only while the database is going away.
struct GuardedConnection: SQLDatabase {
    private let connection: PostgresConnection
    private let base: any SQLDatabase
    private let broken = Flag()

    init(_ connection: PostgresConnection) {
        self.connection = connection
        // No query is logged at any level: its binds are members' names, phone numbers and words.
        base = connection.sql(queryLogLevel: nil)
    }

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { nil }

    /// Why no statement is sent, or nil when the connection is usable.
    private var refusal: StoreUnavailable? {
        guard broken.isSet || connection.isClosed else { return nil }
        return Self.connectionLost
    }

    /// Marks the connection unusable when `error` is the connection's failure rather than the
    /// statement's (a constraint, a syntax error: the connection goes on after those).
    private static func noting(_ error: any Error, _ broken: Flag) -> any Error {
        if let error = error as? PSQLError, error.code != .server { broken.set() }
        return error
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void)
        -> EventLoopFuture<Void>
    {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let base = base
        try await guarded { try await base.execute(sql: query, onRow) }
    }

    /// Runs `statement` as a named prepared statement, prepared once per connection (the
    /// statements of the busiest writes: PostgreSQL plans an unnamed statement every time it
    /// is sent, which cost the suggestion's insert 0.65 ms of PostgreSQL's time against 0.25 ms
    /// prepared, pgbench, 2026-12-07), and returns its rows.
    func execute<Statement: PostgresPreparedStatement>(prepared statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        let (connection, logger) = (connection, base.logger)
        return try await guarded {
            var rows: [Statement.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// Runs `statement` prepared when `database` is a leased PostgreSQL connection; nil on any
    /// other database (SQLite), which runs its own statements instead.
    static func prepared<Statement: PostgresPreparedStatement>(_ statement: Statement, on database: any SQLDatabase)
        async throws -> [Statement.Row]? where Statement.Row: Sendable
    {
        guard let connection = database as? GuardedConnection else { return nil }
        return try await connection.execute(prepared: statement)
    }

    /// Runs `work`, one statement, unless the connection is known to be gone; answers when the
    /// statement does or when its connection is found closed, whichever is first.
    private func guarded<Result: Sendable>(_ work: @escaping @Sendable () async throws -> Result) async throws
        -> Result
    {
        if let refusal { throw refusal }
        let (base, connection, broken) = (base, connection, broken)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            let answer = AnswerOnce(continuation)
            let watch = connection.eventLoop.scheduleRepeatedTask(
                initialDelay: Self.lookEvery, delay: Self.lookEvery
            ) { watch in
                guard connection.isClosed else { return }
                watch.cancel()
                broken.set()
                if answer.resume(throwing: Self.connectionLost) {
                    Self.lost.add(1, ordering: .relaxed)
                    base.logger.warning("a statement was lost with its PostgreSQL connection; the caller is told so")
                }
            }
            Task {
                do {
                    let result = try await work()
                    watch.cancel()
                    answer.resume(returning: result)
                } catch {
                    watch.cancel()
                    answer.resume(throwing: Self.noting(error, broken))
                }
            }
        }
    }

    /// What a caller is told when its connection is gone.
    static let connectionLost = StoreUnavailable(underlying: StoreError("the PostgreSQL connection was lost"))

    /// How many statements this process lost with their connection (and answered itself).
    static let lost = Atomic<Int>(0)

    /// How often a statement in flight looks whether its connection is still open.
    static let lookEvery = TimeAmount.seconds(1)

    func withSession<Result>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        try await closure(self)  // a leased connection is already one session
    }
}

/// A continuation resumed by whichever comes first, the statement or the watch; later calls do
/// nothing.
private final class AnswerOnce<Result: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Result, any Error>?>

    init(_ continuation: CheckedContinuation<Result, any Error>) {
        self.continuation = Mutex(continuation)
    }

    /// Resumes with `error`; false when it was resumed before.
    @discardableResult
    func resume(throwing error: any Error) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(throwing: error)
        return true
    }

    /// Resumes with `result`; false when it was resumed before.
    @discardableResult
    func resume(returning result: Result) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(returning: result)
        return true
    }
}
