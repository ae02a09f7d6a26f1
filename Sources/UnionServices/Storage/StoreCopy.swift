import Foundation
import SQLKit

/// Copies a union's data from its SQLite file into an empty PostgreSQL database (`uniongate
/// migrate`): every table, in the order the migrations created them, in one PostgreSQL
/// transaction; the identity counters moved past the copied ids; the row counts compared before
/// the commit. A database that already holds data is refused, so a copy never mixes two unions.
public enum StoreCopy {
    /// One table's rows in the source and, after the copy, in the target.
    public struct TableCount: Sendable, Hashable {
        public var table: String
        public var source: Int
        public var target: Int
    }

    /// Rows read and written at a time.
    static let batch = 500

    /// Copies everything from `source` (SQLite) into `target` (PostgreSQL, empty).
    ///
    /// - Throws: ``StoreError`` when the stores are not SQLite and PostgreSQL, the target holds
    ///   data, a table is missing, or the counts differ (then nothing is committed).
    public static func copy(from source: UnionStore, to target: UnionStore) async throws -> [TableCount] {
        guard case .sqlite(let path) = source.location, path != ":memory:" else {
            throw StoreError("the source must be an SQLite file")
        }
        guard case .postgres = target.location else {
            throw StoreError("the target must be a postgres:// database")
        }
        let tables = try await source.read { database in
            try await database.raw(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            ).all().map { try $0.decode(column: "name", as: String.self) }
        }.filter { $0 != "schema_migrations" }
        let columns = try await target.read { database in
            try await database.raw(
                """
                SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns
                WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
                """
            ).all().map {
                TargetColumn(
                    table: try $0.decode(column: "table_name", as: String.self),
                    name: try $0.decode(column: "column_name", as: String.self),
                    type: try $0.decode(column: "data_type", as: String.self),
                    identity: try $0.decode(column: "is_identity", as: String.self) == "YES")
            }
        }
        let byTable = Dictionary(grouping: columns, by: \.table)
        for table in tables where byTable[table] == nil {
            throw StoreError("the target database has no table \(table): is it from an older UnionGate?")
        }
        for table in tables {
            let rows = try await target.read { try await $0.count(table) }
            if rows > 0 {
                throw StoreError(
                    "the target database is not empty (\(table) has \(rows) rows): migrate into an empty database")
            }
        }
        let sourceCounts = try await source.read { database in
            var counts: [String: Int] = [:]
            for table in tables { counts[table] = try await database.count(table) }
            return counts
        }
        return try await target.transaction { database in
            var result: [TableCount] = []
            for table in tables {
                let tableColumns = byTable[table] ?? []
                var offset = 0
                while true {
                    let from = offset
                    let rows = try await source.read { source in
                        try await source.select().columns(tableColumns.map { SQLColumn($0.name) }).from(table)
                            .orderBy(SQLColumn("rowid")).limit(batch).offset(from).all()
                    }
                    if rows.isEmpty { break }
                    let insert = database.insert(into: table).columns(tableColumns.map(\.name))
                    for row in rows {
                        _ = insert.values(try tableColumns.map { try $0.value(in: row) })
                    }
                    try await insert.run()
                    offset += rows.count
                }
                // Ids were copied as they were: the identity counter goes past them.
                for column in tableColumns where column.identity {
                    try await database.raw(
                        """
                        SELECT setval(pg_get_serial_sequence(\(bind: table), \(bind: column.name)),
                        (SELECT COALESCE(MAX(\(ident: column.name)), 0) + 1 FROM \(ident: table)), false)
                        """
                    ).run()
                }
                let copied = try await database.count(table)
                let expected = sourceCounts[table] ?? 0
                guard copied == expected else {
                    throw StoreError(
                        "\(table): \(expected) rows in the SQLite file, \(copied) copied; nothing was kept")
                }
                result.append(TableCount(table: table, source: expected, target: copied))
            }
            return result
        }
    }

    /// A column of the target, with the type its value is read as from SQLite.
    private struct TargetColumn: Sendable {
        var table: String
        var name: String
        var type: String
        var identity: Bool

        func value(in row: any SQLRow) throws -> any SQLExpression {
            switch type {
            case "bigint", "integer", "smallint": SQLBind(try row.decode(column: name, as: Int64?.self))
            case "bytea": SQLBind(try row.decode(column: name, as: Data?.self))
            case "boolean": SQLBind(try row.decode(column: name, as: Bool?.self))
            case "double precision", "real": SQLBind(try row.decode(column: name, as: Double?.self))
            default: SQLBind(try row.decode(column: name, as: String?.self))
            }
        }
    }
}
