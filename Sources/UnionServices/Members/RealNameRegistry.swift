import Foundation
import ReplyRules
import SQLKit

/// A person on the union's real-name roster (会员实名): imported from the union's existing
/// roster, or entered by a member on their pages. The 居民身份证 number and phone are kept sealed
/// with the ``DataKey``; what the rows show is masked.
public struct RosterEntry: Sendable, Hashable, Codable {
    public var id: Int
    public var unitCode: String
    public var name: String
    /// `110***********123X`, or '' when the roster had no number.
    public var idMask: String
    /// `138****5678`, or ''.
    public var phoneMask: String
    public var memberNumber: String
    /// `YYYY-MM-DD`, or ''.
    public var joinedOn: String
    /// The member's WeChat, once they bound it.
    public var openid: String?
    /// Where the row came from.
    public var source: Source
    public var createdAt: Int64
    public var updatedAt: Int64
    public var boundAt: Int64?

    /// Where a row came from.
    public enum Source: String, Sendable, Hashable, Codable, CaseIterable {
        /// The union's roster, imported by staff.
        case roster
        /// A member who joined through UnionGate and gave their identity on their pages.
        case member
    }
}

/// The union's real-name roster: members' identities sealed at rest, binding a member's WeChat
/// to their roster row, and the staff's view of it (masked unless the role may see identities,
/// every unmasking audited).
public struct RealNameRegistry: Sendable {
    let store: UnionStore
    let key: DataKey

    /// The registry over `store`, sealing with `key`.
    public init(store: UnionStore, key: DataKey) {
        self.store = store
        self.key = key
    }

    /// How many bindings that found nobody a member may try in a day.
    static let failedBindingsPerDay = 5

    /// A name as compared: without spaces, full-width forms folded.
    static func comparable(_ name: String) -> String {
        name.precomposedStringWithCompatibilityMapping.filter { !$0.isWhitespace && $0 != "·" && $0 != "•" }
    }

