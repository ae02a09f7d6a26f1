import SQLKit

/// Readable receipt numbers: `PREFIX-YEAR-NNNNNN`, counting from 1 each year, taken inside the
/// transaction that stores the thing they number.
enum ReceiptNumbers {
    static func next(prefix: String, year: Int, in database: any SQLDatabase) async throws -> String {
        try await database.raw(
            """
            INSERT INTO receipt_counters (prefix, year, last) VALUES (\(bind: prefix), \(bind: year), 1)
            ON CONFLICT (prefix, year) DO UPDATE SET last = receipt_counters.last + 1
            """
        ).run()
        guard
            let last = try await database.raw(
                "SELECT last FROM receipt_counters WHERE prefix = \(bind: prefix) AND year = \(bind: year)"
            ).first()?.decode(column: "last", as: Int.self)
        else { throw StoreError("receipt counter \(prefix)-\(year) vanished") }
        return format(prefix: prefix, year: year, sequence: last)
    }

    static func format(prefix: String, year: Int, sequence: Int) -> String {
        let digits = String(sequence)
        return "\(prefix)-\(year)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }
}
