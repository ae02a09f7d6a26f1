import Foundation
import ReplyRules
import SQLKit

/// A rationalisation suggestion (合理化建议).
public struct Suggestion: Sendable, Hashable, Codable, AnsweredRecord {
    /// The row id, used in the admin API's addresses.
    public var id: Int
    /// The receipt number, such as `JY-2026-000123`.
    public var number: String
    /// The member's openid.
    public var openid: String
    /// The code of the member's unit when they wrote it ('' when unknown).
    public var unitCode: String
    /// What the member suggested.
    public var content: String
    /// Where it is.
    public var status: Status
    /// The union's reply, if any.
    public var reply: String?
    /// When it was received, Unix seconds.
    public var createdAt: Int64
    /// When it last changed, Unix seconds.
    public var updatedAt: Int64

    static let table = "suggestions"

    /// Gives the suggestions without a unit code their member's unit (records from before the
    /// organisation existed).
    static func assignUnitCodes(in database: any SQLDatabase) async throws {
        try await MembershipRegistry.giveUnitCodes(toRecordsIn: table, in: database)
    }

    static let recordName = "suggestion"

    /// Where a suggestion is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Received, not yet looked at.
        case received
        /// Being studied.
        case reviewing = "under_review"
        /// Adopted.
        case adopted
        /// Not adopted.
        case notAdopted = "not_adopted"
        /// Adopted and rewarded.
        case rewarded

        /// The status in Chinese, for members and exports.
        public var chinese: String {
            switch self {
            case .received: "已收到"
            case .reviewing: "审议中"
            case .adopted: "已采纳"
            case .notAdopted: "未采纳"
            case .rewarded: "已采纳并奖励"
            }
        }
    }
}

/// The suggestion box: members' suggestions and their progress.
public struct SuggestionBox: Sendable {
    /// The fewest characters a suggestion may have.
    public static let minimumLength = 5
    /// The most characters a suggestion may have.
    public static let maximumLength = 1000

    let store: UnionStore

    /// Creates the box over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// Whether `content` is an acceptable suggestion; if not, what to tell the member.
    public static func problem(with content: String) -> String? {
        let count = content.count
        if count < minimumLength {
            return "建议内容太短了（至少 \(minimumLength) 个字），请把问题和您的想法写清楚一些。"
        }
        if count > maximumLength {
            return "建议内容太长了（最多 \(maximumLength) 个字，您写了 \(count) 个），请精简后再发，或分成几条发送。"
        }
        return nil
    }

    /// Stores a suggestion inside the caller's transaction. A retry of the same message (same
    /// `messageKey`) returns the first suggestion and stores nothing.
    static func submit(
        openid: String, content: String, messageKey: String, at now: Int64, year: Int, in database: any SQLDatabase
    )
        async throws -> Suggestion
    {
        let numbered = NumberedSuggestionInsert(
            year: year, openid: openid, content: content, now: now, messageKey: messageKey)
        if let rows = try await GuardedConnection.prepared(numbered, on: database) {
            guard let row = rows.first else {
                return try await stored(messageKey: messageKey, in: database)
            }
            return Suggestion(
                id: row.id, number: row.number, openid: openid, unitCode: row.unitCode, content: content,
                status: .received, reply: nil, createdAt: now, updatedAt: now)
        }
        // The number is taken only when no suggestion holds this message yet (one statement).
        guard
            let number = try await ReceiptNumbers.next(
                prefix: "JY", year: year, unlessStoredIn: Suggestion.table, messageKey: messageKey, in: database)
        else { return try await stored(messageKey: messageKey, in: database) }
        // The writer's unit is read by the insert itself: one statement fewer on the write path.
        let statement = CachedStatements.statement(
            "suggestion insert",
            binds: [number, openid, content, Suggestion.Status.received.rawValue, now, messageKey],
            on: database
        ) { database, bind in
            let unit = SQLFunction(
                "coalesce",
                args: SQLGroupExpression(MembershipRegistry.unitCodeQuery(of: bind[1], in: database).select),
                SQLLiteral.string(""))
            return database.insert(into: "suggestions")
                .columns(
                    "number", "openid", "unit_code", "content", "status", "created_at", "updated_at", "message_key"
                )
                .values(bind[0], bind[1], unit, bind[2], bind[3], bind[4], bind[4], bind[5])
                .returning("id", "unit_code").query
        }
        guard
            let stored = try await statement.first(decoding: Inserted.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("suggestion \(number) vanished after it was written") }
        return Suggestion(
            id: stored.id, number: number, openid: openid, unitCode: stored.unitCode, content: content,
            status: .received, reply: nil, createdAt: now, updatedAt: now)
    }