    /// The member's roster row, if they bound one.
    public func entry(for openid: String) async throws -> RosterEntry? {
        try await store.read { database in
            try await Self.select(in: database).where("openid", .equal, openid)
                .first(decoding: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// A roster row by id, within `actor`'s units.
    public func entry(_ id: Int, for actor: Principal) async throws -> RosterEntry {
        try actor.require(.read)
        guard
            let entry = try await store.read({ database in
                try await Self.select(in: database).where("id", .equal, id)
                    .first(decoding: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase)
            }), actor.scope.contains(entry.unitCode)
        else { throw AdminActionError(.notFound, "no roster entry \(id)") }
        return entry
    }

    /// A row's sealed identity and phone.
    struct SealedColumns: Decodable {
        var idSealed: String?
        var phoneSealed: String?
    }

    /// A row with its sealed values, both read from the same columns.
    struct SealedRow: Decodable {
        let entry: RosterEntry
        let sealed: SealedColumns
        init(from decoder: any Decoder) throws {
            entry = try RosterEntry(from: decoder)
            sealed = try SealedColumns(from: decoder)
        }
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns(
            "id", "unit_code", "name", "id_mask", "phone_mask", "member_number", "joined_on", "openid", "source",
            "created_at", "updated_at", "bound_at"
        ).from("member_roster")
    }

    // MARK: Members binding their WeChat

    /// What a member's 实名 or binding came to.
    public enum Binding: Sendable, Hashable {
        /// Bound to this roster row: the member is a member now.
        case bound(RosterEntry)
        /// The member had bound this row already.
        case alreadyBound(RosterEntry)
        /// The identity is bound to another WeChat: staff look at it (the case's number).
        case boundToAnother(caseNumber: String)
        /// Nobody on the roster has this name with this number: staff look at it.
        case noMatch(caseNumber: String)
        /// Too many bindings that matched nobody today: no more tries until tomorrow (nobody
        /// finds a stranger's row by guessing numbers).
        case tooManyAttempts
        /// The identity was recorded for the member (who joined through UnionGate).
        case recorded(RosterEntry)
    }

    /// A member who is on the roster binds their WeChat with their name and 身份证 number (or
    /// their name and phone). A match binds them, and they are a member at once; no match, or a
    /// row bound to someone else, opens a case for staff — never a stranger's row.
    ///
    /// A member who joined through UnionGate (an approved application) and is not on the roster
    /// gets a row of their own with their identity (`member` source).
    ///
    /// Five bindings that matched nobody (or someone bound) within a day stop further tries.
    public func bind(
        _ openid: String, name: String, identity: IdentityNumber?, phone: String?, book: RuleBook, at now: Int64
    ) async throws -> Binding {
        let wanted = Self.comparable(name)
        let idLookup = identity.map { key.lookup($0.value) }
        let phoneLookup = phone.map { key.lookup($0) }
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let sealedID = try identity.map { try key.seal($0.value) }
        let sealedPhone = try phone.map { try key.seal($0) }
        let binding = try await store.transaction { database -> Binding in
            if let mine = try await Self.select(in: database).where("openid", .equal, openid)
                .first(decoding: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase)
            {
                return .alreadyBound(mine)
            }
            let attempts = "bind:" + openid
            guard
                try await AuditLog.count("roster.bind_failed", record: attempts, since: now - 86_400, in: database)
                    < Self.failedBindingsPerDay
            else { return .tooManyAttempts }
            func failed() async throws {
                try await AuditLog.record(
                    .member(openid), action: "roster.bind_failed", record: attempts, unit: "", before: nil, after: nil,
                    at: now, in: database)
            }
            var candidates: [RosterEntry] = []
            if let idLookup {
                candidates = try await Self.select(in: database).where("id_lookup", .equal, idLookup)
                    .all(decoding: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase)
            } else if let phoneLookup {
                candidates = try await Self.select(in: database).where("phone_lookup", .equal, phoneLookup)
                    .all(decoding: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase)
            }
            let named = candidates.filter { Self.comparable($0.name) == wanted }
            if named.count == 1, var entry = named.first {
                guard entry.openid == nil else {
                    let number = try await Self.askStaff(
                        openid,
                        "有人用已绑定其他微信的会员身份申请绑定：\(entry.name)，会员编号 \(entry.memberNumber)"
                            + "（身份证 \(entry.idMask.isEmpty ? "未登记" : entry.idMask)）。请核实后处理（可在「会员名册」解除原绑定）。",
                        unit: entry.unitCode, book: book, at: now, year: year, in: database)
                    try await failed()
                    return .boundToAnother(caseNumber: number)
                }
                try await database.update("member_roster").set("openid", to: openid).set("bound_at", to: now)
                    .set("updated_at", to: now).where("id", .equal, entry.id).where("openid", .is, SQLLiteral.null)
                    .run()
                entry.openid = openid
                entry.boundAt = now
                let unit = book.join.organisation.units[entry.unitCode]?.name ?? entry.unitCode
                if try await MembershipRegistry.latest(for: openid, in: database)?.status != .approved {
                    _ = try await MembershipRegistry.recordRosterMember(
                        openid: openid, name: entry.name, phoneMask: entry.phoneMask, unit: unit,
                        unitCode: entry.unitCode, memberNumber: entry.memberNumber, at: now, year: year, in: database)
                }
                try await AuditLog.record(
                    .member(openid), action: "roster.bind", record: "roster:\(entry.memberNumber)",
                    unit: entry.unitCode, before: nil, after: ["via": identity == nil ? "phone" : "identity"], at: now,
                    in: database)
                return .bound(entry)
            }
            // Not on the roster: a member who joined through UnionGate records their identity.
            if candidates.isEmpty, let identity, let idLookup,
                let application = try await MembershipRegistry.latest(for: openid, in: database),
                application.status == .approved, Self.comparable(application.name) == wanted
            {
                let entry = RosterEntry(
                    id: 0, unitCode: application.unitCode, name: application.name, idMask: identity.masked,
                    phoneMask: phone.map(PersonalData.maskPhones) ?? "", memberNumber: application.number,
                    joinedOn: Self.day(application.decidedAt ?? application.createdAt, book: book), openid: openid,
                    source: .member, createdAt: now, updatedAt: now, boundAt: now)
                let id = try await Self.insert(
                    entry, idSealed: sealedID, idLookup: idLookup, phoneSealed: sealedPhone,
                    phoneLookup: phoneLookup, in: database)
                try await AuditLog.record(
                    .member(openid), action: "roster.identity", record: "roster:\(entry.memberNumber)",
                    unit: entry.unitCode, before: nil, after: nil, at: now, in: database)
                var stored = entry
                stored.id = id
                return .recorded(stored)
            }
            let what = identity.map { "身份证 \($0.masked)" } ?? phone.map { "手机 \(PersonalData.maskPhones($0))" } ?? ""
            let number = try await Self.askStaff(
                openid, "会员绑定没有匹配到名册：姓名 \(name)，\(what)。请核实：如是会员，请在「会员名册」导入或更正后请其重新绑定。",
                unit: book.join.organisation.root ?? "", book: book, at: now, year: year, in: database)
            try await failed()
            return .noMatch(caseNumber: number)
        }
        store.facts.forgetApplication(of: openid)
        return binding
    }

    /// Opens (or adds to) the member's case with a line staff must look at.
    static func askStaff(
        _ openid: String, _ text: String, unit: String, book: RuleBook, at now: Int64, year: Int,
        in database: any SQLDatabase
    ) async throws -> String {
        let (memberCase, _) = try await Inbox.receive(
            ("text", "【会员绑定待核实】" + text, nil), from: openid, key: "bind:\(openid):\(now):\(text.hashValue)",
            unit: unit, settings: book.cases, utcOffsetMinutes: book.settings.utcOffsetMinutes, at: now, year: year,
            in: database)
        return memberCase.number
    }

    static func day(_ unix: Int64, book: RuleBook) -> String {
        let time = LocalTime(unixSeconds: unix, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        return String(format: "%04d-%02d-%02d", time.year, time.month, time.day)
    }

    /// Inserts a row; returns its id.
    static func insert(
        _ entry: RosterEntry, idSealed: String?, idLookup: String?, phoneSealed: String?, phoneLookup: String?,
        in database: any SQLDatabase
    ) async throws -> Int {
        let rows = try await database.insert(into: "member_roster")
            .columns(
                "unit_code", "name", "id_sealed", "id_lookup", "id_mask", "phone_sealed", "phone_lookup", "phone_mask",
                "member_number", "joined_on", "openid", "source", "created_at", "updated_at", "bound_at"
            )
            .values(
                SQLBind(entry.unitCode), SQLBind(entry.name), SQLBind(idSealed), SQLBind(idLookup),
                SQLBind(entry.idMask), SQLBind(phoneSealed), SQLBind(phoneLookup), SQLBind(entry.phoneMask),
                SQLBind(entry.memberNumber), SQLBind(entry.joinedOn), SQLBind(entry.openid),
                SQLBind(entry.source.rawValue), SQLBind(entry.createdAt), SQLBind(entry.updatedAt),
                SQLBind(entry.boundAt)
            )
            .returning("id").all(decodingColumn: "id", as: Int.self)
        guard let id = rows.first else { throw StoreError("a roster row vanished after it was written") }
        return id
    }

    // MARK: Staff

    /// A page of the roster within the filter's units, newest first; the search looks in names
    /// and member numbers.
    public func page(_ filter: RecordFilter, request: PageRequest) async throws -> Page<RosterEntry> {
        let dialect = store.dialect
        return try await store.page(
            from: "member_roster", request: request,
            filter: { query in
                let query = Self.restrict(query, to: filter)
                let text = filter.search?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                guard !text.isEmpty else { return query }
                return query.where(group: { group in
                    group.where(dialect.contains(SQLColumn("name"), text))
                        .orWhere(dialect.contains(SQLColumn("member_number"), text))
                })
            }, decoding: RosterEntry.self, searching: filter.isSearching)
    }

    /// The filter's units, and bound or unbound rows when its status says so.
    static func restrict(_ query: SQLSelectBuilder, to filter: RecordFilter) -> SQLSelectBuilder {
        let query = filter.scope.restrict(query)
        guard let status = filter.status, status == "bound" || status == "unbound" else { return query }
        return query.where("openid", status == "bound" ? .isNot : .is, SQLLiteral.null)
    }

    /// The full 身份证 number and phone of a row, for a role that may see identities; audited.
    public func reveal(_ id: Int, by actor: Principal, at now: Int64) async throws
        -> (entry: RosterEntry, identity: String?, phone: String?)
    {
        try actor.require(.seeIdentity)
        let entry = try await entry(id, for: actor)
        let sealed = try await store.transaction { database -> SealedColumns? in
            try await AuditLog.record(
                actor, action: "roster.reveal", record: "roster:\(entry.memberNumber)", unit: entry.unitCode,
                before: nil, after: nil, at: now, in: database)
            return try await database.select().columns("id_sealed", "phone_sealed").from("member_roster")
                .where("id", .equal, id).first(decoding: SealedColumns.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        return (entry, try sealed?.idSealed.map(key.open), try sealed?.phoneSealed.map(key.open))
    }

    /// Unbinds a row's WeChat (staff found it bound to the wrong person); audited. The membership
    /// the binding gave ends with it (an application the member made stays); the right person
    /// then binds afresh.
    public func unbind(_ id: Int, by actor: Principal, at now: Int64) async throws -> RosterEntry {
        try actor.require(.decide)
        let found = try await entry(id, for: actor)
        guard let openid = found.openid else {
            throw AdminActionError(.conflict, "这位会员没有绑定微信。")
        }
        try await store.transaction { database in
            try await database.update("member_roster").set("openid", to: SQLLiteral.null)
                .set("bound_at", to: SQLLiteral.null).set("updated_at", to: now).where("id", .equal, id).run()
            if found.source == .roster {
                try await MembershipRegistry.revokeRosterMember(openid, at: now, in: database)
            }
            try await AuditLog.record(
                actor, action: "roster.unbind", record: "roster:\(found.memberNumber)", unit: found.unitCode,
                before: ["openid": PersonalData.maskOpenID(openid)], after: nil, at: now, in: database)
        }
        store.facts.forgetApplication(of: openid)
        var entry = found
        entry.openid = nil
        entry.boundAt = nil
        return entry
    }
}

// MARK: The roster import's reads and writes

extension RealNameRegistry {
    /// A roster row with its lookups, as an import compares it.
    struct Existing: Sendable {
        var entry: RosterEntry
        var identityLookup: String?
        var phoneLookup: String?
    }

    private struct Lookups: Decodable {
        var idLookup: String?
        var phoneLookup: String?
    }

    private static func existing(
        where column: String, in values: [String], database: any SQLDatabase
    ) async throws -> [Existing] {
        var found: [Existing] = []
        var start = 0
        while start < values.count {
            let chunk = Array(values[start..<min(start + 500, values.count)])
            start += 500
            for row in try await database.select().columns("*").from("member_roster").where(column, .in, chunk).all() {
                let lookups = try row.decode(model: Lookups.self, keyDecodingStrategy: .convertFromSnakeCase)
                found.append(
                    Existing(
                        entry: try row.decode(model: RosterEntry.self, keyDecodingStrategy: .convertFromSnakeCase),
                        identityLookup: lookups.idLookup, phoneLookup: lookups.phoneLookup))
            }
        }
        return found
    }

    /// The rows with these identity lookups, by lookup.
    static func existing(identityLookups: [String], in database: any SQLDatabase) async throws -> [String: Existing] {
        var byLookup: [String: Existing] = [:]
        for row in try await existing(where: "id_lookup", in: identityLookups, database: database) {
            if let lookup = row.identityLookup { byLookup[lookup] = row }
        }
        return byLookup
    }

    /// The rows with these member numbers, by number.
    static func existing(memberNumbers: [String], in database: any SQLDatabase) async throws -> [String: Existing] {
        var byNumber: [String: Existing] = [:]
        for row in try await existing(where: "member_number", in: memberNumbers, database: database) {
            byNumber[row.entry.memberNumber] = row
        }
        return byNumber
    }

    /// A row to write, its identity and phone already sealed.
    struct Sealed: Sendable {
        /// The row it changes; nil for a new one.
        var existing: Int?
        var unitCode: String
        var name: String
        var identitySealed: String?
        var identityLookup: String?
        var identityMask: String?
        var phoneSealed: String?
        var phoneLookup: String?
        var phoneMask: String?
        var memberNumber: String?
        var joinedOn: String?
    }

    /// Writes an import's rows inside the caller's transaction: new rows a few hundred to a
    /// statement, changed rows one by one (only what the file gave).
    static func write(_ rows: [Sealed], at now: Int64, in database: any SQLDatabase) async throws {
        let fresh = rows.filter { $0.existing == nil }
        var start = 0
        while start < fresh.count {
            let chunk = fresh[start..<min(start + 200, fresh.count)]
            start += 200
            var insert = database.insert(into: "member_roster").columns(
                "unit_code", "name", "id_sealed", "id_lookup", "id_mask", "phone_sealed", "phone_lookup", "phone_mask",
                "member_number", "joined_on", "source", "created_at", "updated_at")
            for row in chunk {
                insert = insert.values(
                    SQLBind(row.unitCode), SQLBind(row.name), SQLBind(row.identitySealed), SQLBind(row.identityLookup),
                    SQLBind(row.identityMask ?? ""), SQLBind(row.phoneSealed), SQLBind(row.phoneLookup),
                    SQLBind(row.phoneMask ?? ""), SQLBind(row.memberNumber ?? ""), SQLBind(row.joinedOn ?? ""),
                    SQLBind(RosterEntry.Source.roster.rawValue), SQLBind(now), SQLBind(now))
            }
            try await insert.run()
        }
        for row in rows {
            guard let id = row.existing else { continue }
            var update = database.update("member_roster").set("name", to: row.name).set("unit_code", to: row.unitCode)
                .set("updated_at", to: now)
            if let sealed = row.identitySealed, let lookup = row.identityLookup, let mask = row.identityMask {
                update = update.set("id_sealed", to: sealed).set("id_lookup", to: lookup).set("id_mask", to: mask)
            }
            if let sealed = row.phoneSealed, let lookup = row.phoneLookup, let mask = row.phoneMask {
                update = update.set("phone_sealed", to: sealed).set("phone_lookup", to: lookup)
                    .set("phone_mask", to: mask)
            }
            if let joined = row.joinedOn { update = update.set("joined_on", to: joined) }
            if let number = row.memberNumber { update = update.set("member_number", to: number) }
            try await update.where("id", .equal, id).run()
        }
    }
}

// MARK: Export

extension RealNameRegistry {
    /// The roster within the filter as CSV (UTF-8 with BOM, for Excel): identity and phone in
    /// full for a role that may see identities, masked for everyone else. The caller audits it.
    public func csv(_ filter: RecordFilter, for actor: Principal, unitName: (String) -> String) async throws -> String {
        try actor.require(.export)
        let reveal = actor.may(.seeIdentity)
        var lines = [["会员编号", "姓名", "单位", "身份证号", "手机号", "入会日期", "微信"].map(CSVExport.field).joined(separator: ",")]
        let key = key
        try await store.batches(
            from: "member_roster", size: 2_000, filter: { Self.restrict($0, to: filter) }, decoding: SealedRow.self,
            id: { $0.entry.id }
        ) { rows in
            for (row, sealed) in rows.map({ ($0.entry, $0.sealed) }) {
                let identity = reveal ? (try sealed.idSealed.map(key.open) ?? "") : row.idMask
                let phone = reveal ? (try sealed.phoneSealed.map(key.open) ?? "") : row.phoneMask
                lines.append(
                    [
                        row.memberNumber, row.name, unitName(row.unitCode), identity, phone, row.joinedOn,
                        row.openid == nil ? "未绑定" : "已绑定",
                    ].map(CSVExport.field).joined(separator: ","))
            }
        }
        return CSVExport.byteOrderMark + lines.joined(separator: "\r\n") + "\r\n"
    }
}
