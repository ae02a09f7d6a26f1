import Logging
import SQLKit

/// The schema, as numbered migrations applied in order on start-up, each in its own transaction.
/// A migration once released is never edited: a change is a new migration.
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    static let all: [Migration] = [
        Migration(
            version: 1, name: "settings",
            statements: [
                """
                CREATE TABLE settings (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL,
                    updated_at INTEGER NOT NULL
                )
                """
            ])
    ]

    static func apply(to store: UnionStore, logger: Logger) async throws {
        try await store.transaction { database in
            try await database.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    applied_at INTEGER NOT NULL
                )
                """
            ).run()
        }
        let applied = try await store.read { database in
            try await database.raw("SELECT version FROM schema_migrations").all().map {
                try $0.decode(column: "version", as: Int.self)
            }
        }
        let newest = applied.max() ?? 0
        if let latest = all.last, newest > latest.version {
            throw StoreError("the database was written by a newer UnionGate (schema \(newest), this build knows \(latest.version))")
        }
        for migration in all where !applied.contains(migration.version) {
            try await store.transaction { database in
                for statement in migration.statements {
                    try await database.raw(SQLQueryString(statement)).run()
                }
                try await database.raw(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: UnixTime.now()))"
                ).run()
            }
            logger.info("applied database migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        }
    }
}

/// A store problem a person can act on.
public struct StoreError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The current time in Unix seconds.
public enum UnixTime {
    /// Now, in whole seconds since 1970.
    public static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }
}

import struct Foundation.Date
