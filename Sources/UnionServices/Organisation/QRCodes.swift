import Foundation
import ReplyRules
import SQLKit
import WeChatAPI

/// What happened through a QR code.
public enum QREventKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A follower scanned it (`SCAN`).
    case scan
    /// Someone followed the account through it (`subscribe` with `qrscene_`).
    case follow
    /// 入会 started with the unit filled in.
    case start
}

/// A parametric QR code made for a unit (扫码入会).
public struct UnitQRCode: Sendable, Hashable {
    public var id: Int
    /// `join:CODE`.
    public var scene: String
    public var unitCode: String
    public var permanent: Bool
    public var ticket: String
    /// What the code encodes.
    public var url: String
    public var expiresAt: Int64?
    public var createdAt: Int64
    public var createdBy: String
    public var deleted: Bool
    /// The image's bytes (JPEG, as WeChat gives it), when it was downloaded.
    public var image: Data?
}

/// A code's funnel: from scan to approved member.
public struct QRFunnel: Sendable, Hashable, Codable {
    /// Scans by followers plus follows through the code.
    public var scans = 0
    /// New follows through the code.
    public var follows = 0
    /// 入会 conversations the code started.
    public var started = 0
    /// Applications submitted after a scan.
    public var submitted = 0
    /// Of those, approved.
    public var approved = 0

    static func + (lhs: QRFunnel, rhs: QRFunnel) -> QRFunnel {
        QRFunnel(
            scans: lhs.scans + rhs.scans, follows: lhs.follows + rhs.follows, started: lhs.started + rhs.started,
            submitted: lhs.submitted + rhs.submitted, approved: lhs.approved + rhs.approved)
    }
}

/// The QR codes of the union's units, and what came of their scans.
public struct QRCodes: Sendable {
    let store: UnionStore

    /// Creates the list over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// WeChat's limit on permanent codes per account.
    public static let maxPermanent = 100_000
    /// The longest a temporary code lives, in days.
    public static let maxDays = 30
    /// The scene prefix of a join code.
    public static let joinPrefix = "join:"

    /// The scene of `unit`'s join code.
    public static func scene(for unit: String) -> String { joinPrefix + unit }

    /// The unit code a scene names, when it is a join scene.
    public static func unit(inScene scene: String) -> String? {
        scene.hasPrefix(joinPrefix) ? String(scene.dropFirst(joinPrefix.count)) : nil
    }

    /// Makes a code for `unit` through WeChat, downloads its image, and stores both. Permanent
    /// unless `days` (1–30) is given.
    public func create(
        unit: String, days: Int?, organisation: Organisation, client: WeChatAPIClient, by actor: Principal,
        at now: Int64
    ) async throws -> UnitQRCode {
        try actor.require(.manageQR)
        guard organisation.units[unit] != nil, actor.scope.contains(unit) else {
            throw AdminActionError(.notFound, "no unit \(unit) in org.yaml")
        }
        let scene = Self.scene(for: unit)
        guard scene.count <= WeChatAPIClient.maxSceneLength else {
            throw AdminActionError(
                .invalid, "the scene \(scene) is longer than WeChat's \(WeChatAPIClient.maxSceneLength) characters")
        }
        if let days, !(1...Self.maxDays).contains(days) {
            throw AdminActionError(.invalid, "a temporary code lives 1 to \(Self.maxDays) days")
        }
        if days == nil {
            let permanent = try await store.read { database in
                try await database.count("qr_codes") { $0.where("permanent", .equal, 1) }
            }
            if permanent >= Self.maxPermanent {
                throw AdminActionError(
                    .conflict,
                    "the account has \(permanent) permanent codes, WeChat's limit is \(Self.maxPermanent); use --days for a temporary code"
                )
            }
        }
        let ticket = try await client.createQRCode(scene: scene, expireSeconds: days.map { $0 * 86_400 })
        let image = try await client.qrCodeImage(ticket: ticket.ticket)
        let expiresAt = ticket.expireSeconds.map { now + Int64($0) }
        return try await store.transaction { database in
            // A permanent code for the same scene comes back with the same ticket: it is made
            // current again rather than stored twice.
            try await database.delete(from: "qr_codes").where("ticket", .equal, ticket.ticket).run()
            try await database.insert(into: "qr_codes")
                .columns(
                    "scene", "unit_code", "permanent", "ticket", "url", "image", "expires_at", "created_at",
                    "created_by"
                )
                .values(
                    SQLBind(scene), SQLBind(unit), SQLBind(days == nil ? 1 : 0), SQLBind(ticket.ticket),
                    SQLBind(ticket.url), SQLBind(image), SQLBind(expiresAt), SQLBind(now), SQLBind(actor.name)
                )
                .run()
            try await AuditLog.record(
                actor, action: "qr.create", record: "qr:\(scene)", unit: unit, before: nil,
                after: ["permanent": String(days == nil), "days": days.map(String.init) ?? ""], at: now,
                in: database)
            guard let code = try await Self.code(ticket: ticket.ticket, in: database) else {
                throw StoreError("QR code \(scene) vanished after it was written")
            }
            return code
        }
    }

