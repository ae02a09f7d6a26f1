import SQLKit

/// The web console's sessions, kept in the store so that every gateway instance knows them. A
/// session is opaque JSON under a random key; it is gone once its expiry has passed.
public struct ConsoleSessions: Sendable {
    let store: UnionStore

    /// Sessions over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// A stored session: its JSON and when it expires (Unix seconds).
    public struct Entry: Sendable, Hashable, Decodable {
        public var value: String
        public var expiresAt: Int64
    }

    /// Stores `value` under `key` until `expiresAt`, replacing what was there.
    public func put(_ key: String, value: String, expiresAt: Int64) async throws {
        try await store.transaction { database in
            try await database.delete(from: "console_sessions").where("key", .equal, key).run()
            try await database.insert(into: "console_sessions").columns("key", "value", "expires_at")
                .values(SQLBind(key), SQLBind(value), SQLBind(expiresAt)).run()
        }
    }

    /// The session under `key`, unless it has expired at `now`.
    public func get(_ key: String, at now: Int64) async throws -> Entry? {
        try await store.read { database in
            try await database.select().columns("value", "expires_at").from("console_sessions")
                .where("key", .equal, key).where("expires_at", .greaterThan, now)
                .first(decoding: Entry.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// Forgets the session under `key`.
    public func remove(_ key: String) async throws {
        try await store.transaction { database in
            try await database.delete(from: "console_sessions").where("key", .equal, key).run()
        }
    }

    /// Forgets every session that expired before `now`; returns how many.
    @discardableResult
    public func purge(at now: Int64) async throws -> Int {
        try await store.transaction { database in
            let expired = try await database.count("console_sessions") {
                $0.where("expires_at", .lessThanOrEqual, now)
            }
            try await database.delete(from: "console_sessions").where("expires_at", .lessThanOrEqual, now).run()
            return expired
        }
    }
}
