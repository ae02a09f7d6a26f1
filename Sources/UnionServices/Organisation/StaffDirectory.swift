import Crypto
import Foundation
import HummingbirdBcrypt
import ReplyRules
import SQLKit

/// A staff account.
public struct StaffMember: Sendable, Hashable, Codable {
    /// The row id.
    public var id: Int
    /// The sign-in name (unique).
    public var name: String
    /// The code of the unit they work for.
    public var unitCode: String
    /// What they may do.
    public var role: StaffRole
    /// Whether the password was set by someone else and must be changed at the next sign-in.
    public var mustChangePassword: Bool
    /// Whether the account is switched off.
    public var disabled: Bool
    /// When the account was made, Unix seconds.
    public var createdAt: Int64
    /// The club the account leads, for a club leader's account (it sees that club only).
    public var clubId: Int? = nil

    /// Creates an account's record (as the store keeps it; tests and tools make them too).
    public init(
        id: Int, name: String, unitCode: String, role: StaffRole, mustChangePassword: Bool, disabled: Bool,
        createdAt: Int64
    ) {
        self.id = id
        self.name = name
        self.unitCode = unitCode
        self.role = role
        self.mustChangePassword = mustChangePassword
        self.disabled = disabled
        self.createdAt = createdAt
    }
}

/// Staff accounts: passwords stored only as bcrypt hashes, personal API tokens only as SHA-256
/// digests, every change recorded in the audit log.
public struct StaffDirectory: Sendable {
    let store: UnionStore
    /// bcrypt's cost: 2^cost rounds (12 takes about 0.3 s here; tests use the minimum, 4).
    let cost: UInt8

    /// Creates the directory over `store`.
    public init(store: UnionStore, cost: UInt8 = 12) {
        self.store = store
        self.cost = cost
    }

    /// The prefix of personal API tokens, so that a leaked one is recognisable.
    public static let tokenPrefix = "ugs_"

    /// Names the audit log gives to others (the root admin, the command line, the gateway itself,
    /// the Replies folder): no account may take them.
    public static let reservedNames: Set<String> = ["root", "cli", "system", "replies", "disk"]

    /// Whether `name` can name an account: 1–32 characters, no spaces, no control characters.
    public static func isValidName(_ name: String) -> Bool {
        !reservedNames.contains(name.lowercased()) && !name.isEmpty && name.count <= 32
            && name.unicodeScalars.allSatisfy {
                !$0.properties.isWhitespace && $0.properties.generalCategory != .control
                    && $0.properties.generalCategory != .format && $0 != ":"
            }
    }

