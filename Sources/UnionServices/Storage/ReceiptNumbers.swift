import SQLKit

/// Readable receipt numbers: `PREFIX-YEAR-NNNNNN`, counting from 1 each year, taken inside the
/// transaction that stores the thing they number.
enum ReceiptNumbers {
    static func next(prefix: String, year: Int, in database: any SQLDatabase) async throws -> String {
        // One statement: the counter is bumped (or started) and read back together.
        let last = try await database.insert(into: "receipt_counters")
            .columns("prefix", "year", "last")
            .values(SQLBind(prefix), SQLBind(year), SQLBind(1))
            .onConflict(with: ["prefix", "year"]) {
                $0.set(
                    "last",
                    to: SQLBinaryExpression(
                        left: SQLColumn("last", table: "receipt_counters"), op: SQLBinaryOperator.add,
                        right: SQLLiteral.numeric("1")))
            }
            .returning("last")
            .first(decodingColumn: "last", as: Int.self)
        guard let last else { throw StoreError("receipt counter \(prefix)-\(year) returned nothing") }
        return format(prefix: prefix, year: year, sequence: last)
    }

    static func format(prefix: String, year: Int, sequence: Int) -> String {
        let digits = String(sequence)
        return "\(prefix)-\(year)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }
}
