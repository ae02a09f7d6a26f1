import Foundation
import ReplyRules
import SQLKit
import WeChatWire

/// A join-the-union application.
public struct MembershipApplication: Sendable, Hashable {
    /// The row id, used in the admin API's addresses.
    public var id: Int
    /// The application number, such as `RH-2026-000001`.
    public var number: String
    /// The member's openid.
    public var openid: String
    /// The applicant's name.
    public var name: String
    /// The applicant's mobile number.
    public var phone: String
    /// The unit or branch, by name.
    public var unit: String
    /// The unit's code in org.yaml ('' when the union has no organisation, or before it had).
    public var unitCode: String
    /// Answers to the union's own questions, by key.
    public var extra: [String: String]
    /// Where the application is.
    public var status: Status
    /// The reason given with a rejection.
    public var reason: String?
    /// When it was submitted, Unix seconds.
    public var createdAt: Int64
    /// When it was approved or rejected, Unix seconds.
    public var decidedAt: Int64?

    /// Where an application is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for the union office.
        case pending
        /// Approved: the applicant is a member.
        case approved
        /// Rejected, with a reason.
        case rejected

        /// The status in Chinese, for members and exports.
        public var chinese: String {
            switch self {
            case .pending: "审核中"
            case .approved: "已通过"
            case .rejected: "未通过"
            }
        }
    }
}

/// Why an admin action was refused.
public struct AdminActionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal.
    public enum Kind: Sendable, Hashable {
        /// Nothing has that id (404).
        case notFound
        /// The thing is not in a state that allows the action (409).
        case conflict
        /// The request's values are not acceptable (400).
        case invalid
        /// The role does not allow the action (403).
        case forbidden
    }

    /// What kind of refusal.
    public var kind: Kind
    /// What was wrong.
    public var message: String

    /// Creates a refusal.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Join applications, and who is a member.
public struct MembershipRegistry: MembershipDirectory {
    let store: UnionStore
    let utcOffsetMinutes: @Sendable () -> Int

    /// Creates the registry over `store`; `utcOffsetMinutes` gives the year of receipt numbers.
    public init(store: UnionStore, utcOffsetMinutes: @escaping @Sendable () -> Int = { 480 }) {
        self.store = store
        self.utcOffsetMinutes = utcOffsetMinutes
    }

    public func isMember(_ openid: String) async throws -> Bool {
        try await store.read { database in
            try await database.select().column("id").from("membership_applications")
                .where("openid", .equal, openid)
                .where("status", .equal, MembershipApplication.Status.approved.rawValue)
                .limit(1).first() != nil
        }
    }

    /// The member's most recent application.
    /// The names members gave when they applied, by openid (those who never applied are absent).
    public func names(of openids: [String]) async throws -> [String: String] {
        let unique = Array(Set(openids))
        return try await store.read { database in try await Self.names(of: unique, in: database) }
    }

    public func latest(for openid: String) async throws -> MembershipApplication? {
        try await store.read { try await Self.latest(for: openid, in: $0) }
    }