    /// A new random password: 12 characters without look-alikes (0/O, 1/l).
    public static func newPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<12).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Adds an account. Returns it and its password: `password`, or a new one-time password the
    /// member must change at first sign-in.
    public func add(
        name: String, unit: String, role: StaffRole, password: String?, organisation: Organisation, by actor: Principal,
        at now: Int64
    ) async throws -> (StaffMember, password: String) {
        try actor.requireWholeTree(.administer)
        guard Self.isValidName(name) else {
            throw AdminActionError(
                .invalid,
                "a staff name has 1–32 characters, without spaces or colons, and is not root, cli, system, replies or disk"
            )
        }
        guard organisation.units[unit] != nil else {
            throw AdminActionError(.invalid, "no unit \(unit) in org.yaml")
        }
        if let password, password.count < 8 {
            throw AdminActionError(.invalid, "a password has at least 8 characters")
        }
        let secret = password ?? Self.newPassword()
        let hash = Bcrypt.hash(secret, cost: cost)
        let member = try await store.transaction { database -> StaffMember in
            if try await Self.find(name, in: database) != nil {
                throw AdminActionError(.conflict, "there is already a staff member called \(name)")
            }
            try await database.insert(into: "staff")
                .columns(
                    "name", "unit_code", "role", "password_hash", "must_change_password", "disabled", "created_at",
                    "updated_at"
                )
                .values(
                    SQLBind(name), SQLBind(unit), SQLBind(role.rawValue), SQLBind(hash),
                    SQLBind(password == nil ? 1 : 0), SQLBind(0), SQLBind(now), SQLBind(now)
                )
                .run()
            guard let member = try await Self.find(name, in: database) else {
                throw StoreError("staff member \(name) vanished after it was written")
            }
            try await AuditLog.record(
                actor, action: "staff.add", record: "staff:\(name)", unit: unit, before: nil,
                after: ["unit": unit, "role": role.rawValue], at: now, in: database)
            return member
        }
        return (member, secret)
    }

    /// Every account, by name.
    public func list() async throws -> [StaffMember] {
        try await store.read { database in
            try await database.select().columns("*").from("staff").orderBy("name")
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }.map(\.member)
    }

    /// Moves an account to another unit or role; it applies from the account's next request
    /// (sessions and tokens read the account each time).
    public func change(
        _ name: String, unit: String, role: StaffRole, organisation: Organisation, by actor: Principal, at now: Int64
    ) async throws -> StaffMember {
        try actor.requireWholeTree(.administer)
        guard organisation.units[unit] != nil else {
            throw AdminActionError(.invalid, "no unit \(unit) in org.yaml")
        }
        return try await store.transaction { database in
            guard var member = try await Self.find(name, in: database) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            guard member.unitCode != unit || member.role != role else { return member }
            try await database.update("staff").set("unit_code", to: unit).set("role", to: role.rawValue)
                .set("updated_at", to: now)
                .where("id", .equal, member.id).run()
            try await AuditLog.record(
                actor, action: "staff.change", record: "staff:\(name)", unit: unit,
                before: ["unit": member.unitCode, "role": member.role.rawValue],
                after: ["unit": unit, "role": role.rawValue], at: now, in: database)
            member.unitCode = unit
            member.role = role
            return member
        }
    }

    /// Makes an account a club leader's, scoped to club `club` (it then sees that club's members
    /// and activities only), or gives it back its unit (`club` nil). Audited; applies from the
    /// account's next request.
    public func lead(_ name: String, club: Int?, by actor: Principal, at now: Int64) async throws -> StaffMember {
        try actor.requireWholeTree(.administer)
        return try await store.transaction { database in
            guard var member = try await Self.find(name, in: database) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            let value: any SQLExpression = club.map { SQLBind($0) } ?? SQLLiteral.null
            try await database.update("staff").set("club_id", to: value)
                .set("updated_at", to: now).where("id", .equal, member.id).run()
            try await AuditLog.record(
                actor, action: "staff.club", record: "staff:\(name)", unit: member.unitCode,
                before: ["club": member.clubId.map(String.init) ?? ""], after: ["club": club.map(String.init) ?? ""],
                at: now, in: database)
            member.clubId = club
            return member
        }
    }

    /// Switches an account off: its password and tokens stop working.
    public func disable(_ name: String, by actor: Principal, at now: Int64) async throws -> StaffMember {
        try actor.requireWholeTree(.administer)
        return try await store.transaction { database in
            guard var member = try await Self.find(name, in: database) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            try await database.update("staff").set("disabled", to: 1).set("updated_at", to: now)
                .where("id", .equal, member.id).run()
            try await database.delete(from: "staff_tokens").where("staff_id", .equal, member.id).run()
            try await AuditLog.record(
                actor, action: "staff.disable", record: "staff:\(name)", unit: member.unitCode,
                before: ["disabled": String(member.disabled)], after: ["disabled": "true"], at: now, in: database)
            member.disabled = true
            return member
        }
    }

    /// Sets a new one-time password (returned) and revokes the account's tokens.
    public func resetPassword(_ name: String, by actor: Principal, at now: Int64) async throws -> String {
        try actor.requireWholeTree(.administer)
        let secret = Self.newPassword()
        let hash = Bcrypt.hash(secret, cost: cost)
        try await store.transaction { database in
            guard let member = try await Self.find(name, in: database) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            try await database.update("staff").set("password_hash", to: hash).set("must_change_password", to: 1)
                .set("updated_at", to: now)
                .where("id", .equal, member.id).run()
            try await database.delete(from: "staff_tokens").where("staff_id", .equal, member.id).run()
            try await AuditLog.record(
                actor, action: "staff.reset_password", record: "staff:\(name)", unit: member.unitCode, before: nil,
                after: nil, at: now, in: database)
        }
        return secret
    }

    /// Makes a personal API token for `name`; only its digest is kept, so it is shown once.
    public func createToken(for name: String, by actor: Principal, at now: Int64) async throws -> String {
        try actor.requireWholeTree(.administer)
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let token = Self.tokenPrefix + bytes.map { String(format: "%02x", $0) }.joined()
        try await store.transaction { database in
            guard let member = try await Self.find(name, in: database) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            guard !member.disabled else { throw AdminActionError(.conflict, "\(name) is disabled") }
            try await database.insert(into: "staff_tokens").columns("staff_id", "digest", "created_at")
                .values(SQLBind(member.id), SQLBind(Self.digest(token)), SQLBind(now)).run()
            try await AuditLog.record(
                actor, action: "staff.token", record: "staff:\(name)", unit: member.unitCode, before: nil, after: nil,
                at: now, in: database)
        }
        return token
    }

    /// The enabled account a personal API token belongs to, or nil.
    public func member(forToken token: some StringProtocol) async throws -> StaffMember? {
        guard token.hasPrefix(Self.tokenPrefix) else { return nil }
        let digest = Self.digest(String(token))
        return try await store.read { database in
            try await database.select().columns(SQLColumn(SQLLiteral.all, table: SQLIdentifier("staff"))).from("staff")
                .join(
                    "staff_tokens", on: SQLColumn("staff_id", table: "staff_tokens"), .equal,
                    SQLColumn("id", table: "staff")
                )
                .where(SQLColumn("digest", table: "staff_tokens"), .equal, SQLBind(digest))
                .where(SQLColumn("disabled", table: "staff"), .equal, SQLBind(0))
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }?.member
    }

    /// The enabled account `name` if `password` is its password, or nil. (For the console's
    /// sign-in.) The hash is checked even for an unknown name, so timing tells nothing.
    public func member(named name: String, password: String) async throws -> StaffMember? {
        let row = try await store.read { database in
            try await database.select().columns("*").from("staff").where("name", .equal, name)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let hash = row?.passwordHash ?? Self.unknownHash
        guard Bcrypt.verify(password, hash: hash), let row, row.disabled == 0 else { return nil }
        return row.member
    }

    /// Changes `name`'s own password, when `current` is its password now; clears the
    /// must-change mark and revokes nothing else. Refuses (400) a new password shorter than 8
    /// characters or equal to the old one, and (403) a wrong current password.
    public func changeOwnPassword(_ name: String, current: String, new: String, at now: Int64) async throws {
        guard new.count >= 8 else { throw AdminActionError(.invalid, "新密码至少 8 个字符。") }
        guard new != current else { throw AdminActionError(.invalid, "新密码不能和原来的一样。") }
        guard let member = try await member(named: name, password: current) else {
            throw AdminActionError(.forbidden, "原密码不正确。")
        }
        let hash = Bcrypt.hash(new, cost: cost)
        try await store.transaction { database in
            try await database.update("staff").set("password_hash", to: hash).set("must_change_password", to: 0)
                .set("updated_at", to: now).where("id", .equal, member.id).run()
            try await AuditLog.record(
                Principal(name: member.name, role: member.role, unit: member.unitCode, scope: .units([])),
                action: "staff.change_password", record: "staff:\(name)", unit: member.unitCode, before: nil,
                after: nil,
                at: now, in: database)
        }
    }

    /// The account called `name`, enabled or not (the console checks it on every request, so a
    /// disabled account or a changed role takes effect at once).
    public func member(named name: String) async throws -> StaffMember? {
        try await store.read { database in try await Self.find(name, in: database) }
    }

    /// A hash checked when no account has the name (of a random password, so nothing matches).
    private static let unknownHash = Bcrypt.hash(newPassword(), cost: 4)

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func find(_ name: String, in database: any SQLDatabase) async throws -> StaffMember? {
        try await database.select().columns("*").from("staff").where("name", .equal, name)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.member
    }

    /// A row of the `staff` table.
    struct Row: Codable, Sendable {
        var id: Int
        var name: String
        var unitCode: String
        var role: StaffRole
        var passwordHash: String
        var mustChangePassword: Int
        var disabled: Int
        var createdAt: Int64
        var clubId: Int?

        var member: StaffMember {
            var member = StaffMember(
                id: id, name: name, unitCode: unitCode, role: role, mustChangePassword: mustChangePassword != 0,
                disabled: disabled != 0, createdAt: createdAt)
            member.clubId = clubId
            return member
        }
    }
}
