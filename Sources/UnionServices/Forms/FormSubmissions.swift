import Foundation
import ReplyRules
import SQLKit

/// A submitted admin-defined form.
public struct FormSubmission: Sendable, Hashable, AnsweredRecord {
    static let table = "form_submissions"

    /// Gives the form submissions without a unit code their member's unit (records from before the
    /// organisation existed).
    static func assignUnitCodes(in database: any SQLDatabase) async throws {
        try await MembershipRegistry.giveUnitCodes(toRecordsIn: table, in: database)
    }

    static let recordName = "submission"

    /// The row id.
    public var id: Int
    /// The form's name.
    public var form: String
    /// The receipt number.
    public var number: String
    /// The member's openid.
    public var openid: String
    /// The code of the member's unit when they submitted it ('' when unknown).
    public var unitCode: String
    /// The answers, by field key.
    public var answers: [String: String]
    /// Where it is.
    public var status: Status = .received
    /// The union's reply, if any.
    public var reply: String?
    /// When it was submitted, Unix seconds.
    public var createdAt: Int64

    /// Where a submission is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case received
        case processing
        case approved
        case rejected
        case done

        /// The status in Chinese, for members and exports.
        public var chinese: String {
            switch self {
            case .received: "已受理"
            case .processing: "办理中"
            case .approved: "已通过"
            case .rejected: "未通过"
            case .done: "已办结"
            }
        }
    }
}

/// Submissions of the union's own forms.
public struct FormSubmissions: Sendable {
    let store: UnionStore

    /// Creates the list over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// A row of the `form_submissions` table.
    struct Row: Codable, Sendable {
        var id: Int?
        var form: String
        var number: String
        var openid: String
        var unitCode: String
        /// The answers, as JSON.
        var answers: String
        var status: FormSubmission.Status? = nil
        var reply: String? = nil
        var createdAt: Int64
        var messageKey: String?

        var submission: FormSubmission {
            get throws {
                FormSubmission(
                    id: id ?? 0, form: form, number: number, openid: openid, unitCode: unitCode,
                    answers: try JSONDecoder().decode([String: String].self, from: Data(answers.utf8)),
                    status: status ?? .received, reply: reply, createdAt: createdAt)
            }
        }
    }

    /// Stores a submission inside the caller's transaction; a retry of the same message returns
    /// the first submission.
    static func submit(
        form: String, prefix: String, openid: String, answers: [String: String], messageKey: String, at now: Int64,
        year: Int, in database: any SQLDatabase
    ) async throws -> FormSubmission {
        if let existing = try await select(in: database).where("message_key", .equal, messageKey).first(
            decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        {
            return try existing.submission
        }
        let row = Row(
            form: form, number: try await ReceiptNumbers.next(prefix: prefix, year: year, in: database),
            openid: openid, unitCode: try await MembershipRegistry.unitCode(of: openid, in: database),
            answers: String(decoding: try JSONEncoder.sorted.encode(answers), as: UTF8.self),
            createdAt: now, messageKey: messageKey)
        guard
            let stored = try await database.insert(into: "form_submissions")
                .model(row, keyEncodingStrategy: .convertToSnakeCase)
                .returning("*")
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("submission \(row.number) vanished after it was written") }
        return try stored.submission
    }

    /// The submissions of `form`, newest first.
    public func list(form: String) async throws -> [FormSubmission] {
        try await page(form: form, RecordFilter(), request: .all).items
    }

    /// A page of `form`'s submissions, newest first: those of the filter's units whose number or
    /// answers, or whose member's name or phone number, contain its search text.
    public func page(form: String, _ filter: RecordFilter, request: PageRequest) async throws -> Page<FormSubmission> {
        let dialect = store.dialect
        return try await store.page(
            from: "form_submissions", request: request,
            filter: { query in
                filter.restrict(
                    query.where("form", .equal, form), dialect: dialect, searching: ["number", "answers"],
                    byMember: true)
            }, decoding: Row.self, searching: filter.isSearching
        ).map { try $0.submission }
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from(FormSubmission.table)
    }

    /// The unit of submission `id`, if there is one.
    static func unitCode(ofSubmission id: Int, in database: any SQLDatabase) async throws -> String? {
        try await database.select().column("unit_code").from("form_submissions").where("id", .equal, id)
            .first(decodingColumn: "unit_code", as: String.self)
    }

    /// The member's submission `id`; nil when it is not theirs.
    static func submission(_ id: Int, of openid: String, in database: any SQLDatabase) async throws -> FormSubmission? {
        try await select(in: database).where("id", .equal, id).where("openid", .equal, openid)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.submission
    }

    /// The member's latest submissions, newest first.
    static func recent(for openid: String, limit: Int, in database: any SQLDatabase) async throws -> [FormSubmission] {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending).limit(limit)
            .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map { try $0.submission }
    }

    /// Changes a submission's status and the union's reply, and queues the notice to the member,
    /// in one transaction; 404 outside `actor`'s units.
    public func update(
        _ id: Int, form: String? = nil, status: FormSubmission.Status?, reply: String?, title: String? = nil,
        by actor: Principal = .commandLine, at now: Int64
    ) async throws -> FormSubmission {
        return try await StaffAnswers.answer(
            id, status: status, reply: reply, by: actor, at: now, in: store,
            load: { database in
                var query = Self.select(in: database).where("id", .equal, id)
                if let form { query = query.where("form", .equal, form) }
                return try await query.first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.submission
            },
            notice: { submission, given in
                let title = title ?? submission.form
                return Notice(
                    .submission,
                    fields: [
                        "number": submission.number, "form": title, "status": submission.status.chinese,
                        "reply": submission.reply ?? "",
                    ],
                    text: StaffAnswers.progressText(
                        subject: "「\(title)」", number: submission.number, status: submission.status.chinese,
                        reply: given, lookup: "我的申请"))
            })
    }
}