    static func latest(for openid: String, in database: any SQLDatabase) async throws -> MembershipApplication? {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending).limit(1)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application
    }

    /// Applications, newest first, optionally only those with `status`.
    public func list(status: MembershipApplication.Status? = nil) async throws -> [MembershipApplication] {
        try await page(RecordFilter(status: status?.rawValue), request: .all).items
    }

    /// A page of applications, newest first: those in the filter's units, with its status,
    /// whose name, phone number or application number contains its search text.
    public func page(_ filter: RecordFilter, request: PageRequest) async throws -> Page<MembershipApplication> {
        let dialect = store.dialect
        return try await store.page(
            from: "membership_applications", request: request,
            filter: { query in
                filter.restrict(query, dialect: dialect, searching: ["name", "phone", "number"], indexed: Self.indexed)
            }, decoding: Row.self, searching: filter.isSearching
        ).map(\.application)
    }

    /// Every application the filter leaves, newest first, in batches of `size` (for exports).
    public func batches(
        _ filter: RecordFilter, size: Int = 2_000, _ body: ([MembershipApplication]) async throws -> Void
    ) async throws {
        let dialect = store.dialect
        try await store.batches(
            from: "membership_applications", size: size,
            filter: { query in
                filter.restrict(query, dialect: dialect, searching: ["name", "phone", "number"], indexed: Self.indexed)
            },
            decoding: Row.self, id: { $0.id ?? 0 }
        ) { rows in try await body(rows.map(\.application)) }
    }

    /// Stores a new pending application inside the caller's transaction. A second call with the
    /// same `messageKey` (a WeChat retry) returns the first application and stores nothing.
    static func submit(
        openid: String, answers: [String: String], messageKey: String, at now: Int64, year: Int,
        in database: any SQLDatabase
    ) async throws -> MembershipApplication {
        if let existing = try await select(in: database).where("message_key", .equal, messageKey).first(
            decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        {
            return existing.application
        }
        let extra = answers.filter {
            !["name", "phone", "unit", "unit_code"].contains($0.key) && !$0.key.hasPrefix("_")
        }
        let row = Row(
            number: try await ReceiptNumbers.next(prefix: "RH", year: year, in: database), openid: openid,
            name: answers["name"] ?? "", phone: answers["phone"] ?? "", unit: answers["unit"] ?? "",
            unitCode: answers["unit_code"] ?? "",
            extra: String(decoding: try JSONEncoder.sorted.encode(extra), as: UTF8.self), status: .pending,
            createdAt: now, messageKey: messageKey, qrTicket: answers[FormConversation.qrTicketKey])
        guard
            let stored = try await database.insert(into: "membership_applications")
                .model(row, keyEncodingStrategy: .convertToSnakeCase)
                .returning("*")
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("application \(row.number) vanished after it was written") }
        return stored.application
    }

    /// The member's application `id`; nil when it is not theirs.
    static func application(_ id: Int, of openid: String, in database: any SQLDatabase) async throws
        -> MembershipApplication?
    {
        try await select(in: database).where("id", .equal, id).where("openid", .equal, openid)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application
    }

    /// The member's applications, newest first.
    static func all(of openid: String, limit: Int, in database: any SQLDatabase) async throws
        -> [MembershipApplication]
    {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending).limit(limit)
            .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map(\.application)
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("membership_applications")
    }

    /// The key under which a member bound from the union's roster is recorded in `extra`: their
    /// roster row's member number. Such a record is approved from the start (there was no
    /// application: the union already counted them as a member).
    public static let rosterKey = "_roster"

    /// Ends the membership a roster binding gave `openid` (staff unbound it: it was the wrong
    /// person), inside the caller's transaction. An application the member made stays as it is.
    static func revokeRosterMember(_ openid: String, at now: Int64, in database: any SQLDatabase) async throws {
        try await database.update("membership_applications")
            .set("status", to: MembershipApplication.Status.rejected.rawValue)
            .set("reason", to: "名册绑定已由工会解除").set("decided_at", to: now)
            .where("openid", .equal, openid).where("status", .equal, MembershipApplication.Status.approved.rawValue)
            .where("extra", .like, "%\"\(rosterKey)\"%")
            .run()
    }

    /// Records a member of the roster who bound their WeChat: an approved record with the
    /// roster's name, unit and masked phone, inside the caller's transaction (so 入会进度, the
    /// card, members-only services and the statistics know them at once).
    static func recordRosterMember(
        openid: String, name: String, phoneMask: String, unit: String, unitCode: String, memberNumber: String,
        at now: Int64, year: Int, in database: any SQLDatabase
    ) async throws -> MembershipApplication {
        let extra = String(
            decoding: try JSONEncoder.sorted.encode([rosterKey: memberNumber]), as: UTF8.self)
        let row = Row(
            number: try await ReceiptNumbers.next(prefix: "RH", year: year, in: database), openid: openid, name: name,
            phone: phoneMask, unit: unit, unitCode: unitCode, extra: extra, status: .approved, createdAt: now,
            decidedAt: now, messageKey: "roster:\(openid):\(memberNumber)", qrTicket: nil)
        guard
            let stored = try await database.insert(into: "membership_applications")
                .model(row, keyEncodingStrategy: .convertToSnakeCase)
                .returning("*")
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("the roster member \(memberNumber) vanished after it was written") }
        return stored.application
    }

    /// Gives records written before units had codes (before org.yaml, or by an older UnionGate)
    /// the code of the unit their name matches, where exactly one unit has that name; their
    /// suggestions and submissions follow the member. Returns how many applications it coded.
    /// Nothing to do costs one indexed query.
    public func assignUnitCodes(_ organisation: Organisation) async throws -> Int {
        guard !organisation.isEmpty else { return 0 }
        var byName: [String: String?] = [:]
        for unit in organisation.units.values where unit.parent != nil {
            byName[unit.name] = byName[unit.name] == nil ? unit.code : .some(nil)  // a name twice: ambiguous
        }
        let names = try await store.read { database in
            try await database.select().distinct().column("unit").from("membership_applications")
                .where("unit_code", .equal, "").all(decodingColumn: "unit", as: String.self)
        }
        let known = names.compactMap { name in byName[name].flatMap { $0 }.map { (name, $0) } }
        guard !known.isEmpty else { return 0 }
        return try await store.transaction { database in
            var coded = 0
            for (name, code) in known {
                coded += try await database.update("membership_applications").set("unit_code", to: code)
                    .where("unit_code", .equal, "").where("unit", .equal, name)
                    .returning("id").all().count
            }
            try await Suggestion.assignUnitCodes(in: database)
            try await FormSubmission.assignUnitCodes(in: database)
            return coded
        }
    }

    /// The unit of the member's latest application ('' when they have none): what their
    /// suggestions and submissions belong to.
    /// The names of these members (their latest applications'), by openid.
    static func names(of openids: [String], in database: any SQLDatabase) async throws -> [String: String] {
        guard !openids.isEmpty else { return [:] }
        struct Named: Decodable {
            var openid: String
            var name: String
        }
        var names: [String: String] = [:]
        for chunk in stride(from: 0, to: openids.count, by: 500).map({
            Array(openids[$0..<min($0 + 500, openids.count)])
        }) {
            let rows = try await database.select().columns("openid", "name").from("membership_applications")
                .where("openid", .in, chunk).orderBy("id").all(decoding: Named.self)
            for row in rows { names[row.openid] = row.name }
        }
        return names
    }

    static func unitCode(of openid: String, in database: any SQLDatabase) async throws -> String {
        try await unitCodeQuery(of: SQLBind(openid), in: database).first()?.decode(column: "unit_code", as: String.self)
            ?? ""
    }

    /// The query that reads the code of the unit in the member's latest application.
    static func unitCodeQuery(of openid: some SQLExpression, in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().column("unit_code").from("membership_applications")
            .where("openid", .equal, openid).orderBy("id", .descending).limit(1)
    }

    /// A row of the `membership_applications` table.
    struct Row: Codable, Sendable {
        var id: Int?
        var number: String
        var openid: String
        var name: String
        var phone: String
        var unit: String
        var unitCode: String
        /// Answers to the union's own questions, as JSON.
        var extra: String
        var status: MembershipApplication.Status
        var reason: String?
        var createdAt: Int64
        var decidedAt: Int64?
        var messageKey: String?
        var qrTicket: String?

        var application: MembershipApplication {
            MembershipApplication(
                id: id ?? 0, number: number, openid: openid, name: name, phone: phone, unit: unit, unitCode: unitCode,
                extra: (try? JSONDecoder().decode([String: String].self, from: Data(extra.utf8))) ?? [:],
                status: status, reason: reason, createdAt: createdAt, decidedAt: decidedAt)
        }
    }

    /// Approves a pending application and queues the notice to the member, in one transaction.
    public func approve(_ id: Int, by actor: Principal = .commandLine, at now: Int64) async throws
        -> MembershipApplication
    {
        try await decide(id, status: .approved, reason: nil, by: actor, at: now) { application in
            "恭喜！您的入会申请（编号 \(application.number)）已审核通过，欢迎加入工会大家庭！回复「福利」看看会员可以享受的服务。"
        }
    }

    /// Rejects a pending application with a reason and queues the notice, in one transaction.
    public func reject(_ id: Int, reason: String, by actor: Principal = .commandLine, at now: Int64) async throws
        -> MembershipApplication
    {
        try actor.require(.decide)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw AdminActionError(.invalid, "a rejection needs a reason") }
        return try await decide(id, status: .rejected, reason: reason, by: actor, at: now) { application in
            "您的入会申请（编号 \(application.number)）未通过审核，原因：\(reason)。如有疑问请联系工会，或回复「入会」重新申请。"
        }
    }

    private func decide(
        _ id: Int, status: MembershipApplication.Status, reason: String?, by actor: Principal, at now: Int64,
        notice: @escaping @Sendable (MembershipApplication) -> String
    ) async throws -> MembershipApplication {
        try actor.require(.decide)
        let application = try await store.transaction { database in
            // Outside the actor's part of the tree it does not exist, as far as they can tell.
            guard
                var application = try await Self.select(in: database).where("id", .equal, id).first(
                    decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application,
                actor.scope.contains(application.unitCode)
            else {
                throw AdminActionError(.notFound, "no application with id \(id)")
            }
            guard application.status == .pending else {
                throw AdminActionError(
                    .conflict, "application \(application.number) is already \(application.status.rawValue)")
            }
            try await database.update("membership_applications")
                .set("status", to: status.rawValue).set("reason", to: reason).set("decided_at", to: now)
                .where("id", .equal, id)
                .run()
            try await AuditLog.record(
                actor, action: status == .approved ? "member.approve" : "member.reject",
                record: "application:\(application.number)", unit: application.unitCode,
                before: ["status": application.status.rawValue],
                after: ["status": status.rawValue].merging(reason.map { ["reason": $0] } ?? [:]) { $1 }, at: now,
                in: database)
            application.status = status
            application.reason = reason
            application.decidedAt = now
            try await Outbox.enqueue(
                Notice(
                    .membership,
                    fields: [
                        "number": application.number, "name": application.name,
                        "result": status == .approved ? "已通过" : "未通过", "reason": reason ?? "",
                        "unit": application.unit,
                    ], text: notice(application)), to: application.openid, at: now, in: database)
            return application
        }
        store.facts.forgetApplication(of: application.openid)
        return application
    }
}

