import Foundation
import ReplyRules
import SQLKit

/// Activities and their sign-ups: places never oversold, a waitlist that moves by itself in the
/// order members signed up, one sign-up per member however often the message comes. Every
/// sign-up, cancellation and promotion of one activity runs under that activity's lock (a
/// PostgreSQL advisory lock, the writer's lock on SQLite), so instances sharing a database count
/// the same places.
public struct Activities: Sendable {
    let store: UnionStore

    public init(store: UnionStore) {
        self.store = store
    }

    /// The advisory locks of activities: this plus the activity's id.
    static let lockBase: Int64 = 0x4163_7469_0000_0000  // "Acti"

    /// What staff write when they create or change an activity.
    public struct Draft: Sendable, Hashable {
        public var title: String
        public var description: String
        public var picture: String
        public var place: String
        public var unitCode: String
        public var sharing: Activity.Sharing
        public var membersOnly: Bool
        public var startsAt: Int64
        public var endsAt: Int64
        public var opensAt: Int64
        public var closesAt: Int64
        public var capacity: Int
        public var waitlist: Bool
        public var maxPeople: Int
        public var walkIns: Bool
        /// The club whose members only may sign up (nil: no club).
        public var clubId: Int?
        /// Whether it records service hours (check-out by a second code).
        public var recordsHours: Bool
        /// What it asks at sign-up, one question a line (``ActivityQuestions``).
        public var questions: String = ""

        public init(
            title: String, description: String = "", picture: String = "", place: String, unitCode: String,
            sharing: Activity.Sharing = .own, membersOnly: Bool = true, startsAt: Int64, endsAt: Int64,
            opensAt: Int64, closesAt: Int64, capacity: Int, waitlist: Bool = true, maxPeople: Int = 1,
            walkIns: Bool = false, clubId: Int? = nil, recordsHours: Bool = false, questions: String = ""
        ) {
            self.title = title
            self.description = description
            self.picture = picture
            self.place = place
            self.unitCode = unitCode
            self.sharing = sharing
            self.membersOnly = membersOnly
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.opensAt = opensAt
            self.closesAt = closesAt
            self.capacity = capacity
            self.waitlist = waitlist
            self.maxPeople = maxPeople
            self.walkIns = walkIns
            self.clubId = clubId
            self.recordsHours = recordsHours
            self.questions = questions
        }
    }

    // MARK: Rows

    struct Row: Codable, Sendable {
        var id: Int?
        var title: String
        var description: String
        var picture: String
        var place: String
        var unitCode: String
        var sharedWith: String
        var membersOnly: Int
        var startsAt: Int64
        var endsAt: Int64
        var opensAt: Int64
        var closesAt: Int64
        var capacity: Int
        var waitlist: Int
        var maxPeople: Int
        var walkIns: Int
        var status: Activity.Status
        var createdBy: String
        var createdAt: Int64
        var updatedAt: Int64
        var checkinTicket: String? = nil
        var checkinUrl: String? = nil
        var remindedAt: Int64? = nil
        var clubId: Int? = nil
        var recordsHours: Int = 0
        var checkoutTicket: String? = nil
        var checkoutUrl: String? = nil
        var questions: String = ""

        var activity: Activity {
            var activity = Activity(
                id: id ?? 0, title: title, description: description, picture: picture, place: place,
                unitCode: unitCode, sharing: Activity.Sharing(stored: sharedWith), membersOnly: membersOnly != 0,
                startsAt: startsAt, endsAt: endsAt, opensAt: opensAt, closesAt: closesAt, capacity: capacity,
                waitlist: waitlist != 0, maxPeople: maxPeople, walkIns: walkIns != 0, status: status,
                createdAt: createdAt, updatedAt: updatedAt)
            activity.checkInURL = checkinUrl
            activity.clubId = clubId
            activity.recordsHours = recordsHours != 0
            activity.checkOutURL = checkoutUrl
            activity.questions = questions
            return activity
        }

        init(_ draft: Draft, id: Int? = nil, status: Activity.Status = .open, by actor: String, at now: Int64) {
            self.id = id
            title = draft.title
            description = draft.description
            picture = draft.picture
            place = draft.place
            unitCode = draft.unitCode
            sharedWith = draft.sharing.stored
            membersOnly = draft.membersOnly ? 1 : 0
            startsAt = draft.startsAt
            endsAt = draft.endsAt
            opensAt = draft.opensAt
            closesAt = draft.closesAt
            capacity = draft.capacity
            waitlist = draft.waitlist ? 1 : 0
            maxPeople = draft.maxPeople
            walkIns = draft.walkIns ? 1 : 0
            clubId = draft.clubId
            recordsHours = draft.recordsHours ? 1 : 0
            questions = draft.questions
            self.status = status
            createdBy = actor
            createdAt = now
            updatedAt = now
        }
    }

    struct SignUpRow: Codable, Sendable {
        var id: Int?
        var activityId: Int
        var openid: String
        var unitCode: String
        var people: Int
        var status: ActivitySignUp.Status
        /// `activity:openid` while it holds or waits for places; NULL once cancelled (unique).
        var activeKey: String?
        var answers: String
        var messageKey: String?
        var createdAt: Int64
        var updatedAt: Int64
        var promotedAt: Int64?
        var cancelledAt: Int64?
        var checkedInAt: Int64?
        var checkinKey: String? = nil
        var remindedAt: Int64? = nil
        var checkedOutAt: Int64? = nil
        var checkoutKey: String? = nil
        var serviceMinutes: Int? = nil

