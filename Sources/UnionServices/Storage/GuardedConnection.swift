import Logging
import NIOCore
import PostgresKit
import SQLKit

/// A leased PostgreSQL connection as the store uses it: once the connection itself has failed
/// (the server closed it or went away), no further statement is sent on it.
///
/// postgres-nio (1.33) leaves a statement that is sent on a connection it is still closing
/// waiting for ever. Without this guard, the `ROLLBACK TO SAVEPOINT` that follows a write cut off
/// by a stopped server would hold the store's writer, and with it every later write, until the
/// process restarts (found by the whole-system test: PostgreSQL stopped during a burst). With it,
/// the rollback fails at once, the group's messages go to the journal, and the pool replaces
/// the connection.
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
        return StoreUnavailable(underlying: StoreError("the PostgreSQL connection was lost"))
    }

    /// Marks the connection unusable when `error` is the connection's failure rather than the
    /// statement's (a constraint, a syntax error: the connection goes on after those).
    private func noting(_ error: any Error) -> any Error {
        if let error = error as? PSQLError, error.code != .server { broken.set() }
        return error
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void)
        -> EventLoopFuture<Void>
    {
        if let refusal { return eventLoop.makeFailedFuture(refusal) }
        return base.execute(sql: query, onRow).flatMapErrorThrowing { throw noting($0) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        if let refusal { throw refusal }
        do {
            try await base.execute(sql: query, onRow)
        } catch {
            throw noting(error)
        }
    }

    func withSession<Result>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        try await closure(self)  // a leased connection is already one session
    }
}
