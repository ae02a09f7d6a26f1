import Foundation
import SQLKit

/// One line of the audit log.
public struct AuditEntry: Sendable, Hashable {
    /// The row id.
    public var id: Int
    /// When, Unix seconds.
    public var at: Int64
    /// Who: `root`, `cli`, or a staff member's name.
    public var actor: String
    /// What, such as `member.approve` or `members.export`.
    public var action: String
    /// Which record, such as `application:RH-2026-000001`.
    public var record: String
    /// The unit the record belongs to ('' when none).
    public var unitCode: String
    /// The values it changed, before and after.
    public var before: [String: String]?
    public var after: [String: String]?
}

/// Who did what, when, to which record. Entries are written in the same transaction as the
/// action they record, so an action is never done without its entry; nothing changes or deletes
/// them.
public enum AuditLog {
    /// Records an action inside the caller's transaction.
    static func record(
        _ actor: Principal, action: String, record: String, unit: String, before: [String: String]?,
        after: [String: String]?, at now: Int64, in database: any SQLDatabase
    ) async throws {
        func json(_ values: [String: String]?) throws -> String? {
            try values.map { String(decoding: try JSONEncoder.sorted.encode($0), as: UTF8.self) }
        }
        try await database.insert(into: "audit_log")
            .columns("at", "actor", "action", "record", "unit_code", "before", "after")
            .values(
                SQLBind(now), SQLBind(actor.name), SQLBind(action), SQLBind(record), SQLBind(unit),
                SQLBind(try json(before)), SQLBind(try json(after))
            )
            .run()
    }

    /// Records an action in a transaction of its own (an export, which changes nothing else).
    public static func record(
        _ actor: Principal, action: String, record: String, unit: String = "", details: [String: String]? = nil,
        at now: Int64, in store: UnionStore
    ) async throws {
        try await store.transaction { database in
            try await Self.record(
                actor, action: action, record: record, unit: unit, before: nil, after: details, at: now, in: database)
        }
    }

    /// Entries newest first, those of `actor`'s part of the tree only (the whole log for the
    /// top unit's staff).
    public static func page(
        for actor: Principal, action: String? = nil, request: PageRequest, in store: UnionStore
    ) async throws -> Page<AuditEntry> {
        try actor.require(.administer)
        let filter: @Sendable (SQLSelectBuilder) -> SQLSelectBuilder = { query in
            var query = actor.scope.restrict(query)
            if let action { query = query.where("action", .equal, action) }
            return query
        }
        return try await store.page(from: "audit_log", request: request, filter: filter, decoding: Row.self)
            .map(\.entry)
    }

    /// How many times `action` was recorded on `record` since `since`.
    static func count(_ action: String, record: String, since: Int64, in database: any SQLDatabase) async throws -> Int
    {
        try await database.count("audit_log") {
            $0.where("record", .equal, record).where("action", .equal, action).where("at", .greaterThan, since)
        }
    }

    /// What was done to `record` (such as `suggestion:JY-2026-000001`), oldest first.
    static func history(of record: String, in database: any SQLDatabase) async throws -> [AuditEntry] {
        try await database.select().columns("*").from("audit_log").where("record", .equal, record)
            .orderBy("id", .ascending).limit(100)
            .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map(\.entry)
    }

    struct Row: Codable, Sendable {
        var id: Int
        var at: Int64
        var actor: String
        var action: String
        var record: String
        var unitCode: String
        var before: String?
        var after: String?

        var entry: AuditEntry {
            func values(_ text: String?) -> [String: String]? {
                text.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
            }
            return AuditEntry(
                id: id, at: at, actor: actor, action: action, record: record, unitCode: unitCode,
                before: values(before), after: values(after))
        }
    }
}