        var signUp: ActivitySignUp {
            var signUp = ActivitySignUp(
                id: id ?? 0, activityId: activityId, openid: openid, unitCode: unitCode, people: people,
                status: status,
                answers: (try? JSONDecoder().decode([String: String].self, from: Data(answers.utf8))) ?? [:],
                createdAt: createdAt, promotedAt: promotedAt, cancelledAt: cancelledAt, checkedInAt: checkedInAt)
            signUp.checkedOutAt = checkedOutAt
            signUp.serviceMinutes = serviceMinutes
            return signUp
        }
    }

    static func activity(_ id: Int, in database: any SQLDatabase) async throws -> Activity? {
        try await database.select().columns("*").from("activities").where("id", .equal, id)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.activity
    }

    static func signUps(of id: Int, in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("activity_signups").where("activity_id", .equal, id)
    }

    static func lock(_ id: Int, _ store: UnionStore, _ database: any SQLDatabase) async throws {
        try await store.dialect.lockForTransaction(lockBase + Int64(id), database)
    }

    /// Whether `actor` sees and acts for `activity`: staff of its unit or above, or the leader
    /// of its club.
    static func sees(_ actor: Principal, _ activity: Activity) -> Bool {
        (actor.club != nil && actor.club == activity.clubId) || actor.scope.contains(activity.unitCode)
    }

    /// `query` restricted to what `actor` sees: their club's activities for a club leader, their
    /// part of the tree otherwise.
    static func restrict(_ query: SQLSelectBuilder, to actor: Principal) -> SQLSelectBuilder {
        if let club = actor.club { return query.where("club_id", .equal, club) }
        return actor.scope.restrict(query)
    }

    /// The draft with its club's unit, for an activity of a club: the club must exist and be
    /// seen by the actor (a leader may organise their own club's activities only).
    func placed(_ draft: Draft, by actor: Principal, organisation: Organisation) async throws -> Draft {
        guard let clubId = draft.clubId else {
            guard actor.club == nil else { throw AdminActionError(.forbidden, "俱乐部负责人只能组织本俱乐部的活动") }
            return draft
        }
        guard let club = try await Clubs(store: store).club(clubId), Clubs.sees(actor, club, organisation: organisation)
        else { throw AdminActionError(.invalid, "没有编号为 \(clubId) 的俱乐部") }
        var placed = draft
        placed.unitCode = club.unitCode
        return placed
    }

    // MARK: Staff