    /// Stops `unit`'s codes from filling in the unit (scans then fall back to the ordinary 入会).
    public func delete(unit: String, by actor: Principal, at now: Int64) async throws -> Int {
        try actor.require(.manageQR)
        guard actor.scope.contains(unit) else { throw AdminActionError(.notFound, "no QR code for unit \(unit)") }
        return try await store.transaction { database in
            let codes = try await Self.select(in: database).where("unit_code", .equal, unit)
                .where(SQLColumn("deleted_at"), .is, SQLLiteral.null)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            guard !codes.isEmpty else { throw AdminActionError(.notFound, "no QR code for unit \(unit)") }
            try await database.update("qr_codes").set("deleted_at", to: now).where("unit_code", .equal, unit)
                .where(SQLColumn("deleted_at"), .is, SQLLiteral.null).run()
            try await AuditLog.record(
                actor, action: "qr.delete", record: "qr:\(Self.scene(for: unit))", unit: unit, before: nil,
                after: ["deleted": String(codes.count)], at: now, in: database)
            return codes.count
        }
    }

    /// The codes in `actor`'s part of the tree, newest first, each with its funnel.
    public func list(for actor: Principal) async throws -> [(code: UnitQRCode, funnel: QRFunnel)] {
        try actor.require(.read)
        return try await store.read { database in
            let codes = try await actor.scope.restrict(Self.select(in: database)).orderBy("id", .descending)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            let funnels = try await Self.funnels(in: database)
            return codes.map { ($0.code(withImage: false), funnels[$0.ticket] ?? QRFunnel()) }
        }
    }

    /// The code with `ticket`, or the newest live code of `unit` (with its image).
    public func code(unit: String) async throws -> UnitQRCode? {
        try await store.read { database in
            try await Self.select(in: database).where("unit_code", .equal, unit)
                .where(SQLColumn("deleted_at"), .is, SQLLiteral.null)
                .orderBy("permanent", .descending).orderBy("id", .descending).limit(1)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.code(withImage: true)
        }
    }

    static func code(ticket: String, in database: any SQLDatabase) async throws -> UnitQRCode? {
        try await select(in: database).where("ticket", .equal, ticket)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.code(withImage: true)
    }

    /// The live code a scan names: by its ticket, or (when the event has none) its scene.
    static func live(scene: String, ticket: String?, at now: Int64, in database: any SQLDatabase) async throws
        -> UnitQRCode?
    {
        var query = select(in: database).where(SQLColumn("deleted_at"), .is, SQLLiteral.null)
        if let ticket, !ticket.isEmpty {
            query = query.where("ticket", .equal, ticket)
        } else {
            query = query.where("scene", .equal, scene)
        }
        let codes = try await query.orderBy("id", .descending).all(
            decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        return codes.map { $0.code(withImage: false) }.first { $0.scene == scene && ($0.expiresAt ?? .max) > now }
    }

    /// Records what happened through a code; a retry of the same event records nothing.
    static func record(
        _ kind: QREventKind, ticket: String, openid: String, key: String, at now: Int64, in database: any SQLDatabase
    ) async throws {
        let seen = try await database.select().column("id").from("qr_events").where("message_key", .equal, key)
            .first()
        guard seen == nil else { return }
        try await database.insert(into: "qr_events").columns("ticket", "openid", "kind", "at", "message_key")
            .values(SQLBind(ticket), SQLBind(openid), SQLBind(kind.rawValue), SQLBind(now), SQLBind(key)).run()
    }

    /// Every code's funnel, by ticket.
    static func funnels(in database: any SQLDatabase) async throws -> [String: QRFunnel] {
        struct EventCount: Decodable {
            var ticket: String
            var kind: QREventKind
            var n: Int
        }
        var funnels: [String: QRFunnel] = [:]
        let events = try await database.select().column("ticket").column("kind")
            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from("qr_events")
            .groupBy("ticket").groupBy("kind").all(decoding: EventCount.self)
        for event in events {
            switch event.kind {
            case .scan: funnels[event.ticket, default: QRFunnel()].scans += event.n
            case .follow:
                funnels[event.ticket, default: QRFunnel()].scans += event.n
                funnels[event.ticket, default: QRFunnel()].follows += event.n
            case .start: funnels[event.ticket, default: QRFunnel()].started += event.n
            }
        }
        for application in try await MembershipRegistry.countsByTicket(in: database) {
            funnels[application.qrTicket, default: QRFunnel()].submitted += application.n
            if application.status == .approved {
                funnels[application.qrTicket, default: QRFunnel()].approved += application.n
            }
        }
        return funnels
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("qr_codes")
    }

    struct Row: Codable, Sendable {
        var id: Int
        var scene: String
        var unitCode: String
        var permanent: Int
        var ticket: String
        var url: String
        var image: Data?
        var expiresAt: Int64?
        var createdAt: Int64
        var createdBy: String
        var deletedAt: Int64?

        func code(withImage: Bool) -> UnitQRCode {
            UnitQRCode(
                id: id, scene: scene, unitCode: unitCode, permanent: permanent != 0, ticket: ticket, url: url,
                expiresAt: expiresAt, createdAt: createdAt, createdBy: createdBy, deleted: deletedAt != nil,
                image: withImage ? image : nil)
        }
    }
}