/// What other records ask of the applications: who a member is, and which unit they are in.
extension MembershipRegistry {
    /// Gives the records in `table` (a suggestion's or a form's owner names its own) that have
    /// no unit code the code of their member's latest application that has one.
    static func giveUnitCodes(toRecordsIn table: String, in database: any SQLDatabase) async throws {
        let latest = SQLSubquery.select { sub in
            sub.column("unit_code").from("membership_applications")
                .where(SQLColumn("openid", table: "membership_applications"), .equal, SQLColumn("openid", table: table))
                .orderBy(SQLColumn("id", table: "membership_applications"), SQLDirection.descending).limit(1)
        }
        try await database.update(table).set(SQLIdentifier("unit_code"), to: latest)
            .where("unit_code", .equal, "")
            .where(
                SQLColumn("openid"), .in,
                SQLSubquery.select { sub in
                    sub.column("openid").from("membership_applications").where("unit_code", .notEqual, "")
                }
            )
            .run()
    }

    /// The columns of `membership_applications` indexed by their pieces on PostgreSQL.
    static let indexed: Set<String> = ["name", "phone"]

    /// The openids of the applicants whose name or phone number contains `text`: a subquery for
    /// searching other records by the member who wrote them.
    static func applicants(matching text: String, dialect: StoreDialect) -> some SQLExpression {
        SQLSubquery.select { sub in
            sub.column("openid").from("membership_applications")
                .where(group: { inner in
                    inner.orWhere(dialect.contains(indexed: "name", text))
                        .orWhere(dialect.contains(indexed: "phone", text))
                })
        }
    }

    /// How many applications came through each QR code's ticket, by status.
    struct TicketCount: Decodable {
        var qrTicket: String
        var status: MembershipApplication.Status
        var n: Int
    }

    static func countsByTicket(in database: any SQLDatabase) async throws -> [TicketCount] {
        try await database.select().column("qr_ticket").column("status")
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("membership_applications")
            .where(SQLColumn("qr_ticket"), .isNot, SQLLiteral.null)
            .groupBy("qr_ticket").groupBy("status")
            .all(decoding: TicketCount.self, keyDecodingStrategy: .convertFromSnakeCase)
    }
}
