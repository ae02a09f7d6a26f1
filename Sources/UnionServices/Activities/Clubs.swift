import Foundation
import ReplyRules
import SQLKit

/// Clubs and volunteer teams: declared by staff (audited), joined by members who ask in the chat
/// or on their pages and are approved by the club's leader or staff; a club's activities may be
/// for its members only. A member asks once however often the message comes.
public struct Clubs: Sendable {
    let store: UnionStore

    public init(store: UnionStore) {
        self.store = store
    }

    /// What staff write when they declare or change a club.
    public struct Draft: Sendable, Hashable {
        public var name: String
        public var unitCode: String
        public var description: String
        public var leader: String
        public var volunteer: Bool
        public var status: Club.Status

        public init(
            name: String, unitCode: String, description: String = "", leader: String = "", volunteer: Bool = false,
            status: Club.Status = .open
        ) {
            self.name = name
            self.unitCode = unitCode
            self.description = description
            self.leader = leader
            self.volunteer = volunteer
            self.status = status
        }
    }

    struct Row: Codable, Sendable {
        var id: Int?
        var name: String
        var unitCode: String
        var description: String
        var leader: String
        var volunteer: Int
        var status: Club.Status
        var createdBy: String
        var createdAt: Int64
        var updatedAt: Int64

        var club: Club {
            Club(
                id: id ?? 0, name: name, unitCode: unitCode, description: description, leader: leader,
                volunteer: volunteer != 0, status: status, createdAt: createdAt, updatedAt: updatedAt)
        }
    }

    struct MemberRow: Codable, Sendable {
        var id: Int?
        var clubId: Int
        var openid: String
        var unitCode: String
        var status: ClubMembership.Status
        /// `club:openid` while the request waits or the member belongs; NULL after (unique).
        var activeKey: String?
        var messageKey: String?
        var reason: String?
        var decidedBy: String?
        var createdAt: Int64
        var decidedAt: Int64?

        var membership: ClubMembership {
            ClubMembership(
                id: id ?? 0, clubId: clubId, openid: openid, unitCode: unitCode, status: status, reason: reason,
                decidedBy: decidedBy, createdAt: createdAt, decidedAt: decidedAt)
        }
    }

    static func club(_ id: Int, in database: any SQLDatabase) async throws -> Club? {
        try await database.select().columns("*").from("clubs").where("id", .equal, id)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.club
    }

