import SQLKit

/// Readable receipt numbers: `PREFIX-YEAR-NNNNNN`, counting from 1 each year, taken inside the
/// transaction that stores the thing they number.
enum ReceiptNumbers {
    static func next(prefix: String, year: Int, in database: any SQLDatabase) async throws -> String {
        try await database.insert(into: "receipt_counters")
            .columns("prefix", "year", "last")
            .values(SQLBind(prefix), SQLBind(year), SQLBind(1))
            .onConflict(with: ["prefix", "year"]) {
                $0.set(
                    "last",
                    to: SQLBinaryExpression(
                        left: SQLColumn("last", table: "receipt_counters"), op: SQLBinaryOperator.add,
                        right: SQLLiteral.numeric("1")))
            }
            .run()
        guard
            let last = try await database.select().column("last").from("receipt_counters")
                .where("prefix", .equal, prefix).where("year", .equal, year)
                .first(decodingColumn: "last", as: Int.self)
        else { throw StoreError("receipt counter \(prefix)-\(year) vanished") }
        return format(prefix: prefix, year: year, sequence: last)
    }

    static func format(prefix: String, year: Int, sequence: Int) -> String {
        let digits = String(sequence)
        return "\(prefix)-\(year)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }
}
