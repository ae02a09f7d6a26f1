import Foundation
import ReplyRules

/// An activity members sign up for (会员日, an outing, a family open day, training, 疗休养 places):
/// its time and place, its places and waitlist, and who may sign up.
public struct Activity: Sendable, Hashable, Codable {
    public var id: Int
    public var title: String
    public var description: String
    /// A picture's address for its article card ('' for none).
    public var picture: String
    public var place: String
    /// The organising unit ('' for the union's top).
    public var unitCode: String
    /// Who beyond the organising unit's subtree may sign up.
    public var sharing: Sharing
    /// Whether only approved members may sign up (otherwise any follower).
    public var membersOnly: Bool
    public var startsAt: Int64
    public var endsAt: Int64
    /// When sign-up opens and closes.
    public var opensAt: Int64
    public var closesAt: Int64
    /// How many people it takes (the people of each sign-up counted).
    public var capacity: Int
    /// Whether a full activity keeps a waitlist.
    public var waitlist: Bool
    /// The most people one sign-up brings (the member and their family).
    public var maxPeople: Int
    /// Whether someone not signed up may check in (a walk-in).
    public var walkIns: Bool
    public var status: Status
    public var createdAt: Int64
    public var updatedAt: Int64
    /// What its check-in QR code encodes (WeChat's address), once staff made one.
    public var checkInURL: String? = nil
    /// The club it belongs to: only the club's members may sign up.
    public var clubId: Int? = nil
    /// Whether it records service hours (a volunteer team's): members check out by a second
    /// code, and the time between is their service.
    public var recordsHours: Bool = false
    /// What its check-out QR code encodes, once staff made one.
    public var checkOutURL: String? = nil
    /// What it asks at sign-up, one question a line, as staff wrote it (``ActivityQuestions``).
    public var questions: String = ""

    /// The scene prefix of check-in codes: `checkin:` and the activity's id.
    public static let checkInPrefix = "checkin:"
    /// The scene prefix of check-out codes: `checkout:` and the activity's id.
    public static let checkOutPrefix = "checkout:"
    /// How long after the end members may still check out.
    public static let checkOutLate: Int64 = 2 * 3600

    /// How long before the start members may check in.
    public static let checkInEarly: Int64 = 2 * 3600

    /// Whether it goes on.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case open
        case cancelled
    }

    /// Who beyond the organising unit's subtree may sign up.
    public enum Sharing: Sendable, Hashable, Codable {
        /// The organising unit's subtree only.
        case own
        /// These units' subtrees too.
        case units([String])
        /// The whole tree.
        case everyone

        /// As stored: '' for own, '*' for everyone, codes joined by commas.
        var stored: String {
            switch self {
            case .own: ""
            case .everyone: "*"
            case .units(let codes): codes.joined(separator: ",")
            }
        }

        init(stored: String) {
            switch stored {
            case "": self = .own
            case "*": self = .everyone
            default: self = .units(stored.split(separator: ",").map(String.init))
            }
        }
    }

    /// Whether sign-up is open at `now` (and the activity not yet begun).
    public func isTakingSignUps(at now: Int64) -> Bool {
        status == .open && opensAt <= now && now < closesAt && now < startsAt
    }

    /// Whether a member of `unit` may sign up: the organising unit's subtree, or a unit it is
    /// shared with (and those below it). A unit outside the tree ('' or removed) counts only
    /// where the activity is the whole tree's, or the top's.
    public func admits(unit: String, in organisation: Organisation) -> Bool {
        if case .everyone = sharing { return true }
        if unitCode.isEmpty || unitCode == organisation.root { return true }
        let path = Set(organisation.path(to: unit).map(\.code))
        if path.contains(unitCode) { return true }
        if case .units(let codes) = sharing { return codes.contains { path.contains($0) } }
        return false
    }
}

/// One member's sign-up for an activity.
public struct ActivitySignUp: Sendable, Hashable, Codable {
    public var id: Int
    public var activityId: Int
    public var openid: String
    /// The member's unit when they signed up ('' when unknown).
    public var unitCode: String
    /// The people it brings, the member included.
    public var people: Int
    public var status: Status
    /// What the member answered to the activity's own questions.
    public var answers: [String: String]
    public var createdAt: Int64
    /// When it moved from the waitlist to a place.
    public var promotedAt: Int64?
    public var cancelledAt: Int64?
    public var checkedInAt: Int64?
    public var checkedOutAt: Int64? = nil
    /// The minutes of service, counted at check-out (activities that record hours).
    public var serviceMinutes: Int? = nil

    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Holds its places.
        case confirmed
        /// Waits for places, in the order signed up.
        case waitlisted
        /// Given up, by the member or staff.
        case cancelled
        /// Came without signing up (checked in only).
        case walkIn = "walk_in"

        public var chinese: String {
            switch self {
            case .confirmed: "已报名"
            case .waitlisted: "候补中"
            case .cancelled: "已取消"
            case .walkIn: "现场签到"
            }
        }
    }
}

/// What a check-in came to.
public enum CheckInOutcome: Sendable, Hashable {
    /// Checked in now (a walk-in when they had not signed up).
    case checkedIn(Activity, walkIn: Bool)
    /// Checked in before, by another message.
    case already(Activity)
    /// Checked out now (or by this same message before), with the minutes of service counted.
    case checkedOut(Activity, minutes: Int)
    /// Refused, with the reason in Chinese.
    case refused(String)

    /// What the member reads.
    public var text: String {
        switch self {
        case .checkedIn(let activity, let walkIn):
            "签到成功！「\(activity.title)」" + (walkIn ? "（现场签到）" : "") + "，欢迎参加。"
        case .already(let activity): "您已经签到过了：「\(activity.title)」。"
        case .checkedOut(let activity, let minutes):
            "签退成功！「\(activity.title)」本次服务时长 \(Activities.hours(minutes))，感谢您的志愿服务。"
        case .refused(let reason): reason
        }
    }
}

/// What a sign-up came to.
public enum SignUpOutcome: Sendable, Hashable {
    /// A place (or places) held.
    case confirmed(ActivitySignUp)
    /// On the waitlist, at this position (1 is next).
    case waitlisted(ActivitySignUp, position: Int)
    /// Refused, with the reason in Chinese (closed, full without a waitlist, not for them, too
    /// many people).
    case refused(String)
}
