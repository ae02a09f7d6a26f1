import Foundation
import ReplyRules

/// A club by interest (职工俱乐部: photography, badminton, reading) or a volunteer team (志愿服务队),
/// declared by staff of a unit and open to the members of that unit's subtree: a club of a
/// county or company union spans the enterprises below it.
public struct Club: Sendable, Hashable, Codable {
    public var id: Int
    public var name: String
    /// The unit that runs it ('' for the union's top).
    public var unitCode: String
    public var description: String
    /// Who leads it, as members read it (a name, perhaps a phone number).
    public var leader: String
    /// Whether it is a volunteer team: its activities record service hours.
    public var volunteer: Bool
    public var status: Status
    public var createdAt: Int64
    public var updatedAt: Int64

    /// Whether it takes new members.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case open
        case closed
    }

    /// 「志愿服务队」 or 「俱乐部」.
    public var kind: String { volunteer ? "志愿服务队" : "俱乐部" }

    /// Whether a member of `unit` may join: the club's unit and those below it; a club of the
    /// union's top takes everyone.
    public func admits(unit: String, in organisation: Organisation) -> Bool {
        if unitCode.isEmpty || unitCode == organisation.root { return true }
        return organisation.path(to: unit).contains { $0.code == unitCode }
    }
}

/// A member's request to join a club, and what came of it.
public struct ClubMembership: Sendable, Hashable, Codable {
    public var id: Int
    public var clubId: Int
    public var openid: String
    /// The member's unit when they asked ('' when unknown).
    public var unitCode: String
    public var status: Status
    /// Why it was refused (told to the member).
    public var reason: String?
    public var decidedBy: String?
    public var createdAt: Int64
    public var decidedAt: Int64?

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Asked; the leader or staff have not decided.
        case pending
        /// A member of the club.
        case approved
        /// Refused, with the reason.
        case refused
        /// Left, or removed by staff.
        case left

        public var chinese: String {
            switch self {
            case .pending: "待审核"
            case .approved: "已加入"
            case .refused: "未通过"
            case .left: "已退出"
            }
        }
    }
}

/// What asking to join a club came to.
public enum ClubRequestOutcome: Sendable, Hashable {
    /// Asked now, or asked before and still waiting or in (the membership as it stands).
    case standing(ClubMembership)
    /// Refused at once, with the reason in Chinese (closed, not for their unit, not a member).
    case refused(String)

    /// What the member reads.
    public func text(_ club: Club) -> String {
        switch self {
        case .standing(let membership) where membership.status == .approved:
            "您已经是「\(club.name)」的成员。"
        case .standing:
            "已提交加入「\(club.name)」的申请，\(club.kind)负责人审核后会通知您。"
        case .refused(let reason): reason
        }
    }
}
