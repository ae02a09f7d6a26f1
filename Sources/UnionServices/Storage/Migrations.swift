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
            ]),
        Migration(
            version: 2, name: "union services",
            statements: [
                // Receipt numbers: one counter per prefix and year (JY-2026-000123).
                """
                CREATE TABLE receipt_counters (
                    prefix TEXT NOT NULL,
                    year INTEGER NOT NULL,
                    last INTEGER NOT NULL,
                    PRIMARY KEY (prefix, year)
                )
                """,
                // Join applications. message_key makes a retried confirmation store nothing twice.
                """
                CREATE TABLE membership_applications (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    number TEXT NOT NULL UNIQUE,
                    openid TEXT NOT NULL,
                    name TEXT NOT NULL,
                    phone TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    extra TEXT NOT NULL DEFAULT '{}',
                    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
                    reason TEXT,
                    created_at INTEGER NOT NULL,
                    decided_at INTEGER,
                    message_key TEXT UNIQUE
                )
                """,
                "CREATE INDEX membership_applications_openid ON membership_applications (openid, id)",
                "CREATE INDEX membership_applications_status ON membership_applications (status, id)",
                """
                CREATE TABLE suggestions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    number TEXT NOT NULL UNIQUE,
                    openid TEXT NOT NULL,
                    content TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('received', 'under_review', 'adopted', 'not_adopted', 'rewarded')),
                    reply TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    message_key TEXT UNIQUE
                )
                """,
                "CREATE INDEX suggestions_openid ON suggestions (openid, id)",
                """
                CREATE TABLE form_submissions (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    form TEXT NOT NULL,
                    number TEXT NOT NULL UNIQUE,
                    openid TEXT NOT NULL,
                    answers TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    message_key TEXT UNIQUE
                )
                """,
                "CREATE INDEX form_submissions_form ON form_submissions (form, id)",
                // Where each member is in a form; a finished row keeps its reply for WeChat's retries.
                """
                CREATE TABLE conversations (
                    openid TEXT PRIMARY KEY NOT NULL,
                    form TEXT NOT NULL,
                    step INTEGER NOT NULL,
                    answers TEXT NOT NULL,
                    finished_key TEXT,
                    finished_reply TEXT,
                    updated_at INTEGER NOT NULL
                )
                """,
                // Messages to send later through WeChat's customer-service API, queued in the same
                // transaction as the change that causes them.
                """
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    openid TEXT NOT NULL,
                    account TEXT NOT NULL DEFAULT '',
                    bodies TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'held')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    next_attempt_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    sent_at INTEGER
                )
                """,
                "CREATE INDEX outbox_due ON outbox (status, next_attempt_at)",
            ]),
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
            throw StoreError(
                "the database was written by a newer UnionGate (schema \(newest), this build knows \(latest.version))")
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
            logger.info(
                "applied database migration",
                metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
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
