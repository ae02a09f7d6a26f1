import SQLKit

extension UnionStore {
    /// A stored setting, or nil.
    public func setting(_ key: String) async throws -> String? {
        try await read { database in try await Self.setting(key, in: database) }
    }

    /// A stored setting, inside the caller's transaction.
    static func setting(_ key: String, in database: any SQLDatabase) async throws -> String? {
        try await database.select().column("value").from("settings").where("key", .equal, key)
            .first(decodingColumn: "value", as: String.self)
    }

    /// Stores `value` under `key`, replacing what was there.
    public func setSetting(_ key: String, value: String) async throws {
        try await transaction { database in
            try await Self.setSetting(key, value: value, at: UnixTime.now(), in: database)
        }
    }

    /// Stores `value` under `key` inside the caller's transaction, replacing what was there.
    static func setSetting(_ key: String, value: String, at now: Int64, in database: any SQLDatabase) async throws {
        try await database.insert(into: "settings")
            .columns("key", "value", "updated_at")
            .values(SQLBind(key), SQLBind(value), SQLBind(now))
            .onConflict(with: ["key"]) { $0.set(excludedValueOf: "value").set(excludedValueOf: "updated_at") }
            .run()
    }
}

extension UnionStore {
    /// Stores `value` under `key` unless a value is there already; returns what is stored and
    /// whether it was this call that stored it. Two processes starting at once agree on one.
    public func settingInsertingIfAbsent(_ key: String, value: String) async throws -> (value: String, inserted: Bool) {
        try await transaction { database in
            if let stored = try await Self.setting(key, in: database) { return (stored, false) }
            try await Self.setSetting(key, value: value, at: UnixTime.now(), in: database)
            return (value, true)
        }
    }

    /// Removes the setting under `key` if its value starts with `prefix`.
    func removeSetting(_ key: String, ifValueStartsWith prefix: String) async throws {
        try await transaction { database in
            try await database.delete(from: "settings").where("key", .equal, key).where("value", .like, prefix + "%")
                .run()
        }
    }

    /// Removes the setting under `key`, if there is one.
    public func removeSetting(_ key: String) async throws {
        try await transaction { database in
            try await database.delete(from: "settings").where("key", .equal, key).run()
        }
    }
}
