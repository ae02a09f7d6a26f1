import Foundation
import Logging
import SQLKit
import SQLiteKit

/// The gateway's data: one SQLite file by default (WAL mode, fully synchronous commits).
///
/// Every read and write runs through ``transaction(_:)`` or ``read(_:)`` on one connection,
/// one at a time, so a reply that promises something is sent only after its data is committed.
/// Queries are written with SQLKit's builders and `Codable` rows; what differs between
/// databases is in ``StoreDialect``.
public final class UnionStore: Sendable {
    /// The file, or `:memory:`.
    public let path: String
    let dialect: StoreDialect
    private let connection: SQLiteConnection
    private let database: any SQLDatabase
    private let mutex = AsyncMutex()

    private init(path: String, connection: SQLiteConnection) {
        self.path = path
        self.connection = connection
        self.dialect = .sqlite(inMemory: path == ":memory:")
        self.database = connection.sql(queryLogLevel: .trace)
    }

    /// Opens (creating if needed) the store at `path` (`:memory:` for a throwaway one) and
    /// brings its schema up to date.
    public static func open(path: String, logger: Logger) async throws -> UnionStore {
        if path != ":memory:" {
            // Members' names and phone numbers: readable by this user only. SQLite gives the
            // -wal and -shm files the database file's mode.
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            } else {
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            }
        }
        let storage: SQLiteConnection.Storage = path == ":memory:" ? .memory : .file(path: path)
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let store = UnionStore(path: path, connection: connection)
        do {
            try await store.dialect.configure(store.database)
            try await Migrations.apply(to: store, logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        return store
    }

    /// Runs `body` in one transaction: all of its writes are committed together, or none are.
    public func transaction<Result: Sendable>(
        _ body: @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        await mutex.lock()
        do {
            try await dialect.beginWrite(database)
            do {
                let result = try await body(database)
                try await dialect.commit(database)
                await mutex.unlock()
                return result
            } catch {
                try? await dialect.rollback(database)
                throw error
            }
        } catch {
            await mutex.unlock()
            throw error
        }
    }

    /// Runs `body`, which only reads, without interleaving with a transaction.
    public func read<Result: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> Result) async throws
        -> Result
    {
        await mutex.lock()
        do {
            let result = try await body(database)
            await mutex.unlock()
            return result
        } catch {
            await mutex.unlock()
            throw error
        }
    }

    /// Closes the connection. The store cannot be used afterwards.
    public func close() async {
        await mutex.lock()
        try? await connection.close()
        await mutex.unlock()
    }
}
