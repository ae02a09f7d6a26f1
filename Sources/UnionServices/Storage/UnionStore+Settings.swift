import SQLKit

extension UnionStore {
    /// A stored setting, or nil.
    public func setting(_ key: String) async throws -> String? {
        try await read { database in
            try await database.raw("SELECT value FROM settings WHERE key = \(bind: key)").first()?
                .decode(column: "value", as: String.self)
        }
    }

    /// Stores `value` under `key` unless a value is there already, and returns what is stored.
    /// Two processes starting at once agree on one value.
    public func settingKeepingFirst(_ key: String, value: String) async throws -> String {
        try await transaction { database in
            try await database.raw(
                "INSERT INTO settings (key, value, updated_at) VALUES (\(bind: key), \(bind: value), \(bind: UnixTime.now())) ON CONFLICT (key) DO NOTHING"
            ).run()
            guard
                let stored = try await database.raw("SELECT value FROM settings WHERE key = \(bind: key)").first()?
                    .decode(column: "value", as: String.self)
            else { throw StoreError("setting \(key) vanished after it was written") }
            return stored
        }
    }
}
