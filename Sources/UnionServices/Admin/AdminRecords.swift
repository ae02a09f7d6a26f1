import Foundation
import ReplyRules
import WeChatWire

/// The admin API's records: the JSON field names are a contract with tools outside the code.
public enum AdminRecords {
    /// A join application as the admin API shows it.
    public struct Member: Codable, Sendable, Hashable {
        public var id: Int
        public var number: String
        public var openid: String
        public var name: String
        public var phone: String
        public var unit: String
        public var unitCode: String
        public var status: String
        public var reason: String?
        public var createdAt: String
        public var decidedAt: String?
        public var fields: [String: String]

        public init(_ application: MembershipApplication) {
            id = application.id
            number = application.number
            openid = application.openid
            name = application.name
            phone = application.phone
            unit = application.unit
            unitCode = application.unitCode
            status = application.status.rawValue
            reason = application.reason
            createdAt = AdminRecords.timestamp(application.createdAt)
            decidedAt = application.decidedAt.map(AdminRecords.timestamp)
            fields = application.extra
        }
    }

    /// A suggestion as the admin API shows it.
    public struct SuggestionRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var number: String
        public var openid: String
        public var unitCode: String
        public var content: String
        public var status: String
        public var reply: String?
        public var createdAt: String
        public var updatedAt: String

        public init(_ suggestion: Suggestion) {
            id = suggestion.id
            number = suggestion.number
            openid = suggestion.openid
            unitCode = suggestion.unitCode
            content = suggestion.content
            status = suggestion.status.rawValue
            reply = suggestion.reply
            createdAt = AdminRecords.timestamp(suggestion.createdAt)
            updatedAt = AdminRecords.timestamp(suggestion.updatedAt)
        }
    }

    /// A form submission as the admin API shows it.
    public struct Submission: Codable, Sendable, Hashable {
        public var id: Int
        public var number: String
        public var form: String
        public var openid: String
        public var unitCode: String
        public var answers: [String: String]
        public var status: String
        public var reply: String?
        public var createdAt: String

        public init(_ submission: FormSubmission) {
            status = submission.status.rawValue
            reply = submission.reply
            id = submission.id
            number = submission.number
            form = submission.form
            openid = submission.openid
            unitCode = submission.unitCode
            answers = submission.answers
            createdAt = AdminRecords.timestamp(submission.createdAt)
        }
    }

    /// An outbox message as the admin API shows it.
    public struct OutboxRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var openid: String
        public var reason: String
        public var status: String
        public var attempts: Int
        public var lastError: String?
        public var preview: String
        public var createdAt: String
        public var sentAt: String?
        /// For a notice, its kind (`membership`, `case_reply` …).
        public var noticeKind: String?
        /// The channel that reached the member: `subscription`, `template`, `custom` or `reply`.
        public var channel: String?
        /// Why earlier channels did not, or why none did (Chinese, for staff).
        public var channelNote: String?
        /// WeChat's delivery report, when one came (`success`).
        public var delivery: String?

        public init(_ message: OutboxMessage) {
            id = message.id
            openid = message.openid
            reason = message.reason.rawValue
            status = message.status.rawValue
            attempts = message.attempts
            lastError = message.lastError
            preview = String(visibleTextOfBodies(message.bodies).prefix(80))
            createdAt = AdminRecords.timestamp(message.createdAt)
            sentAt = message.sentAt.map(AdminRecords.timestamp)
            noticeKind = message.notice?.kind.rawValue
            channel = message.channel?.rawValue
            channelNote = message.channelNote
            delivery = message.delivery
        }
    }

    /// ISO 8601 in UTC (`2026-11-23T08:30:00Z`), as the JSON carries times. Computed, not
    /// formatted by Foundation: a formatter made per row cost 300 µs, and 80,000 suggestions took
    /// 25 s to list.
    public static func timestamp(_ unixSeconds: Int64) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: 0)
        let second = Int((unixSeconds % 60 + 60) % 60)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = time.year < 1000 ? String(String(time.year + 10_000).dropFirst()) : "\(time.year)"
        return "\(year)-\(two(time.month))-\(two(time.day))T\(two(time.hour)):\(two(time.minute)):\(two(second))Z"
    }

    /// The admin API's JSON encoder: sorted keys, slashes unescaped.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

