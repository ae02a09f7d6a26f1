import PostgresKit

/// PostgreSQL's statement for the busiest write: a suggestion's receipt number taken and the
/// suggestion stored in one statement, prepared once per connection.
///
/// SQLite runs the two statements of ``SuggestionBox/submit(openid:content:messageKey:at:year:in:)``
/// in-process. On PostgreSQL each statement is a round trip, one after another on the writer's
/// connection, and an unnamed statement is planned again every time: the writer's pace. Here the
/// counter's insert is a `WITH` whose row the suggestion's insert reads, so a retry (a
/// suggestion already holds the message) takes no number and returns no row. The number is
/// formatted as ``ReceiptNumbers/format(prefix:year:sequence:)`` does (six digits at least);
/// `StoreTests.aSuggestionsNumberIsTheSameOnBothDatabases` reads it back on both databases.
struct NumberedSuggestionInsert: PostgresPreparedStatement {
    static let name = "uniongate_suggestion_numbered_insert"

    static let sql = """
        WITH "taken" AS (
            INSERT INTO "receipt_counters" ("prefix", "year", "last")
            SELECT 'JY', $1, 1 WHERE NOT EXISTS (SELECT 1 FROM "suggestions" WHERE "message_key" = $5)
            ON CONFLICT ("prefix", "year") DO UPDATE SET "last" = "receipt_counters"."last" + 1
            RETURNING "last")
        INSERT INTO "suggestions"
            ("number", "openid", "unit_code", "content", "status", "created_at", "updated_at", "message_key")
        SELECT 'JY-' || $1::text || '-' || lpad("taken"."last"::text, greatest(6, length("taken"."last"::text)), '0'),
            $2,
            coalesce((SELECT "unit_code" FROM "membership_applications" WHERE "openid" = $2 ORDER BY "id" DESC LIMIT 1), ''),
            $3, '\(Suggestion.Status.received.rawValue)', $4, $4, $5
        FROM "taken"
        RETURNING "id", "unit_code", "number"
        """

    struct Row: Sendable {
        var id: Int
        var unitCode: String
        var number: String
    }

    var year: Int
    var openid: String
    var content: String
    var now: Int64
    var messageKey: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(year)
        bindings.append(openid)
        bindings.append(content)
        bindings.append(now)
        bindings.append(messageKey)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (id, unitCode, number) = try row.decode((Int, String, String).self)
        return Row(id: id, unitCode: unitCode, number: number)
    }
}