    /// Refuses what an activity may not be: no title, times out of order, places or people out of
    /// range, a unit outside the staff member's part of the tree or not in it at all.
    static func check(_ draft: Draft, by actor: Principal, organisation: Organisation) throws {
        guard actor.may(.decide) || actor.may(.editRules) else {
            throw AdminActionError(.forbidden, "the \(actor.role.rawValue) role may not manage activities")
        }
        let title = draft.title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...64).contains(title.count) else { throw AdminActionError(.invalid, "活动名称应为 1–64 个字") }
        guard !draft.place.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw AdminActionError(.invalid, "请填写活动地点")
        }
        guard draft.opensAt < draft.closesAt, draft.closesAt <= draft.startsAt, draft.startsAt < draft.endsAt else {
            throw AdminActionError(.invalid, "时间应为：报名开始 < 报名截止 ≤ 活动开始 < 活动结束")
        }
        guard (1...100_000).contains(draft.capacity) else { throw AdminActionError(.invalid, "名额应为 1 到 100000") }
        guard (1...10).contains(draft.maxPeople) else { throw AdminActionError(.invalid, "每份报名的人数应为 1 到 10") }
        _ = try ActivityQuestions.fields(draft.questions)
        if !draft.unitCode.isEmpty {
            guard organisation.units[draft.unitCode] != nil else {
                throw AdminActionError(.invalid, "没有代码为 \(draft.unitCode) 的单位")
            }
        }
        guard
            (actor.club != nil && actor.club == draft.clubId)
                || actor.scope.contains(draft.unitCode.isEmpty ? (organisation.root ?? "") : draft.unitCode)
        else {
            throw AdminActionError(.forbidden, "只能为本单位及下级单位组织活动")
        }
        if case .units(let codes) = draft.sharing {
            for code in codes where organisation.units[code] == nil {
                throw AdminActionError(.invalid, "共享的单位 \(code) 不在组织架构里")
            }
        }
    }

    /// Creates an activity, audited.
    public func create(_ draft: Draft, by actor: Principal, organisation: Organisation, at now: Int64) async throws
        -> Activity
    {
        let draft = try await placed(draft, by: actor, organisation: organisation)
        try Self.check(draft, by: actor, organisation: organisation)
        // 「活动」 reads the places left again: this instance changed them.
        defer { store.activityBoard.invalidate() }
        return try await store.transaction { database in
            guard
                let activity = try await database.insert(into: "activities")
                    .model(Row(draft, by: actor.name, at: now), keyEncodingStrategy: .convertToSnakeCase)
                    .returning("*")
                    .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.activity
            else { throw StoreError("activity \(draft.title) vanished after it was written") }
            try await AuditLog.record(
                actor, action: "activity.create", record: "activity:\(activity.id)", unit: activity.unitCode,
                before: nil, after: Self.summary(activity), at: now, in: database)
            return activity
        }
    }

    /// Changes an activity, audited: a change of time or place is told to everyone signed up or
    /// waiting; more places promote from the waitlist at once. 404 outside the actor's part.
    public func update(
        _ id: Int, _ draft: Draft, by actor: Principal, organisation: Organisation, at now: Int64
    ) async throws -> (Activity, promoted: [ActivitySignUp]) {
        let draft = try await placed(draft, by: actor, organisation: organisation)
        try Self.check(draft, by: actor, organisation: organisation)
        let store = store
        // 「活动」 reads the places left again: this instance changed them.
        defer { store.activityBoard.invalidate() }
        return try await store.transaction { database in
            try await Self.lock(id, store, database)
            guard let before = try await Self.activity(id, in: database), Self.sees(actor, before)
            else { throw AdminActionError(.notFound, "no activity \(id)") }
            var row = Row(draft, id: id, status: before.status, by: actor.name, at: now)
            row.createdAt = before.createdAt
            let kept = try await database.select().columns("*").from("activities").where("id", .equal, id)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            row.checkinTicket = kept?.checkinTicket
            row.checkinUrl = kept?.checkinUrl
            row.checkoutTicket = kept?.checkoutTicket
            row.checkoutUrl = kept?.checkoutUrl
            row.remindedAt = before.startsAt == draft.startsAt ? kept?.remindedAt : nil
            try await database.update("activities").set(model: row, keyEncodingStrategy: .convertToSnakeCase)
                .where("id", .equal, id).run()
            guard let activity = try await Self.activity(id, in: database) else {
                throw StoreError("activity \(id) vanished while it was changed")
            }
            try await AuditLog.record(
                actor, action: "activity.update", record: "activity:\(id)", unit: activity.unitCode,
                before: Self.summary(before), after: Self.summary(activity), at: now, in: database)
            if before.startsAt != activity.startsAt || before.endsAt != activity.endsAt
                || before.place != activity.place
            {
                let waiting = try await Self.signUps(of: id, in: database)
                    .where("status", .in, [ActivitySignUp.Status.confirmed.rawValue, "waitlisted"])
                    .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
                for signUp in waiting {
                    try await Outbox.enqueue(
                        Self.notice(
                            activity, status: signUp.status.chinese,
                            text: "您报名的活动「\(activity.title)」有变动：时间 \(Self.when(activity))，地点 \(activity.place)。"),
                        to: signUp.openid, at: now, in: database)
                }
            }
            let promoted = try await Self.promote(activity, at: now, in: database)
            return (activity, promoted)
        }
    }

    static func summary(_ activity: Activity) -> [String: String] {
        [
            "title": activity.title, "place": activity.place, "starts_at": String(activity.startsAt),
            "ends_at": String(activity.endsAt), "capacity": String(activity.capacity),
            "shared": activity.sharing.stored,
        ]
    }

    /// 「12月20日 09:00–11:30」 in Beijing time (the union's offset is applied by the caller's
    /// book elsewhere; activities are told in +08:00).
    public static func when(_ activity: Activity, utcOffsetMinutes offset: Int = 480) -> String {
        let start = LocalTime(unixSeconds: activity.startsAt, utcOffsetMinutes: offset)
        let end = LocalTime(unixSeconds: activity.endsAt, utcOffsetMinutes: offset)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let day = "\(start.month)月\(start.day)日 \(two(start.hour)):\(two(start.minute))"
        let sameDay = start.isoDate == end.isoDate
        return day + "–" + (sameDay ? "" : "\(end.month)月\(end.day)日 ") + "\(two(end.hour)):\(two(end.minute))"
    }

    static func notice(_ activity: Activity, status: String, text: String) -> Notice {
        Notice(
            .activity,
            fields: [
                "title": activity.title, "time": when(activity), "place": activity.place, "status": status,
            ],
            text: text + "\n回复「我的活动」可查看您报名的活动。")
    }

    // MARK: Signing up

    /// Signs `openid` up for activity `id` with `people` (themselves included), once per `key`
    /// and once per member: a place while places are left and nobody waits, the waitlist's end
    /// otherwise (where it has one), a refusal with its reason where neither.
    public func signUp(
        _ id: Int, openid: String, people: Int = 1, answers: [String: String] = [:], key: String, isMember: Bool,
        organisation: Organisation, at now: Int64
    ) async throws -> SignUpOutcome {
        let store = store
        // 「活动」 reads the places left again: this instance changed them.
        defer { store.activityBoard.invalidate() }
        return try await store.transaction { database in
            try await Self.lock(id, store, database)
            if let earlier = try await Self.signUps(of: id, in: database).where("message_key", .equal, key)
                .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            {
                return try await Self.outcome(earlier.signUp, in: database)
            }
            guard let activity = try await Self.activity(id, in: database) else {
                return .refused("没有这个活动。")
            }
            if let active = try await Self.signUps(of: id, in: database).where("active_key", .equal, "\(id):\(openid)")
                .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            {
                return try await Self.outcome(active.signUp, in: database)
            }
            guard activity.status == .open else { return .refused("活动「\(activity.title)」已取消。") }
            guard now >= activity.opensAt else { return .refused("活动「\(activity.title)」还没有开始报名。") }
            guard now < activity.closesAt, now < activity.startsAt else {
                return .refused("活动「\(activity.title)」已经截止报名。")
            }
            if activity.membersOnly, !isMember { return .refused("活动「\(activity.title)」仅限工会会员报名。") }
            if let club = activity.clubId, try await !Clubs.isMember(openid, of: club, in: database) {
                let name = try await Clubs.club(club, in: database)?.name ?? "俱乐部"
                return .refused("活动「\(activity.title)」仅限「\(name)」的成员报名。回复「俱乐部」可申请加入。")
            }
            let unit = try await MembershipRegistry.unitCode(of: openid, in: database)
            guard activity.admits(unit: unit, in: organisation) else {
                return .refused("活动「\(activity.title)」只面向组织单位的会员，您所在的单位不在范围内。")
            }
            guard (1...activity.maxPeople).contains(people) else {
                return .refused("每份报名最多 \(activity.maxPeople) 人（含本人）。")
            }
            let checked: [String: String]
            switch FormAnswer.answers(answers, for: ActivityQuestions.of(activity)) {
            case .success(let values): checked = values
            case .failure(let problem):
                return .refused(
                    answers.isEmpty
                        ? "报名「\(activity.title)」需要填写报名信息，请在活动页面报名。" : problem.message + "。")
            }
            let (taken, waiting) = try await Self.load(id, in: database)
            let status: ActivitySignUp.Status
            if waiting == 0, taken + people <= activity.capacity {
                status = .confirmed
            } else if activity.waitlist {
                status = .waitlisted
            } else {
                return .refused("活动「\(activity.title)」名额已满。")
            }
            let row = SignUpRow(
                activityId: id, openid: openid, unitCode: unit, people: people, status: status,
                activeKey: "\(id):\(openid)", answers: try JSONEncoder.sortedText(checked), messageKey: key,
                createdAt: now, updatedAt: now)
            guard
                let stored = try await database.insert(into: "activity_signups")
                    .model(row, keyEncodingStrategy: .convertToSnakeCase)
                    .returning("*")
                    .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)?.signUp
            else { throw StoreError("a sign-up for activity \(id) vanished after it was written") }
            return status == .confirmed ? .confirmed(stored) : .waitlisted(stored, position: waiting + 1)
        }
    }

    /// The places held (people confirmed) and the sign-ups waiting.
    static func load(_ id: Int, in database: any SQLDatabase) async throws -> (taken: Int, waiting: Int) {
        let taken =
            // SUM of a bigint is a numeric on PostgreSQL: cast back for one type on both.
            try await database.select().column(SQLRaw("CAST(COALESCE(SUM(people), 0) AS BIGINT)"), as: "taken")
            .from("activity_signups").where("activity_id", .equal, id)
            .where("status", .equal, ActivitySignUp.Status.confirmed.rawValue)
            .first(decodingColumn: "taken", as: Int.self) ?? 0
        let waiting = try await database.count("activity_signups") {
            $0.where("activity_id", .equal, id).where("status", .equal, ActivitySignUp.Status.waitlisted.rawValue)
        }
        return (taken, waiting)
    }

    /// What a sign-up stands at: its place, or its position on the waitlist.
    static func outcome(_ signUp: ActivitySignUp, in database: any SQLDatabase) async throws -> SignUpOutcome {
        switch signUp.status {
        case .confirmed, .walkIn: return .confirmed(signUp)
        case .cancelled: return .refused("这份报名已取消。")
        case .waitlisted:
            let ahead = try await database.count("activity_signups") {
                $0.where("activity_id", .equal, signUp.activityId)
                    .where("status", .equal, ActivitySignUp.Status.waitlisted.rawValue)
                    .where("id", .lessThan, signUp.id)
            }
            return .waitlisted(signUp, position: ahead + 1)
        }
    }

    /// Moves waiting sign-ups to places, in the order they signed up, while the first fits and
    /// sign-up is still open (closing sign-up or starting the activity ends promotion); each is
    /// told.
    static func promote(_ activity: Activity, at now: Int64, in database: any SQLDatabase) async throws
        -> [ActivitySignUp]
    {
        guard activity.status == .open, now < activity.closesAt, now < activity.startsAt else { return [] }
        var (taken, _) = try await load(activity.id, in: database)
        let waiting = try await signUps(of: activity.id, in: database)
            .where("status", .equal, ActivitySignUp.Status.waitlisted.rawValue).orderBy("id")
            .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        var promoted: [ActivitySignUp] = []
        for row in waiting {
            guard taken + row.people <= activity.capacity else { break }
            try await database.update("activity_signups")
                .set("status", to: ActivitySignUp.Status.confirmed.rawValue).set("promoted_at", to: now)
                .set("updated_at", to: now).where("id", .equal, row.id).run()
            taken += row.people
            var signUp = row.signUp
            signUp.status = .confirmed
            signUp.promotedAt = now
            promoted.append(signUp)
            try await Outbox.enqueue(
                notice(
                    activity, status: "候补成功",
                    text: "您候补的活动「\(activity.title)」有名额了，已为您报名成功。时间 \(when(activity))，地点 \(activity.place)。"),
                to: row.openid, at: now, in: database)
        }
        return promoted
    }

    /// Cancels `openid`'s sign-up for activity `id` (the member themselves, or staff removing
    /// them, audited) and promotes from the waitlist; nil when they had none. 404 for staff
    /// outside the activity's unit.
    public func cancel(_ id: Int, openid: String, by actor: Principal? = nil, at now: Int64) async throws -> (
        cancelled: ActivitySignUp?, promoted: [ActivitySignUp]
    ) {
        let store = store
        // 「活动」 reads the places left again: this instance changed them.
        defer { store.activityBoard.invalidate() }
        return try await store.transaction { database in
            try await Self.lock(id, store, database)
            guard let activity = try await Self.activity(id, in: database) else {
                throw AdminActionError(.notFound, "no activity \(id)")
            }
            if let actor {
                try actor.require(.decide)
                guard Self.sees(actor, activity) else {
                    throw AdminActionError(.notFound, "no activity \(id)")
                }
            }
            guard
                let row = try await Self.signUps(of: id, in: database)
                    .where("active_key", .equal, "\(id):\(openid)")
                    .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return (nil, []) }
            try await database.update("activity_signups")
                .set("status", to: ActivitySignUp.Status.cancelled.rawValue).set("active_key", to: SQLLiteral.null)
                .set("cancelled_at", to: now).set("updated_at", to: now).where("id", .equal, row.id).run()
            if let actor {
                try await AuditLog.record(
                    actor, action: "activity.remove", record: "activity:\(id)", unit: activity.unitCode,
                    before: ["status": row.status.rawValue], after: ["status": "cancelled", "openid": openid], at: now,
                    in: database)
                try await Outbox.enqueue(
                    Self.notice(
                        activity, status: "已取消", text: "您报名的活动「\(activity.title)」已被工作人员取消报名。如有疑问请联系组织单位。"),
                    to: openid, at: now, in: database)
            }
            var cancelled = row.signUp
            cancelled.status = .cancelled
            cancelled.cancelledAt = now
            // Places freed, or the head of the waitlist gone: whoever now comes first may fit.
            let promoted = try await Self.promote(activity, at: now, in: database)
            return (cancelled, promoted)
        }
    }

    // MARK: Reminders

    /// Sends the day-before reminder of every activity starting within a day that has not had
    /// one: a notice (kind `activity_reminder`, through the notice router's channels) to each
    /// sign-up holding places. Returns how many were queued; each activity is reminded once.
    public func remind(at now: Int64, utcOffsetMinutes offset: Int = 480) async throws -> Int {
        let store = store
        return try await store.transaction { database in
            let due = try await database.select().columns("*").from("activities")
                .where("status", .equal, Activity.Status.open.rawValue)
                .where(SQLColumn("reminded_at"), .is, SQLLiteral.null)
                .where("starts_at", .greaterThan, now).where("starts_at", .lessThanOrEqual, now + 86_400)
                .orderBy("starts_at").limit(50)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            var queued = 0
            for row in due {
                let activity = row.activity
                try await Self.lock(activity.id, store, database)
                let holders = try await Self.signUps(of: activity.id, in: database)
                    .where("status", .equal, ActivitySignUp.Status.confirmed.rawValue)
                    .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
                for signUp in holders {
                    let when = Self.when(activity, utcOffsetMinutes: offset)
                    try await Outbox.enqueue(
                        Notice(
                            .activityReminder,
                            fields: ["title": activity.title, "time": when, "place": activity.place],
                            text: "活动提醒：您报名的「\(activity.title)」\(when)开始，地点：\(activity.place)。"
                                + (signUp.people > 1 ? "您报名了 \(signUp.people) 人。" : "")
                                + "\n不能参加请回复「取消报名 \(activity.id)」，把名额让给候补的会员。"),
                        to: signUp.openid, at: now, in: database)
                    queued += 1
                }
                try await database.update("activity_signups").set("reminded_at", to: now)
                    .where("activity_id", .equal, activity.id)
                    .where("status", .equal, ActivitySignUp.Status.confirmed.rawValue).run()
                try await database.update("activities").set("reminded_at", to: now).where("id", .equal, activity.id)
                    .run()
            }
            return queued
        }
    }

    // MARK: Checking in

    /// The activity a check-in code's scene names (`checkin:12`).
    public static func activity(inScene scene: String) -> Int? {
        scene.hasPrefix(Activity.checkInPrefix) ? Int(scene.dropFirst(Activity.checkInPrefix.count)) : nil
    }

    /// The activity a check-out code's scene names (`checkout:12`).
    public static func activity(inCheckOutScene scene: String) -> Int? {
        scene.hasPrefix(Activity.checkOutPrefix) ? Int(scene.dropFirst(Activity.checkOutPrefix.count)) : nil
    }

    /// Keeps the check-in code (or, with `checkOut`, the check-out code) WeChat made for activity
    /// `id` (its ticket and what it encodes), audited. 404 outside the actor's part.
    public func setCheckInCode(
        _ id: Int, ticket: String, url: String, checkOut: Bool = false, by actor: Principal, at now: Int64
    ) async throws -> Activity {
        guard actor.may(.decide) || actor.may(.editRules) else {
            throw AdminActionError(.forbidden, "the \(actor.role.rawValue) role may not manage activities")
        }
        return try await store.transaction { database in
            guard let activity = try await Self.activity(id, in: database), Self.sees(actor, activity)
            else { throw AdminActionError(.notFound, "no activity \(id)") }
            guard !checkOut || activity.recordsHours else {
                throw AdminActionError(.invalid, "这个活动不记录服务时长，不需要签退码")
            }
            let prefix = checkOut ? "checkout" : "checkin"
            try await database.update("activities").set("\(prefix)_ticket", to: ticket).set("\(prefix)_url", to: url)
                .set("updated_at", to: now).where("id", .equal, id).run()
            try await AuditLog.record(
                actor, action: "activity.\(prefix)_code", record: "activity:\(id)", unit: activity.unitCode,
                before: nil, after: ["ticket": String(ticket.prefix(12))], at: now, in: database)
            var changed = activity
            if checkOut { changed.checkOutURL = url } else { changed.checkInURL = url }
            return changed
        }
    }

    /// Checks `openid` in at activity `id`: from two hours before it starts until it ends; a
    /// member with a place is checked in, anyone else is a walk-in where the activity takes them
    /// and refused where it does not. The same message (`key`) gets the same answer; another
    /// message after a check-in is told it was done. Staff checking a member in by their card
    /// pass themselves as `actor` (audited).
    public func checkIn(_ id: Int, openid: String, key: String, by actor: Principal? = nil, at now: Int64)
        async throws -> CheckInOutcome
    {
        let store = store
        return try await store.transaction { database in
            try await Self.lock(id, store, database)
            guard let activity = try await Self.activity(id, in: database) else { return .refused("这个签到码对应的活动不存在。") }
            if let actor {
                try actor.require(.read)
                guard Self.sees(actor, activity) else {
                    throw AdminActionError(.notFound, "no activity \(id)")
                }
            }
            guard activity.status == .open else { return .refused("活动「\(activity.title)」已取消。") }
            guard now >= activity.startsAt - Activity.checkInEarly else {
                return .refused("「\(activity.title)」还没到签到时间：活动开始前 2 小时起可以签到。")
            }
            guard now < activity.endsAt else { return .refused("「\(activity.title)」已经结束，签到码已失效。") }
            let active = try await Self.signUps(of: id, in: database).where("active_key", .equal, "\(id):\(openid)")
                .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            if let active, active.checkedInAt != nil {
                return active.checkinKey == key
                    ? .checkedIn(activity, walkIn: active.status == .walkIn) : .already(activity)
            }
            let walkIn: Bool
            if let active, active.status == .confirmed {
                walkIn = false
                try await database.update("activity_signups").set("checked_in_at", to: now)
                    .set("checkin_key", to: key).set("updated_at", to: now).where("id", .equal, active.id).run()
            } else {
                guard activity.walkIns else {
                    return .refused(
                        active?.status == .waitlisted
                            ? "您在「\(activity.title)」的候补名单中，还没有名额，不能签到。"
                            : "您没有报名「\(activity.title)」，本活动不接受现场签到。")
                }
                walkIn = true
                if let active {
                    try await database.update("activity_signups")
                        .set("status", to: ActivitySignUp.Status.walkIn.rawValue).set("checked_in_at", to: now)
                        .set("checkin_key", to: key).set("updated_at", to: now).where("id", .equal, active.id).run()
                } else {
                    let unit = try await MembershipRegistry.unitCode(of: openid, in: database)
                    var row = SignUpRow(
                        activityId: id, openid: openid, unitCode: unit, people: 1, status: .walkIn,
                        activeKey: "\(id):\(openid)", answers: "{}", messageKey: nil, createdAt: now, updatedAt: now)
                    row.checkedInAt = now
                    row.checkinKey = key
                    try await database.insert(into: "activity_signups").model(
                        row, keyEncodingStrategy: .convertToSnakeCase
                    )
                    .run()
                }
            }
            if let actor {
                try await AuditLog.record(
                    actor, action: "activity.checkin", record: "activity:\(id)", unit: activity.unitCode, before: nil,
                    after: ["openid": PersonalData.maskOpenID(openid), "walk_in": walkIn ? "1" : "0"], at: now,
                    in: database)
            }
            return .checkedIn(activity, walkIn: walkIn)
        }
    }

    /// Checks `openid` out of activity `id` (one that records service hours): from their
    /// check-in until two hours after the end. The minutes of service are those between the
    /// check-in and the check-out that fall within the activity's time. The same message gets
    /// the same answer; a later scan after a check-out changes nothing.
    public func checkOut(_ id: Int, openid: String, key: String, at now: Int64) async throws -> CheckInOutcome {
        let store = store
        return try await store.transaction { database in
            try await Self.lock(id, store, database)
            guard let activity = try await Self.activity(id, in: database) else { return .refused("这个签退码对应的活动不存在。") }
            guard activity.recordsHours else { return .refused("「\(activity.title)」不需要签退。") }
            guard
                let row = try await Self.signUps(of: id, in: database).where("active_key", .equal, "\(id):\(openid)")
                    .first(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase),
                let checkedIn = row.checkedInAt
            else { return .refused("您还没有在「\(activity.title)」签到，请先扫签到码签到。") }
            if row.checkedOutAt != nil {
                return .checkedOut(activity, minutes: row.serviceMinutes ?? 0)
            }
            guard now <= activity.endsAt + Activity.checkOutLate else {
                return .refused("「\(activity.title)」结束已超过 2 小时，不能再签退。请联系组织单位登记服务时长。")
            }
            let minutes = Int(max(0, min(now, activity.endsAt) - max(checkedIn, activity.startsAt)) / 60)
            try await database.update("activity_signups").set("checked_out_at", to: now).set("checkout_key", to: key)
                .set("service_minutes", to: minutes).set("updated_at", to: now).where("id", .equal, row.id).run()
            return .checkedOut(activity, minutes: minutes)
        }
    }

    /// 「3 小时 20 分钟」.
    public static func hours(_ minutes: Int) -> String {
        let (hours, rest) = minutes.quotientAndRemainder(dividingBy: 60)
        if hours == 0 { return "\(rest) 分钟" }
        return rest == 0 ? "\(hours) 小时" : "\(hours) 小时 \(rest) 分钟"
    }

    /// One member's service: the activities they were checked out of, newest first, with the
    /// minutes of each.
    public func service(of openid: String) async throws -> [(Activity, minutes: Int)] {
        try await store.read { database in
            let rows = try await database.select().columns("*").from("activity_signups")
                .where("openid", .equal, openid).where(SQLColumn("service_minutes"), .isNot, SQLLiteral.null)
                .orderBy("id", .descending).limit(500)
                .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            var result: [(Activity, minutes: Int)] = []
            for row in rows {
                guard let activity = try await Self.activity(row.activityId, in: database) else { continue }
                result.append((activity, row.serviceMinutes ?? 0))
            }
            return result
        }
    }

    /// Service hours as staff read them: the minutes of each member (and their unit) summed over
    /// the activities `actor` sees that ended in `[from, to)`, most first.
    public func serviceTotals(for actor: Principal, from: Int64, to: Int64) async throws -> [(
        openid: String, unitCode: String, minutes: Int, activities: Int
    )] {
        try actor.require(.read)
        struct Total: Decodable {
            var openid: String
            var unitCode: String
            var minutes: Int
            var activities: Int
        }
        let totals = try await store.read { database in
            let ids = try await Self.restrict(
                database.select().column("id").from("activities").where("records_hours", .equal, 1)
                    .where("ends_at", .greaterThanOrEqual, from).where("ends_at", .lessThan, to), to: actor
            ).all().map { try $0.decode(column: "id", as: Int.self) }
            guard !ids.isEmpty else { return [Total]() }
            return try await database.select().column("openid").column(SQLRaw("MAX(unit_code)"), as: "unit_code")
                .column(SQLRaw("CAST(SUM(service_minutes) AS BIGINT)"), as: "minutes")
                .column(SQLRaw("COUNT(*)"), as: "activities").from("activity_signups")
                .where("activity_id", .in, ids).where(SQLColumn("service_minutes"), .isNot, SQLLiteral.null)
                .groupBy("openid").all(decoding: Total.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        return totals.map { ($0.openid, $0.unitCode, $0.minutes, $0.activities) }
            .sorted { ($0.minutes, $1.openid) > ($1.minutes, $0.openid) }
    }

    /// The service totals as CSV for Excel: each member with their unit, hours and activities.
    public static func serviceCSV(
        _ totals: [(openid: String, unitCode: String, minutes: Int, activities: Int)], names: [String: String],
        organisation: Organisation
    ) -> String {
        var rows = [["序号", "姓名", "单位", "服务时长（小时）", "服务分钟", "参加次数", "openid"]]
        for (index, total) in totals.enumerated() {
            rows.append([
                String(index + 1), names[total.openid] ?? "",
                organisation.units[total.unitCode]?.name ?? total.unitCode,
                String(format: "%.1f", Double(total.minutes) / 60), String(total.minutes), String(total.activities),
                total.openid,
            ])
        }
        return CSVExport.document(rows)
    }

    // MARK: Reading

    /// What a member reads of their sign-up.
    public static func describe(_ outcome: SignUpOutcome, _ activity: Activity, utcOffsetMinutes offset: Int) -> String
    {
        let when = Activities.when(activity, utcOffsetMinutes: offset)
        switch outcome {
        case .confirmed(let signUp):
            return "报名成功！「\(activity.title)」\(when)，地点：\(activity.place)。"
                + (signUp.people > 1 ? "共 \(signUp.people) 人。" : "")
                + "\n不能参加请回复「取消报名 \(activity.id)」，把名额让给其他会员。"
        case .waitlisted(_, let position):
            return "「\(activity.title)」名额已满，您已进入候补，排第 \(position) 位。有人取消时会按顺序自动补上并通知您。"
                + "\n回复「取消报名 \(activity.id)」可退出候补。"
        case .refused(let reason):
            return reason
        }
    }

    /// The places not yet held.
    public func placesLeft(_ id: Int) async throws -> Int {
        try await store.read { database in
            guard let activity = try await Self.activity(id, in: database) else { return 0 }
            return max(0, activity.capacity - (try await Self.load(id, in: database)).taken)
        }
    }

    /// 「12月1日」.
    public static func day(_ unixSeconds: Int64, utcOffsetMinutes offset: Int) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        return "\(time.month)月\(time.day)日"
    }

    /// Activity `id`.
    public func activity(_ id: Int) async throws -> Activity? {
        try await store.read { database in try await Self.activity(id, in: database) }
    }

    /// The activities a member of `unit` may sign up for now or soon (not begun, not cancelled;
    /// a club's only for its members), soonest first, with the places left in each (as read at
    /// most a second ago: ``ActivityBoard``).
    public func open(
        forMemberOf unit: String, openid: String, organisation: Organisation, at now: Int64, limit: Int = 20
    ) async throws -> [(Activity, left: Int)] {
        let all = try await store.activityBoard.current(store, at: now).filter { $0.0.startsAt > now }
        let clubs =
            all.contains { $0.0.clubId != nil }
            ? try await store.read { database in try await Clubs.clubIds(of: openid, in: database) } : []
        return Array(
            all.filter {
                $0.0.admits(unit: unit, in: organisation) && ($0.0.clubId.map { clubs.contains($0) } ?? true)
            }.prefix(limit))
    }

    /// The open activities not begun at `now`, soonest first (500 at most), with the places
    /// left in each: what ``ActivityBoard`` keeps.
    static func board(at now: Int64, in database: any SQLDatabase) async throws -> [(Activity, left: Int)] {
        let rows = try await database.select().columns("*").from("activities")
            .where("status", .equal, Activity.Status.open.rawValue).where("starts_at", .greaterThan, now)
            .orderBy("starts_at").limit(500)
            .all(decoding: Activities.Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        struct Taken: Decodable {
            var activityId: Int
            var taken: Int
        }
        let ids = rows.compactMap(\.id)
        var taken: [Int: Int] = [:]
        if !ids.isEmpty {
            let counted = try await database.select().column("activity_id")
                .column(SQLRaw("CAST(SUM(people) AS BIGINT)"), as: "taken").from("activity_signups")
                .where("activity_id", .in, ids)
                .where("status", .equal, ActivitySignUp.Status.confirmed.rawValue).groupBy("activity_id")
                .all(decoding: Taken.self, keyDecodingStrategy: .convertFromSnakeCase)
            for row in counted { taken[row.activityId] = row.taken }
        }
        return rows.map { row in
            let activity = row.activity
            return (activity, left: max(0, activity.capacity - (taken[activity.id] ?? 0)))
        }
    }

    /// ``open(forMemberOf:openid:organisation:at:limit:)`` without the store: nil when the list
    /// is not fresh in memory, or a club's activity would need the member's clubs.
    public func openFromMemory(forMemberOf unit: String, organisation: Organisation, at now: Int64, limit: Int = 20)
        -> [(Activity, left: Int)]?
    {
        guard let all = store.activityBoard.fromMemory(store, at: now) else { return nil }
        let admitted = all.filter { $0.0.startsAt > now && $0.0.admits(unit: unit, in: organisation) }
        guard !admitted.contains(where: { $0.0.clubId != nil }) else { return nil }
        return Array(admitted.prefix(limit))
    }

    /// A page of the activities of `actor`'s part of the tree, newest first, with the places
    /// held and the sign-ups waiting of each.
    public func page(for actor: Principal, request: PageRequest) async throws -> Page<
        (Activity, taken: Int, waiting: Int)
    > {
        try actor.require(.read)
        let page = try await store.page(
            from: "activities", request: request, filter: { Self.restrict($0, to: actor) }, decoding: Row.self)
        var items: [(Activity, taken: Int, waiting: Int)] = []
        for row in page.items {
            let activity = row.activity
            let (taken, waiting) = try await store.read { database in try await Self.load(activity.id, in: database) }
            items.append((activity, taken, waiting))
        }
        return Page(items: items, total: page.total, request: page.request)
    }

    /// `YYYY-MM-DDTHH:MM` (an HTML `datetime-local` value, the union's local time) as Unix seconds.
    public static func time(_ text: String, utcOffsetMinutes offset: Int) -> Int64? {
        let parts = text.split(separator: "T")
        guard parts.count == 2, let day = LocalTime.unixSeconds(ofDate: String(parts[0]), utcOffsetMinutes: offset)
        else { return nil }
        let clock = parts[1].split(separator: ":").compactMap { Int($0) }
        guard clock.count >= 2, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]) else { return nil }
        return day + Int64(clock[0] * 3600 + clock[1] * 60)
    }

    /// Unix seconds as a `datetime-local` value in the union's local time.
    public static func localInput(_ unixSeconds: Int64, utcOffsetMinutes offset: Int) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        return String(format: "%@T%02d:%02d", time.isoDate, time.hour, time.minute)
    }

    /// The names of those who signed up (their join applications'), by openid.
    public func names(of signUps: [ActivitySignUp]) async throws -> [String: String] {
        try await MembershipRegistry(store: store).names(of: signUps.map(\.openid))
    }

    /// The attendance list as CSV for Excel: each sign-up with its member, unit and status.
    public static func csv(
        _ activity: Activity, _ signUps: [ActivitySignUp], names: [String: String], organisation: Organisation,
        utcOffsetMinutes offset: Int
    ) -> String {
        let questions = ActivityQuestions.of(activity)
        var header: [String] = ["序号", "姓名", "单位", "人数", "状态", "报名时间", "候补转正时间", "取消时间", "签到时间", "服务分钟"]
        header += questions.map(\.label)
        header.append("openid")
        var rows: [[String]] = [header]
        for (index, signUp) in signUps.enumerated() {
            func time(_ value: Int64?) -> String { value.map { CSVExport.local($0, offset) } ?? "" }
            let unit = organisation.units[signUp.unitCode]?.name ?? signUp.unitCode
            var row: [String] = [String(index + 1), names[signUp.openid] ?? "", unit, String(signUp.people)]
            row += [signUp.status.chinese, time(signUp.createdAt), time(signUp.promotedAt), time(signUp.cancelledAt)]
            row += [time(signUp.checkedInAt), signUp.serviceMinutes.map(String.init) ?? ""]
            row += questions.map { signUp.answers[$0.key] ?? "" }
            rows.append(row + [signUp.openid])
        }
        return CSVExport.document(rows)
    }

    /// The sign-ups of activity `id` in the order made, for staff of its unit (404 outside it).
    public func attendance(_ id: Int, for actor: Principal) async throws -> (Activity, [ActivitySignUp]) {
        try actor.require(.read)
        let found = try await store.read { database -> (Activity, [ActivitySignUp])? in
            guard let activity = try await Self.activity(id, in: database), Self.sees(actor, activity)
            else { return nil }
            let rows = try await Self.signUps(of: id, in: database).orderBy("id")
                .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return (activity, rows.map(\.signUp))
        }
        guard let found else { throw AdminActionError(.notFound, "no activity \(id)") }
        return found
    }

    /// The member's current sign-ups with their activities and waitlist positions, soonest first.
    public func mine(_ openid: String) async throws -> [(Activity, SignUpOutcome)] {
        try await store.read { database in
            let rows = try await database.select().columns("*").from("activity_signups")
                .where("openid", .equal, openid).where(SQLColumn("active_key"), .isNot, SQLLiteral.null)
                .orderBy("id", .descending).limit(50)
                .all(decoding: SignUpRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            var result: [(Activity, SignUpOutcome)] = []
            for row in rows {
                guard let activity = try await Self.activity(row.activityId, in: database) else { continue }
                result.append((activity, try await Self.outcome(row.signUp, in: database)))
            }
            return result.sorted { $0.0.startsAt < $1.0.startsAt }
        }
    }
}