func visibleTextOfBodies(_ bodies: [ReplyBody]) -> String {
    visibleText(of: bodies)
}

extension AdminRecords {
    /// An audit-log entry as the admin API shows it.
    public struct AuditRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var at: String
        public var actor: String
        public var action: String
        public var record: String
        public var unitCode: String
        public var before: [String: String]?
        public var after: [String: String]?

        public init(_ entry: AuditEntry) {
            id = entry.id
            at = AdminRecords.timestamp(entry.at)
            actor = entry.actor
            action = entry.action
            record = entry.record
            unitCode = entry.unitCode
            before = entry.before
            after = entry.after
        }
    }

    /// A unit's QR code and its funnel as the admin API shows them.
    public struct QRRecord: Codable, Sendable, Hashable {
        public var unitCode: String
        public var unit: String
        public var scene: String
        public var permanent: Bool
        public var ticket: String
        public var url: String
        public var expiresAt: String?
        public var createdAt: String
        public var createdBy: String
        public var deleted: Bool
        public var funnel: QRFunnel

        public init(_ code: UnitQRCode, funnel: QRFunnel, organisation: Organisation) {
            unitCode = code.unitCode
            unit = organisation.units[code.unitCode]?.name ?? ""
            scene = code.scene
            permanent = code.permanent
            ticket = code.ticket
            url = code.url
            expiresAt = code.expiresAt.map(AdminRecords.timestamp)
            createdAt = AdminRecords.timestamp(code.createdAt)
            createdBy = code.createdBy
            deleted = code.deleted
            self.funnel = funnel
        }
    }
}

extension AdminRecords {
    /// A case (留言) as the admin API shows it.
    public struct CaseRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var number: String
        public var openid: String
        public var unitCode: String
        public var status: String
        public var overdue: Bool
        public var assignedStaff: String?
        public var escalatedTo: String?
        public var dueAt: String
        public var createdAt: String
        public var updatedAt: String
        public var closedAt: String?
        public var rating: Int?
        /// The thread, oldest first (in a single case's view only).
        public var messages: [CaseMessageRecord]?

        public init(_ memberCase: MemberCase, at now: Int64, messages: [CaseMessage]? = nil) {
            id = memberCase.id
            number = memberCase.number
            openid = memberCase.openid
            unitCode = memberCase.unitCode
            status = memberCase.status.rawValue
            overdue = memberCase.isOverdue(at: now)
            assignedStaff = memberCase.assignedStaff
            escalatedTo = memberCase.escalatedTo
            dueAt = AdminRecords.timestamp(memberCase.dueAt)
            createdAt = AdminRecords.timestamp(memberCase.createdAt)
            updatedAt = AdminRecords.timestamp(memberCase.updatedAt)
            closedAt = memberCase.closedAt.map(AdminRecords.timestamp)
            rating = memberCase.rating
            self.messages = messages?.map(CaseMessageRecord.init)
        }
    }

    /// One message of a case's thread.
    public struct CaseMessageRecord: Codable, Sendable, Hashable {
        public var id: Int
        /// `member` or `staff`.
        public var from: String
        public var author: String?
        public var kind: String
        public var content: String
        public var mediaStatus: String?
        public var mediaType: String?
        public var mediaError: String?
        public var at: String

        public init(_ message: CaseMessage) {
            mediaType = message.mediaType
            mediaError = message.mediaError
            id = message.id
            from = message.direction
            author = message.author
            kind = message.kind
            content = message.content
            mediaStatus = message.mediaStatus
            at = AdminRecords.timestamp(message.createdAt)
        }
    }
}

extension AdminRecords {
    /// A member to call about notices WeChat would not deliver (需电话通知).
    public struct PhoneNoticeRecord: Codable, Sendable, Hashable {
        public var openid: String
        public var name: String
        public var phone: String
        public var unitCode: String
        public var notices: [String]
        /// Why each waiting notice reached no one, in the same order.
        public var why: [String]
        public var since: String

