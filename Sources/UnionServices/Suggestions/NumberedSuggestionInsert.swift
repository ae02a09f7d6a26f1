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

/// PostgreSQL's statement for the suggestions that wait in one group of the writer: their
/// receipt numbers taken by one update of the counter and the suggestions stored by one insert,
/// in the order they arrived, as one round trip (``SuggestionSubmission``).
///
/// A message already stored (WeChat's retry) takes no number and returns no row: its writer
/// reads the stored suggestion on its own. A message twice in the list (a retry in the same
/// group) is stored once, for its first place; both places get its row.
struct NumberedSuggestionBatchInsert: PostgresPreparedStatement {
    static let name = "uniongate_suggestion_numbered_batch_insert"

    static let sql = """
        WITH "input" AS (
            SELECT * FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[])
                WITH ORDINALITY AS "i"("openid", "content", "now", "message_key", "place")),
        "fresh" AS (
            SELECT "first".*, row_number() OVER (ORDER BY "place") AS "k"
            FROM (SELECT DISTINCT ON ("message_key") * FROM "input" ORDER BY "message_key", "place") AS "first"
            WHERE NOT EXISTS (SELECT 1 FROM "suggestions" WHERE "suggestions"."message_key" = "first"."message_key")),
        "taken" AS (
            INSERT INTO "receipt_counters" ("prefix", "year", "last")
            SELECT 'JY', $1, count(*) FROM "fresh" HAVING count(*) > 0
            ON CONFLICT ("prefix", "year") DO UPDATE SET "last" = "receipt_counters"."last" + "excluded"."last"
            RETURNING "last"),
        "numbered" AS (
            SELECT "fresh".*, ("taken"."last" - "total"."n" + "fresh"."k")::text AS "sequence"
            FROM "fresh" CROSS JOIN "taken" CROSS JOIN (SELECT count(*) AS "n" FROM "fresh") AS "total")
        INSERT INTO "suggestions"
            ("number", "openid", "unit_code", "content", "status", "created_at", "updated_at", "message_key")
        SELECT 'JY-' || $1::text || '-' || lpad("sequence", greatest(6, length("sequence")), '0'),
            "openid",
            coalesce((SELECT "unit_code" FROM "membership_applications" AS "a"
                WHERE "a"."openid" = "numbered"."openid" ORDER BY "id" DESC LIMIT 1), ''),
            "content", '\(Suggestion.Status.received.rawValue)', "now", "now", "message_key"
        FROM "numbered" ORDER BY "place"
        RETURNING "id", "unit_code", "number", "message_key"
        """

    struct Row: Sendable {
        var id: Int
        var unitCode: String
        var number: String
        var messageKey: String
    }

    var year: Int
    var openids: [String]
    var contents: [String]
    var nows: [Int64]
    var messageKeys: [String]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(year)
        bindings.append(openids)
        bindings.append(contents)
        bindings.append(nows)
        bindings.append(messageKeys)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (id, unitCode, number, messageKey) = try row.decode((Int, String, String, String).self)
        return Row(id: id, unitCode: unitCode, number: number, messageKey: messageKey)
    }
}
