import Foundation
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
    /// The unit or branch.
    public var unit: String
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
    public enum Status: String, Sendable, Hashable, CaseIterable {
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
            try await database.raw(
                "SELECT 1 AS found FROM membership_applications WHERE openid = \(bind: openid) AND status = 'approved' LIMIT 1"
            ).first() != nil
        }
    }

    /// The member's most recent application.
    public func latest(for openid: String) async throws -> MembershipApplication? {
        try await store.read { database in
            try await database.raw(
                "SELECT * FROM membership_applications WHERE openid = \(bind: openid) ORDER BY id DESC LIMIT 1"
            ).first().map(Self.decode)
        }
    }

    /// Applications, newest first, optionally only those with `status`.
    public func list(status: MembershipApplication.Status? = nil) async throws -> [MembershipApplication] {
        try await store.read { database in
            if let status {
                return try await database.raw(
                    "SELECT * FROM membership_applications WHERE status = \(bind: status.rawValue) ORDER BY id DESC"
                ).all().map(Self.decode)
            }
            return try await database.raw("SELECT * FROM membership_applications ORDER BY id DESC").all().map(
                Self.decode)
        }
    }

    /// Stores a new pending application inside the caller's transaction. A second call with the
    /// same `messageKey` (a WeChat retry) returns the first application and stores nothing.
    static func submit(
        openid: String, answers: [String: String], messageKey: String, at now: Int64, year: Int,
        in database: any SQLDatabase
    ) async throws -> MembershipApplication {
        if let existing = try await database.raw(
            "SELECT * FROM membership_applications WHERE message_key = \(bind: messageKey)"
        ).first() {
            return try decode(existing)
        }
        let number = try await ReceiptNumbers.next(prefix: "RH", year: year, in: database)
        var extra = answers
        for key in ["name", "phone", "unit"] { extra[key] = nil }
        let extraJSON = String(decoding: try JSONEncoder.sorted.encode(extra), as: UTF8.self)
        try await database.raw(
            """
            INSERT INTO membership_applications (number, openid, name, phone, unit, extra, status, created_at, message_key)
            VALUES (\(bind: number), \(bind: openid), \(bind: answers["name"] ?? ""), \(bind: answers["phone"] ?? ""),
                    \(bind: answers["unit"] ?? ""), \(bind: extraJSON), 'pending', \(bind: now), \(bind: messageKey))
            """
        ).run()
        guard
            let row = try await database.raw("SELECT * FROM membership_applications WHERE number = \(bind: number)")
                .first()
        else {
            throw StoreError("application \(number) vanished after it was written")
        }
        return try decode(row)
    }

    /// Approves a pending application and queues the notice to the member, in one transaction.
    public func approve(_ id: Int, at now: Int64) async throws -> MembershipApplication {
        try await decide(id, status: .approved, reason: nil, at: now) { application in
            "恭喜！您的入会申请（编号 \(application.number)）已审核通过，欢迎加入工会大家庭！回复「福利」看看会员可以享受的服务。"
        }
    }

    /// Rejects a pending application with a reason and queues the notice, in one transaction.
    public func reject(_ id: Int, reason: String, at now: Int64) async throws -> MembershipApplication {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw AdminActionError(.invalid, "a rejection needs a reason") }
        return try await decide(id, status: .rejected, reason: reason, at: now) { application in
            "您的入会申请（编号 \(application.number)）未通过审核，原因：\(reason)。如有疑问请联系工会，或回复「入会」重新申请。"
        }
    }

    private func decide(
        _ id: Int, status: MembershipApplication.Status, reason: String?, at now: Int64,
        notice: @escaping @Sendable (MembershipApplication) -> String
    ) async throws -> MembershipApplication {
        try await store.transaction { database in
            guard
                let row = try await database.raw("SELECT * FROM membership_applications WHERE id = \(bind: id)").first()
            else {
                throw AdminActionError(.notFound, "no application with id \(id)")
            }
            var application = try Self.decode(row)
            guard application.status == .pending else {
                throw AdminActionError(
                    .conflict, "application \(application.number) is already \(application.status.rawValue)")
            }
            try await database.raw(
                """
                UPDATE membership_applications SET status = \(bind: status.rawValue), reason = \(bind: reason), decided_at = \(bind: now)
                WHERE id = \(bind: id)
                """
            ).run()
            application.status = status
            application.reason = reason
            application.decidedAt = now
            try await Outbox.enqueue(
                [.text(notice(application))], to: application.openid, reason: .notice, at: now, in: database)
            return application
        }
    }

    static func decode(_ row: any SQLRow) throws -> MembershipApplication {
        let extra =
            (try? JSONDecoder().decode(
                [String: String].self, from: Data(try row.decode(column: "extra", as: String.self).utf8))) ?? [:]
        return MembershipApplication(
            id: try row.decode(column: "id", as: Int.self), number: try row.decode(column: "number", as: String.self),
            openid: try row.decode(column: "openid", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            phone: try row.decode(column: "phone", as: String.self),
            unit: try row.decode(column: "unit", as: String.self),
            extra: extra,
            status: MembershipApplication.Status(rawValue: try row.decode(column: "status", as: String.self))
                ?? .pending,
            reason: try row.decode(column: "reason", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            decidedAt: try row.decode(column: "decided_at", as: Int64?.self))
    }
}