        public init(_ notice: PhoneNotice) {
            openid = notice.openid
            name = notice.name
            phone = notice.phone
            unitCode = notice.unitCode
            notices = notice.notices
            why = notice.why
            since = AdminRecords.timestamp(notice.since)
        }
    }
}

extension AdminRecords {
    /// An aid application as the admin API shows it (sensitive answers masked as on the pages).
    public struct AidRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var number: String
        public var workflow: String
        public var openid: String
        public var unitCode: String
        public var status: String
        /// The stop of its chain it is at: what a decision names (`stop`).
        public var stop: Int
        /// The level deciding now, and its unit.
        public var level: String?
        public var levelUnit: String
        public var overdue: Bool
        public var escalatedTo: String?
        public var asked: String?
        public var reason: String?
        public var answers: [String: String]
        public var recorded: [String: String]
        /// The amount granted, in yuan (`2000.00`).
        public var amount: String?
        public var dueAt: String
        public var createdAt: String
        public var decidedAt: String?
        /// Its steps, oldest first (in a single application's view only).
        public var steps: [AidStepRecord]?

        public init(_ application: AidApplication, workflow: Workflow?, at now: Int64, steps: [AidStep]? = nil) {
            id = application.id
            number = application.number
            self.workflow = application.workflow
            openid = application.openid
            unitCode = application.unitCode
            status = application.status.rawValue
            stop = application.stop
            level = application.isDecided ? nil : workflow?.levels[safe: application.currentLevel]?.name
            levelUnit = application.currentUnit
            overdue = application.isOverdue(at: now)
            escalatedTo = application.escalatedTo
            asked = application.asked
            reason = application.reason
            answers = application.answers
            recorded = application.recorded
            amount = application.amountCents.map(FormAnswer.yuan)
            dueAt = AdminRecords.timestamp(application.dueAt)
            createdAt = AdminRecords.timestamp(application.createdAt)
            decidedAt = application.decidedAt.map(AdminRecords.timestamp)
            self.steps = steps?.map(AidStepRecord.init)
        }
    }

    /// One step of an aid application.
    public struct AidStepRecord: Codable, Sendable, Hashable {
        public var action: String
        public var stop: Int
        public var level: Int
        public var unitCode: String
        public var actor: String
        public var note: String?
        public var recorded: [String: String]
        public var at: String

        public init(_ step: AidStep) {
            action = step.action.rawValue
            stop = step.stop
            level = step.level
            unitCode = step.unitCode
            actor = step.actor
            note = step.note
            recorded = step.recorded
            at = AdminRecords.timestamp(step.at)
        }
    }
}

extension AdminRecords {
    /// An activity as the admin API shows it, with its places held and sign-ups waiting.
    public struct ActivityRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var title: String
        public var description: String
        public var picture: String
        public var place: String
        public var unitCode: String
        /// `own`, `units` or `everyone`.
        public var sharing: String
        public var sharedUnits: [String]
        public var membersOnly: Bool
        public var startsAt: String
        public var endsAt: String
        public var opensAt: String
        public var closesAt: String
        public var capacity: Int
        public var waitlist: Bool
        public var maxPeople: Int
        public var walkIns: Bool
        public var status: String
        public var taken: Int?
        public var waiting: Int?
        public var checkInUrl: String?
        /// The club whose members only may sign up.
        public var clubId: Int?
        /// Whether it records service hours; its check-out code's address, once made.
        public var recordsHours: Bool
        public var checkOutUrl: String?
        /// What it asks at sign-up, one question a line.
        public var questions: String
        /// Its sign-ups in the order made (in a single activity's view only).
        public var signUps: [SignUpRecord]?