    static func active(_ id: Int, _ openid: String, in database: any SQLDatabase) async throws -> MemberRow? {
        try await database.select().columns("*").from("club_members").where("active_key", .equal, "\(id):\(openid)")
            .first(decoding: MemberRow.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    /// Whether `openid` belongs to club `id` (approved, not left).
    static func isMember(_ openid: String, of id: Int, in database: any SQLDatabase) async throws -> Bool {
        try await active(id, openid, in: database)?.status == .approved
    }

    /// The clubs `openid` belongs to.
    static func clubIds(of openid: String, in database: any SQLDatabase) async throws -> Set<Int> {
        Set(
            try await database.select().column("club_id").from("club_members").where("openid", .equal, openid)
                .where("status", .equal, ClubMembership.Status.approved.rawValue).all()
                .map { try $0.decode(column: "club_id", as: Int.self) })
    }

    /// Whether `actor` may see and act for `club`: staff of its unit or above, or its leader's
    /// account.
    static func sees(_ actor: Principal, _ club: Club, organisation: Organisation) -> Bool {
        actor.club == club.id || actor.scope.contains(club.unitCode.isEmpty ? (organisation.root ?? "") : club.unitCode)
    }

    // MARK: Staff

    static func check(_ draft: Draft, by actor: Principal, organisation: Organisation) throws {
        guard actor.may(.decide) || actor.may(.editRules) else {
            throw AdminActionError(.forbidden, "the \(actor.role.rawValue) role may not manage clubs")
        }
        guard actor.club == nil else { throw AdminActionError(.forbidden, "俱乐部负责人不能新建或修改俱乐部") }
        let name = draft.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...32).contains(name.count) else { throw AdminActionError(.invalid, "俱乐部名称应为 1–32 个字") }
        guard draft.description.count <= 2000, draft.leader.count <= 64 else {
            throw AdminActionError(.invalid, "介绍最多 2000 字，负责人最多 64 字")
        }
        if !draft.unitCode.isEmpty, organisation.units[draft.unitCode] == nil {
            throw AdminActionError(.invalid, "没有代码为 \(draft.unitCode) 的单位")
        }
        guard actor.scope.contains(draft.unitCode.isEmpty ? (organisation.root ?? "") : draft.unitCode) else {
            throw AdminActionError(.forbidden, "只能为本单位及下级单位设立俱乐部")
        }
    }

    /// Declares a club, audited.
    public func create(_ draft: Draft, by actor: Principal, organisation: Organisation, at now: Int64) async throws
        -> Club
    {
        try Self.check(draft, by: actor, organisation: organisation)
        return try await store.transaction { database in
            let row = Row(
                name: draft.name.trimmingCharacters(in: .whitespacesAndNewlines), unitCode: draft.unitCode,
                description: draft.description, leader: draft.leader, volunteer: draft.volunteer ? 1 : 0,
                status: draft.status, createdBy: actor.name, createdAt: now, updatedAt: now)
            guard
                let club = try await database.insert(into: "clubs").model(row, keyEncodingStrategy: .convertToSnakeCase)
                    .returning("*").first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.club
            else { throw StoreError("club \(draft.name) vanished after it was written") }
            try await AuditLog.record(
                actor, action: "club.create", record: "club:\(club.id)", unit: club.unitCode, before: nil,
                after: Self.summary(club), at: now, in: database)
            return club
        }
    }

    /// Changes a club, audited; 404 outside the actor's part of the tree.
    public func update(_ id: Int, _ draft: Draft, by actor: Principal, organisation: Organisation, at now: Int64)
        async throws -> Club
    {
        try Self.check(draft, by: actor, organisation: organisation)
        return try await store.transaction { database in
            guard let before = try await Self.club(id, in: database),
                Self.sees(actor, before, organisation: organisation)
            else { throw AdminActionError(.notFound, "no club \(id)") }
            try await database.update("clubs").set(
                "name", to: draft.name.trimmingCharacters(in: .whitespacesAndNewlines)
            )
            .set("unit_code", to: draft.unitCode).set("description", to: draft.description)
            .set("leader", to: draft.leader).set("volunteer", to: draft.volunteer ? 1 : 0)
            .set("status", to: draft.status.rawValue).set("updated_at", to: now).where("id", .equal, id).run()
            guard let club = try await Self.club(id, in: database) else {
                throw StoreError("club \(id) vanished while it was changed")
            }
            try await AuditLog.record(
                actor, action: "club.update", record: "club:\(id)", unit: club.unitCode, before: Self.summary(before),
                after: Self.summary(club), at: now, in: database)
            return club
        }
    }

    static func summary(_ club: Club) -> [String: String] {
        [
            "name": club.name, "unit": club.unitCode, "leader": club.leader, "volunteer": club.volunteer ? "1" : "0",
            "status": club.status.rawValue,
        ]
    }

    // MARK: Members

    /// `openid` asks to join club `id`, once per `key` and once while a request waits or they
    /// belong: only approved members of the union, only of the club's unit's subtree, only
    /// while the club is open.
    public func ask(
        _ id: Int, openid: String, key: String, isMember: Bool, organisation: Organisation, at now: Int64
    ) async throws -> (Club, ClubRequestOutcome)? {
        try await store.transaction { database in
            guard let club = try await Self.club(id, in: database) else { return nil }
            if let earlier = try await database.select().columns("*").from("club_members")
                .where("message_key", .equal, key)
                .first(decoding: MemberRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            {
                return (club, .standing(earlier.membership))
            }
            if let active = try await Self.active(id, openid, in: database) {
                return (club, .standing(active.membership))
            }
            guard club.status == .open else { return (club, .refused("「\(club.name)」暂不接收新成员。")) }
            guard isMember else { return (club, .refused("加入\(club.kind)需要先成为工会会员。回复「入会」申请入会。")) }
            let unit = try await MembershipRegistry.unitCode(of: openid, in: database)
            guard club.admits(unit: unit, in: organisation) else {
                return (club, .refused("「\(club.name)」只面向\(organisation.units[club.unitCode]?.name ?? "组织单位")的会员。"))
            }
            let row = MemberRow(
                clubId: id, openid: openid, unitCode: unit, status: .pending, activeKey: "\(id):\(openid)",
                messageKey: key, createdAt: now)
            guard
                let stored = try await database.insert(into: "club_members")
                    .model(row, keyEncodingStrategy: .convertToSnakeCase).returning("*")
                    .first(decoding: MemberRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { throw StoreError("a request to join club \(id) vanished after it was written") }
            return (club, .standing(stored.membership))
        }
    }

    /// The leader or staff approve or refuse `openid`'s request (a refusal needs its reason),
    /// audited and told to the member. 404 outside the actor's part; 409 when nothing waits.
    public func decide(
        _ id: Int, openid: String, approve: Bool, reason: String?, by actor: Principal, organisation: Organisation,
        at now: Int64
    ) async throws -> ClubMembership {
        try actor.require(.decide)
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard approve || !reason.isEmpty else { throw AdminActionError(.invalid, "不通过时请写明原因") }
        return try await store.transaction { database in
            guard let club = try await Self.club(id, in: database), Self.sees(actor, club, organisation: organisation)
            else { throw AdminActionError(.notFound, "no club \(id)") }
            guard let row = try await Self.active(id, openid, in: database), row.status == .pending else {
                throw AdminActionError(.conflict, "这份申请已经处理过了")
            }
            var update = database.update("club_members")
                .set("status", to: (approve ? ClubMembership.Status.approved : .refused).rawValue)
                .set("decided_by", to: actor.name).set("decided_at", to: now)
            if !approve { update = update.set("reason", to: reason).set("active_key", to: SQLLiteral.null) }
            try await update.where("id", .equal, row.id).run()
            try await AuditLog.record(
                actor, action: approve ? "club.approve" : "club.refuse", record: "club:\(id)", unit: club.unitCode,
                before: ["status": "pending"],
                after: ["status": approve ? "approved" : "refused", "openid": PersonalData.maskOpenID(openid)],
                at: now, in: database)
            let text =
                approve
                ? "您已加入「\(club.name)」。回复「活动」可以报名\(club.kind)的活动。"
                : "您加入「\(club.name)」的申请未通过：\(reason)"
            try await Outbox.enqueue(
                Notice(
                    .club, fields: ["club": club.name, "result": approve ? "通过" : "未通过", "reason": reason],
                    text: text),
                to: openid, at: now, in: database)
            var membership = row.membership
            membership.status = approve ? .approved : .refused
            membership.decidedAt = now
            membership.decidedBy = actor.name
            membership.reason = approve ? nil : reason
            return membership
        }
    }

    /// `openid` leaves club `id` (themselves, or removed by `actor`, audited); false when they
    /// neither belonged nor waited.
    public func leave(
        _ id: Int, openid: String, by actor: Principal? = nil, organisation: Organisation, at now: Int64
    ) async throws -> Bool {
        try await store.transaction { database in
            guard let club = try await Self.club(id, in: database) else { return false }
            if let actor {
                try actor.require(.decide)
                guard Self.sees(actor, club, organisation: organisation) else {
                    throw AdminActionError(.notFound, "no club \(id)")
                }
            }
            guard let row = try await Self.active(id, openid, in: database) else { return false }
            try await database.update("club_members").set("status", to: ClubMembership.Status.left.rawValue)
                .set("active_key", to: SQLLiteral.null).set("decided_at", to: now)
                .set("decided_by", to: actor?.name ?? "member").where("id", .equal, row.id).run()
            if let actor {
                try await AuditLog.record(
                    actor, action: "club.remove", record: "club:\(id)", unit: club.unitCode,
                    before: ["status": row.status.rawValue],
                    after: ["status": "left", "openid": PersonalData.maskOpenID(openid)], at: now, in: database)
            }
            return true
        }
    }

    // MARK: Reading

    /// Club `id`.
    public func club(_ id: Int) async throws -> Club? {
        try await store.read { database in try await Self.club(id, in: database) }
    }

    /// Whether `openid` belongs to club `id`.
    public func belongs(_ openid: String, to id: Int) async throws -> Bool {
        try await store.read { database in try await Self.isMember(openid, of: id, in: database) }
    }

    /// The open clubs a member of `unit` may join, by name.
    public func open(forMemberOf unit: String, organisation: Organisation) async throws -> [Club] {
        let rows = try await store.read { database in
            try await database.select().columns("*").from("clubs").where("status", .equal, Club.Status.open.rawValue)
                .orderBy("name").limit(500).all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        return rows.map(\.club).filter { $0.admits(unit: unit, in: organisation) }
    }

    /// The clubs `actor` sees (their part of the tree, or their own club), by name, with the
    /// members and the requests waiting of each.
    public func list(for actor: Principal, organisation: Organisation) async throws -> [(
        Club, members: Int, waiting: Int
    )] {
        try actor.require(.read)
        return try await store.read { database in
            let clubs = try await database.select().columns("*").from("clubs").orderBy("name")
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map(\.club)
                .filter { Self.sees(actor, $0, organisation: organisation) }
            var result: [(Club, members: Int, waiting: Int)] = []
            for club in clubs {
                let members = try await database.count("club_members") {
                    $0.where("club_id", .equal, club.id).where(
                        "status", .equal, ClubMembership.Status.approved.rawValue)
                }
                let waiting = try await database.count("club_members") {
                    $0.where("club_id", .equal, club.id).where("status", .equal, ClubMembership.Status.pending.rawValue)
                }
                result.append((club, members, waiting))
            }
            return result
        }
    }

    /// Club `id` with its requests and members (waiting first, then members by when they asked),
    /// for staff who see it; 404 otherwise.
    public func members(_ id: Int, for actor: Principal, organisation: Organisation) async throws -> (
        Club, [ClubMembership]
    ) {
        try actor.require(.read)
        let found = try await store.read { database -> (Club, [ClubMembership])? in
            guard let club = try await Self.club(id, in: database), Self.sees(actor, club, organisation: organisation)
            else { return nil }
            let rows = try await database.select().columns("*").from("club_members").where("club_id", .equal, id)
                .where(
                    "status", .in, [ClubMembership.Status.pending.rawValue, ClubMembership.Status.approved.rawValue]
                )
                .orderBy("id").all(decoding: MemberRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            let ordered = rows.filter { $0.status == .pending } + rows.filter { $0.status == .approved }
            return (club, ordered.map(\.membership))
        }
        guard let found else { throw AdminActionError(.notFound, "no club \(id)") }
        return found
    }

    /// The member's clubs and requests (waiting, in, or the last refusal of each), by name.
    public func mine(_ openid: String) async throws -> [(Club, ClubMembership)] {
        try await store.read { database in
            let rows = try await database.select().columns("*").from("club_members").where("openid", .equal, openid)
                .orderBy("id", .descending).limit(100)
                .all(decoding: MemberRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            var seen = Set<Int>()
            var result: [(Club, ClubMembership)] = []
            for row in rows where seen.insert(row.clubId).inserted {
                guard row.status != .left, let club = try await Self.club(row.clubId, in: database) else { continue }
                result.append((club, row.membership))
            }
            return result.sorted { $0.0.name < $1.0.name }
        }
    }
}
