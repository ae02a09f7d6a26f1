import Foundation
import SQLKit

/// A submitted admin-defined form.
public struct FormSubmission: Sendable, Hashable {
    /// The row id.
    public var id: Int
    /// The form's name.
    public var form: String
    /// The receipt number.
    public var number: String
    /// The member's openid.
    public var openid: String
    /// The answers, by field key.
    public var answers: [String: String]
    /// When it was submitted, Unix seconds.
    public var createdAt: Int64
}

/// Submissions of the union's own forms.
public struct FormSubmissions: Sendable {
    let store: UnionStore

    /// Creates the list over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// Stores a submission inside the caller's transaction; a retry of the same message returns
    /// the first submission.
    static func submit(
        form: String, prefix: String, openid: String, answers: [String: String], messageKey: String, at now: Int64,
        year: Int,
        in database: any SQLDatabase
    ) async throws -> FormSubmission {
        if let existing = try await database.raw(
            "SELECT * FROM form_submissions WHERE message_key = \(bind: messageKey)"
        ).first() {
            return try decode(existing)
        }
        let number = try await ReceiptNumbers.next(prefix: prefix, year: year, in: database)
        let encoded = String(decoding: try JSONEncoder.sorted.encode(answers), as: UTF8.self)
        try await database.raw(
            """
            INSERT INTO form_submissions (form, number, openid, answers, created_at, message_key)
            VALUES (\(bind: form), \(bind: number), \(bind: openid), \(bind: encoded), \(bind: now), \(bind: messageKey))
            """
        ).run()
        guard let row = try await database.raw("SELECT * FROM form_submissions WHERE number = \(bind: number)").first()
        else {
            throw StoreError("submission \(number) vanished after it was written")
        }
        return try decode(row)
    }

    /// The submissions of `form`, newest first.
    public func list(form: String) async throws -> [FormSubmission] {
        try await store.read { database in
            try await database.raw("SELECT * FROM form_submissions WHERE form = \(bind: form) ORDER BY id DESC").all()
                .map(Self.decode)
        }
    }

    static func decode(_ row: any SQLRow) throws -> FormSubmission {
        FormSubmission(
            id: try row.decode(column: "id", as: Int.self), form: try row.decode(column: "form", as: String.self),
            number: try row.decode(column: "number", as: String.self),
            openid: try row.decode(column: "openid", as: String.self),
            answers: try JSONDecoder().decode(
                [String: String].self, from: Data(try row.decode(column: "answers", as: String.self).utf8)),
            createdAt: try row.decode(column: "created_at", as: Int64.self))
    }
}