        public init(_ activity: Activity, taken: Int? = nil, waiting: Int? = nil, signUps: [ActivitySignUp]? = nil) {
            id = activity.id
            title = activity.title
            description = activity.description
            picture = activity.picture
            place = activity.place
            unitCode = activity.unitCode
            switch activity.sharing {
            case .own:
                sharing = "own"
                sharedUnits = []
            case .everyone:
                sharing = "everyone"
                sharedUnits = []
            case .units(let codes):
                sharing = "units"
                sharedUnits = codes
            }
            membersOnly = activity.membersOnly
            startsAt = AdminRecords.timestamp(activity.startsAt)
            endsAt = AdminRecords.timestamp(activity.endsAt)
            opensAt = AdminRecords.timestamp(activity.opensAt)
            closesAt = AdminRecords.timestamp(activity.closesAt)
            capacity = activity.capacity
            waitlist = activity.waitlist
            maxPeople = activity.maxPeople
            walkIns = activity.walkIns
            status = activity.status.rawValue
            self.taken = taken ?? signUps.map { $0.filter { $0.status == .confirmed }.map(\.people).reduce(0, +) }
            self.waiting = waiting ?? signUps.map { $0.filter { $0.status == .waitlisted }.count }
            checkInUrl = activity.checkInURL
            clubId = activity.clubId
            recordsHours = activity.recordsHours
            checkOutUrl = activity.checkOutURL
            questions = activity.questions
            self.signUps = signUps?.map(SignUpRecord.init)
        }
    }

    /// One sign-up for an activity.
    public struct SignUpRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var openid: String
        public var unitCode: String
        public var people: Int
        public var status: String
        public var createdAt: String
        public var promotedAt: String?
        public var cancelledAt: String?
        public var checkedInAt: String?
        public var checkedOutAt: String?
        /// The minutes of service counted at check-out.
        public var serviceMinutes: Int?
        /// The answers to the activity's questions, by question.
        public var answers: [String: String]

        public init(_ signUp: ActivitySignUp) {
            id = signUp.id
            openid = signUp.openid
            unitCode = signUp.unitCode
            people = signUp.people
            status = signUp.status.rawValue
            createdAt = AdminRecords.timestamp(signUp.createdAt)
            promotedAt = signUp.promotedAt.map(AdminRecords.timestamp)
            cancelledAt = signUp.cancelledAt.map(AdminRecords.timestamp)
            checkedInAt = signUp.checkedInAt.map(AdminRecords.timestamp)
            checkedOutAt = signUp.checkedOutAt.map(AdminRecords.timestamp)
            serviceMinutes = signUp.serviceMinutes
            answers = signUp.answers
        }
    }

    /// A club or volunteer team as the admin API shows it.
    public struct ClubRecord: Codable, Sendable, Hashable {
        public var id: Int
        public var name: String
        public var unitCode: String
        public var description: String
        public var leader: String
        public var volunteer: Bool
        /// `open` or `closed` (taking no new members).
        public var status: String
        public var members: Int?
        public var waiting: Int?
        /// Its requests waiting and its members (in a single club's view only).
        public var memberships: [ClubMembershipRecord]?

        public init(_ club: Club, members: Int? = nil, waiting: Int? = nil, memberships: [ClubMembership]? = nil) {
            id = club.id
            name = club.name
            unitCode = club.unitCode
            description = club.description
            leader = club.leader
            volunteer = club.volunteer
            status = club.status.rawValue
            self.members = members ?? memberships.map { $0.filter { $0.status == .approved }.count }
            self.waiting = waiting ?? memberships.map { $0.filter { $0.status == .pending }.count }
            self.memberships = memberships?.map(ClubMembershipRecord.init)
        }
    }

    /// A member's request to join a club, or their membership.
    public struct ClubMembershipRecord: Codable, Sendable, Hashable {
        public var openid: String
        public var unitCode: String
        /// `pending`, `approved`, `refused` or `left`.
        public var status: String
        public var reason: String?
        public var decidedBy: String?
        public var createdAt: String
        public var decidedAt: String?

        public init(_ membership: ClubMembership) {
            openid = membership.openid
            unitCode = membership.unitCode
            status = membership.status.rawValue
            reason = membership.reason
            decidedBy = membership.decidedBy
            createdAt = AdminRecords.timestamp(membership.createdAt)
            decidedAt = membership.decidedAt.map(AdminRecords.timestamp)
        }
    }

    /// One member's volunteer service over a period.
    public struct ServiceRecord: Codable, Sendable, Hashable {
        public var openid: String
        public var unitCode: String
        public var minutes: Int
        public var activities: Int

        public init(openid: String, unitCode: String, minutes: Int, activities: Int) {
            self.openid = openid
            self.unitCode = unitCode
            self.minutes = minutes
            self.activities = activities
        }
    }
}