    /// What the insert of a suggestion returns.
    private struct Inserted: Decodable {
        var id: Int
        var unitCode: String
    }

    /// The suggestion a retry's first attempt stored.
    static func stored(messageKey: String, in database: any SQLDatabase) async throws -> Suggestion {
        guard
            let existing = try await select(in: database).where("message_key", .equal, messageKey).first(
                decoding: Suggestion.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("suggestion of message \(messageKey) vanished") }
        return existing
    }

    /// The member's most recent suggestions, newest first.
    public func recent(for openid: String, limit: Int = 5) async throws -> [Suggestion] {
        try await store.read { try await Self.recent(for: openid, limit: limit, in: $0) }
    }

    static func recent(for openid: String, limit: Int, in database: any SQLDatabase) async throws -> [Suggestion] {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending)
            .limit(limit).all(decoding: Suggestion.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    /// The member's suggestion `id`; nil when it is not theirs.
    static func suggestion(_ id: Int, of openid: String, in database: any SQLDatabase) async throws -> Suggestion? {
        try await select(in: database).where("id", .equal, id).where("openid", .equal, openid)
            .first(decoding: Suggestion.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    /// Every suggestion, newest first, optionally only those with `status`.
    public func list(status: Suggestion.Status? = nil) async throws -> [Suggestion] {
        try await page(RecordFilter(status: status?.rawValue), request: .all).items
    }

    /// A page of suggestions, newest first: those of the filter's units, with its status, whose
    /// number or text, or whose writer's name or phone number, contains its search text.
    public func page(_ filter: RecordFilter, request: PageRequest) async throws -> Page<Suggestion> {
        let dialect = store.dialect
        return try await store.page(
            from: "suggestions", request: request,
            filter: { query in
                filter.restrict(query, dialect: dialect, searching: ["number", "content"], byMember: true)
            }, decoding: Suggestion.self, searching: filter.isSearching)
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from(Suggestion.table)
    }

    /// Changes a suggestion's status and the union's reply, and queues the notice to the member,
    /// in one transaction. Either may be left out.
    public func update(
        _ id: Int, status: Suggestion.Status?, reply: String?, by actor: Principal = .commandLine, at now: Int64
    ) async throws -> Suggestion {
        var updated = try await StaffAnswers.answer(
            id, status: status, reply: reply, by: actor, at: now, in: store,
            load: { database in
                try await Self.select(in: database).where("id", .equal, id).first(
                    decoding: Suggestion.self, keyDecodingStrategy: .convertFromSnakeCase)
            },
            notice: { suggestion, given in
                Notice(
                    .suggestion,
                    fields: [
                        "number": suggestion.number, "summary": suggestion.content,
                        "status": suggestion.status.chinese, "reply": suggestion.reply ?? "",
                    ],
                    text: StaffAnswers.progressText(
                        subject: "合理化建议", number: suggestion.number, status: suggestion.status.chinese, reply: given,
                        lookup: "我的建议"))
            })
        updated.updatedAt = now
        store.facts.forgetSuggestions(of: updated.openid)
        return updated
    }
}

/// A member's suggestion as the writer stores it: on its own as
/// ``SuggestionBox/submit(openid:content:messageKey:at:year:in:)`` does, or on PostgreSQL together
/// with the suggestions of the same year that wait in its group, one statement for all of them.
struct SuggestionSubmission: BatchableWrite {
    var openid: String
    var content: String
    var messageKey: String
    var now: Int64
    var year: Int

    var batchKey: String { String(year) }

    /// One statement: a suggestion it gave no row is stored already, and ``run(in:)`` reads it.
    static var isOneStatement: Bool { true }

    func run(in database: any SQLDatabase) async throws -> Suggestion {
        try await SuggestionBox.submit(
            openid: openid, content: content, messageKey: messageKey, at: now, year: year, in: database)
    }

    static func runTogether(_ writes: [Self], in database: any SQLDatabase) async throws -> [Suggestion?]? {
        guard let first = writes.first else { return [] }
        let statement = NumberedSuggestionBatchInsert(
            year: first.year, openids: writes.map(\.openid), contents: writes.map(\.content),
            nows: writes.map(\.now), messageKeys: writes.map(\.messageKey))
        guard let rows = try await GuardedConnection.prepared(statement, on: database) else { return nil }
        let byKey = Dictionary(rows.map { ($0.messageKey, $0) }, uniquingKeysWith: { first, _ in first })
        return writes.map { write in
            byKey[write.messageKey].map { row in
                Suggestion(
                    id: row.id, number: row.number, openid: write.openid, unitCode: row.unitCode,
                    content: write.content, status: .received, reply: nil, createdAt: write.now,
                    updatedAt: write.now)
            }
        }
    }
}
