import SQLKit

/// Readable receipt numbers: `PREFIX-YEAR-NNNNNN`, counting from 1 each year, taken inside the
/// transaction that stores the thing they number.
enum ReceiptNumbers {
    static func next(prefix: String, year: Int, in database: any SQLDatabase) async throws -> String {
        // One statement: the counter is bumped (or started) and read back together.
        let last = try await bumping(
            database.insert(into: "receipt_counters").columns("prefix", "year", "last")
                .values(SQLBind(prefix), SQLBind(year), SQLBind(1))
        ).first(decodingColumn: "last", as: Int.self)
        guard let last else { throw StoreError("receipt counter \(prefix)-\(year) returned nothing") }
        return format(prefix: prefix, year: year, sequence: last)
    }

    /// The next number, unless a row of `table` already holds `messageKey` (a retry of a message
    /// stored before): nil then, and no number is taken. One statement either way, its text
    /// kept (``CachedStatements``): it is on every suggestion's way.
    static func next(
        prefix: String, year: Int, unlessStoredIn table: String, messageKey: String, in database: any SQLDatabase
    ) async throws -> String? {
        let statement = CachedStatements.statement(
            "receipt number unless stored in \(table)", binds: [prefix, year, messageKey], on: database
        ) { database, bind in
            bumpUnlessStored(prefix: bind[0], year: bind[1], in: table, messageKey: bind[2], on: database)
        }
        let last = try await statement.first(decodingColumn: "last", as: Int.self)
        return last.map { format(prefix: prefix, year: year, sequence: $0) }
    }

    /// The insert that bumps the counter unless a row of `table` holds `messageKey`, returning
    /// the counter's new value as `last` (no row then).
    private static func bumpUnlessStored(
        prefix: SQLBind, year: SQLBind, in table: String, messageKey: SQLBind, on database: any SQLDatabase
    ) -> any SQLExpression {
        let stored = database.select().column(SQLFunction("count", args: SQLLiteral.all)).from(table)
            .where("message_key", .equal, messageKey)
        return bumping(
            database.insert(into: "receipt_counters").columns("prefix", "year", "last")
                .select {
                    $0.columns(prefix, year, SQLLiteral.numeric("1"))
                        .where(SQLGroupExpression(stored.select), .equal, SQLLiteral.numeric("0"))
                }
        ).query
    }

    /// `count` numbers in a row, taken in one statement (a roster import numbers thousands of
    /// members at once).
    static func reserve(_ count: Int, prefix: String, year: Int, in database: any SQLDatabase) async throws
        -> [String]
    {
        guard count > 0 else { return [] }
        let last = try await database.insert(into: "receipt_counters").columns("prefix", "year", "last")
            .values(SQLBind(prefix), SQLBind(year), SQLBind(count))
            .onConflict(with: ["prefix", "year"]) {
                $0.set(
                    "last",
                    to: SQLBinaryExpression(
                        left: SQLColumn("last", table: "receipt_counters"), op: SQLBinaryOperator.add,
                        right: SQLBind(count)))
            }
            .returning("last").first(decodingColumn: "last", as: Int.self)
        guard let last else { throw StoreError("receipt counter \(prefix)-\(year) returned nothing") }
        return (last - count + 1...last).map { format(prefix: prefix, year: year, sequence: $0) }
    }

    /// `insert` into the counters, adding one to the counter it meets, and returning the
    /// counter's new value (no row when it inserted nothing).
    private static func bumping(_ insert: SQLInsertBuilder) -> SQLReturningResultBuilder<SQLInsertBuilder> {
        insert
            .onConflict(with: ["prefix", "year"]) {
                $0.set(
                    "last",
                    to: SQLBinaryExpression(
                        left: SQLColumn("last", table: "receipt_counters"), op: SQLBinaryOperator.add,
                        right: SQLLiteral.numeric("1")))
            }
            .returning("last")
    }

    static func format(prefix: String, year: Int, sequence: Int) -> String {
        let digits = String(sequence)
        return "\(prefix)-\(year)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }
}
