import SQLKit
import Synchronization

/// The statements of the busiest write (a suggestion), built with SQLKit's builders and
/// serialised once per kind of database, then run again and again with new binds.
///
/// Every group commit runs its bodies one after another on one connection, so whatever a body
/// spends before SQLite sees its statement delays every member behind it. Building and
/// serialising the two statements of a suggestion took about 15 % of the writer's time in
/// `scripts/bench` (perf, 2026-12-03); with the text kept, a statement costs one dictionary
/// lookup.
enum CachedStatements {
    /// The SQL text of each statement, per database kind, and the order in which its binds are
    /// written in that text.
    private static let texts = Mutex<[Key: Text]>([:])

    private struct Key: Hashable {
        let name: String
        let dialect: String
    }

    private struct Text {
        let sql: String
        /// For each placeholder of `sql`, in order, the index of the bind it stands for.
        let order: [Int]
    }

    /// The statement `name` with `binds`. `build` makes it from the binds' placeholders, in any
    /// order, and must put every other value in as a literal: it runs once per database kind,
    /// and its text is reused for every later call with the same name.
    static func statement(
        _ name: String, binds: [any Encodable & Sendable], on database: any SQLDatabase,
        build: (any SQLDatabase, [SQLBind]) -> any SQLExpression
    ) -> CachedStatement {
        let key = Key(name: name, dialect: database.dialect.name)
        let text =
            texts.withLock { $0[key] }
            ?? {
                var serializer = SQLSerializer(database: database)
                build(database, binds.indices.map { SQLBind(Marker(index: $0)) }).serialize(to: &serializer)
                let text = Text(
                    sql: serializer.sql, order: serializer.binds.map { ($0 as? Marker)?.index ?? -1 })
                precondition(
                    !text.order.contains(-1), "statement \(name) has a value that is not one of its binds")
                texts.withLock { $0[key] = text }
                return text
            }()
        return CachedStatement(
            query: SerializedText(sql: text.sql, binds: text.order.map { binds[$0] }), database: database)
    }

    /// Stands for the bind at `index` while a statement is serialised for the first time.
    private struct Marker: Encodable, Sendable {
        let index: Int
    }
}

/// SQL text and its binds, as ``CachedStatements`` serialised them.
private struct SerializedText: SQLExpression {
    let sql: String
    let binds: [any Encodable & Sendable]

    func serialize(to serializer: inout SQLSerializer) {
        serializer.write(sql)
        serializer.binds += binds
    }
}

/// A statement from ``CachedStatements``, run and read like any SQLKit builder's.
final class CachedStatement: SQLQueryFetcher {
    let query: any SQLExpression
    let database: any SQLDatabase

    fileprivate init(query: any SQLExpression, database: any SQLDatabase) {
        self.query = query
        self.database = database
    }
}
