import Foundation
import ReplyRules

/// An application of a workflow (困难帮扶, 金秋助学, 法律援助 …) and where it is on its way up the
/// tree.
public struct AidApplication: Sendable, Hashable {
    public var id: Int
    /// The workflow's name.
    public var workflow: String
    /// `KB-2026-000001`.
    public var number: String
    public var openid: String
    /// The member's unit when they applied ('' when unknown).
    public var unitCode: String
    /// What the member filled in, by field key; a group's rows as a JSON array.
    public var answers: [String: String]
    public var status: Status
    /// Which stop of ``chain`` it is at (or was decided at).
    public var stop: Int
    /// The deciding units from the member's up, each with the workflow level it stands for.
    public var chain: [Stop]
    /// When the current level's time is up.
    public var dueAt: Int64
    /// The unit above the current level's, told when the level was overdue.
    public var escalatedTo: String?
    /// What the level asked the member to add, while it is sent back.
    public var asked: String?
    /// What the levels recorded (the amount granted, a category, the lawyer), by field key.
    public var recorded: [String: String]
    /// The amount granted, in fen (the last level's first money field).
    public var amountCents: Int64?
    /// Why it was refused.
    public var reason: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    /// When it was approved or refused.
    public var decidedAt: Int64?

    /// One deciding unit of the chain.
    public struct Stop: Sendable, Hashable, Codable {
        /// The workflow level (index into its `levels`).
        public var level: Int
        /// The unit that decides ('' for the top of a union without an organisation).
        public var unit: String
    }

    /// Where an application is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for the current level.
        case pending
        /// Sent back to the member for more; returns to the same level.
        case returned
        /// Approved at the last level.
        case approved
        /// Refused at some level.
        case refused

        public var chinese: String {
            switch self {
            case .pending: "审批中"
            case .returned: "待补充材料"
            case .approved: "已批准"
            case .refused: "未通过"
            }
        }
    }

    /// The unit deciding now.
    public var currentUnit: String { chain.indices.contains(stop) ? chain[stop].unit : "" }
    /// The workflow level deciding now.
    public var currentLevel: Int { chain.indices.contains(stop) ? chain[stop].level : 0 }
    /// Whether it waits for staff past its due time.
    public func isOverdue(at now: Int64) -> Bool { status == .pending && dueAt < now }
    /// Whether it is finished.
    public var isDecided: Bool { status == .approved || status == .refused }

    /// The rows of a group answer.
    public static func rows(_ value: String?) -> [[String: String]] {
        guard let value, let data = value.data(using: .utf8),
            let rows = try? JSONDecoder().decode([[String: String]].self, from: data)
        else { return [] }
        return rows
    }
}

/// One step of an application: submitted, passed up, sent back, resubmitted, approved, refused,
/// escalated.
public struct AidStep: Sendable, Hashable {
    public var id: Int
    public var applicationId: Int
    public var stop: Int
    /// The workflow level.
    public var level: Int
    /// The unit acting (for a submission: the member's).
    public var unitCode: String
    /// Who: a staff member's name, `member:…`, or `system`.
    public var actor: String
    public var action: Action
    /// What was asked, the reason of a refusal, or a remark.
    public var note: String?
    /// What the level recorded.
    public var recorded: [String: String]
    public var at: Int64

    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case submit
        case pass
        case sendBack = "send_back"
        case resubmit
        case approve
        case refuse
        case escalate
    }
}

/// A staff decision at an application's current level.
public enum AidDecision: Sendable, Hashable {
    /// Passed up to the next level, or approved at the last; with what this level records.
    case pass(recorded: [String: String], remark: String?)
    /// Sent back to the member, with what they should add.
    case sendBack(asked: String)
    /// Refused, with the reason the member reads.
    case refuse(reason: String)
}
