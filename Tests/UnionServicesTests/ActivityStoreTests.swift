import Foundation
import ReplyRules
import SQLKit
import Testing

@testable import UnionServices

@Suite("Activities: places, the waitlist, promotion")
struct ActivityStoreTests {
    static let now: Int64 = 1_795_363_200

    static func draft(
        capacity: Int, waitlist: Bool = true, unit: String = "chengdong", sharing: Activity.Sharing = .own,
        membersOnly: Bool = true
    ) -> Activities.Draft {
        Activities.Draft(
            title: "会员日登山", place: "城东公园", unitCode: unit, sharing: sharing, membersOnly: membersOnly,
            startsAt: now + 10 * 86_400, endsAt: now + 10 * 86_400 + 3 * 3600, opensAt: now - 3600,
            closesAt: now + 9 * 86_400, capacity: capacity, waitlist: waitlist, maxPeople: 3)
    }

    /// An outcome in a word: `confirmed`, `waitlisted N`, or `refused`.
    static func word(_ outcome: SignUpOutcome) -> String {
        switch outcome {
        case .confirmed: "confirmed"
        case .waitlisted(_, let position): "waitlisted \(position)"
        case .refused: "refused"
        }
    }

    /// Places go in order and nobody jumps the waitlist; a retry or a second sign-up holds one
    /// place; a cancellation, a staff removal and more places each promote the next (told by a
    /// notice); closing sign-up ends promotion; who may come is kept.
    @Test(arguments: StoreKind.allCases)
    func placesAndTheWaitlistMoveInOrder(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let activities = Activities(store: store)
        let organiser = staff("城东", .approver, at: "chengdong")
        let activity = try await activities.create(
            Self.draft(capacity: 3), by: organiser, organisation: county, at: Self.now)
        for name in ["a", "b", "c", "d", "e", "f"] {
            try await apply(store, "o\(name)", name: name, phone: "13812345678", unit: "chengdong-huanwei")
        }
        try await apply(store, "owest", name: "西", phone: "13812345679", unit: "chengxi-huanwei")
        func signUp(
            _ openid: String, people: Int = 1, key: String? = nil, member: Bool = true,
            at: Int64 = ActivityStoreTests.now
        )
            async throws -> String
        {
            Self.word(
                try await activities.signUp(
                    activity.id, openid: openid, people: people, key: key ?? "k-\(openid)", isMember: member,
                    organisation: county, at: at))
        }
        func statuses() async throws -> [String: ActivitySignUp.Status] {
            let (_, list) = try await activities.attendance(activity.id, for: organiser)
            return Dictionary(list.filter { $0.status != .cancelled }.map { ($0.openid, $0.status) }) { $1 }
        }
        #expect(try await signUp("oa", people: 2) == "confirmed")
        #expect(try await signUp("oa") == "confirmed", "a retry")
        #expect(try await signUp("oa", key: "another message") == "confirmed", "a second sign-up")
        #expect(try await signUp("ob", people: 2) == "waitlisted 1")
        #expect(try await signUp("oc") == "waitlisted 2", "one place is left, but b waits first")
        #expect(try await signUp("od") == "waitlisted 3")
        #expect(try await signUp("owest") == "refused", "another town's member")
        #expect(try await signUp("of", member: false) == "refused", "members only")
        #expect(try await signUp("of", people: 4) == "refused", "more people than a sign-up brings")
        #expect(try await signUp("of", at: Self.now - 7200) == "refused", "before sign-up opens")

        // b leaves the head of the waitlist: c now fits in the one place left.
        let (gone, promoted) = try await activities.cancel(activity.id, openid: "ob", at: Self.now + 60)
        #expect(gone?.status == .cancelled)
        #expect(promoted.map(\.openid) == ["oc"])
        // a gives up two places: d comes in; then e finds a place free.
        #expect(
            try await activities.cancel(activity.id, openid: "oa", at: Self.now + 120).promoted.map(\.openid) == ["od"])
        #expect(try await signUp("oe") == "confirmed")
        #expect(try await statuses() == ["oc": .confirmed, "od": .confirmed, "oe": .confirmed])
        // Staff remove e (audited, told); f, waiting, comes in.
        #expect(try await signUp("of") == "waitlisted 1")
        let west = staff("城西", .approver, at: "chengxi")
        await #expect(throws: AdminActionError.self) {
            try await activities.cancel(activity.id, openid: "oe", by: west, at: Self.now + 150)
        }
        #expect(
            try await activities.cancel(activity.id, openid: "oe", by: organiser, at: Self.now + 180).promoted.map(
                \.openid) == ["of"])
        // More places promote at once.
        #expect(try await signUp("ob", people: 2, key: "b again") == "waitlisted 1")
        var bigger = Self.draft(capacity: 5)
        bigger.place = "城东公园北门"
        let (_, raised) = try await activities.update(
            activity.id, bigger, by: organiser, organisation: county, at: Self.now + 240)
        #expect(raised.map(\.openid) == ["ob"])
        // After sign-up closes, a cancellation promotes nobody.
        #expect(try await signUp("oa", people: 3, key: "a late", at: Self.now + 300) == "waitlisted 1")
        let late = try await activities.cancel(activity.id, openid: "ob", at: Self.now + 9 * 86_400 + 60)
        #expect(late.cancelled != nil && late.promoted.isEmpty)
        #expect(try await signUp("oa", key: "too late", at: Self.now + 9 * 86_400 + 60) == "waitlisted 1")

        let notices = try await store.read { database in
            try await database.select().columns("openid", "bodies").from("outbox")
                .where("notice_kind", .equal, "activity").all(decoding: NoticeRow.self)
        }
        #expect(notices.filter { $0.bodies.contains("候补") }.map(\.openid).sorted() == ["ob", "oc", "od", "of"])
        #expect(notices.contains { $0.openid == "oe" && $0.bodies.contains("被工作人员取消") })
        #expect(
            notices.filter { $0.bodies.contains("有变动") }.map(\.openid).sorted() == ["ob", "oc", "od", "of"],
            "the new place is told to everyone signed up or waiting")
        let audit = try await store.read { database in
            try await database.select().column("action").from("audit_log").where("action", .like, "activity.%")
                .all(decodingColumn: "action", as: String.self)
        }
        #expect(audit.sorted() == ["activity.create", "activity.remove", "activity.update"])
        await store.close()
    }

    struct NoticeRow: Decodable {
        var openid: String
        var bodies: String
    }

    /// 1,000 members at once for 100 places: exactly 100 hold places, the rest wait in the order
    /// they were stored; one cancellation promotes exactly one. With three stores on one
    /// PostgreSQL database (three instances) on PostgreSQL.
    @Test(arguments: StoreKind.allCases)
    func aRushNeverOversells(_ kind: StoreKind) async throws {
        let location = try kind.freshLocation()
        let first = try await kind.open(location)
        let stores =
            kind == .postgres ? [first, try await kind.open(location), try await kind.open(location)] : [first]
        let organiser = staff("县总", .admin, at: "county")
        var open = Self.draft(capacity: 100, unit: "county", sharing: .everyone, membersOnly: false)
        open.maxPeople = 1
        let activity = try await Activities(store: first).create(
            open, by: organiser, organisation: county, at: Self.now)
        let answered = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for index in 0..<1000 {
                let store = stores[index % stores.count]
                group.addTask {
                    (
                        index,
                        Self.word(
                            try await Activities(store: store).signUp(
                                activity.id, openid: "o\(index)", key: "rush-\(index)", isMember: false,
                                organisation: county, at: Self.now))
                    )
                }
            }
            var all: [Int: String] = [:]
            for try await (index, outcome) in group { all[index] = outcome }
            return all
        }
        let outcomes = Array(answered.values)
        // WeChat's retry reaching another instance gets the same answer and holds no second place.
        for index in [0, 1, 500, 999] {
            let again = Self.word(
                try await Activities(store: stores[(index + 1) % stores.count]).signUp(
                    activity.id, openid: "o\(index)", key: "rush-\(index)", isMember: false, organisation: county,
                    at: Self.now + 1))
            #expect(again == answered[index], "the retry of sign-up \(index)")
        }
        #expect(outcomes.filter { $0 == "confirmed" }.count == 100)
        let positions = outcomes.compactMap { $0.hasPrefix("waitlisted ") ? Int($0.dropFirst(11)) : nil }
        #expect(positions.sorted() == Array(1...900), "each waiting sign-up has its own place in the line")
        let (_, list) = try await Activities(store: first).attendance(activity.id, for: organiser)
        #expect(list.filter { $0.status == .confirmed }.map(\.people).reduce(0, +) == 100)
        let byOrder = list.sorted { $0.id < $1.id }
        #expect(
            byOrder.prefix(100).allSatisfy { $0.status == .confirmed }
                && byOrder.dropFirst(100).allSatisfy { $0.status == .waitlisted },
            "the first 100 stored hold the places")
        let firstWaiting = try #require(byOrder.first { $0.status == .waitlisted })
        let (_, promoted) = try await Activities(store: stores.last!).cancel(
            activity.id, openid: byOrder[0].openid, at: Self.now + 1)
        #expect(promoted.map(\.openid) == [firstWaiting.openid])
        for store in stores { await store.close() }
    }

    /// 「活动」's list comes from memory once read, with the places left; this instance's sign-up
    /// or cancellation is seen at once (the list is read again).
    @Test func theListIsKeptInMemoryAndReadAgainAfterAChange() async throws {
        let store = try await memoryStore(.sqlite)
        let activities = Activities(store: store)
        let organiser = staff("城东", .approver, at: "chengdong")
        let activity = try await activities.create(
            Self.draft(capacity: 3, membersOnly: false), by: organiser, organisation: county, at: Self.now)
        try await apply(store, "oa", name: "a", phone: "13812345678", unit: "chengdong-huanwei")
        #expect(activities.openFromMemory(forMemberOf: "chengdong-huanwei", organisation: county, at: Self.now) == nil)
        func left() async throws -> [Int] {
            try await activities.open(
                forMemberOf: "chengdong-huanwei", openid: "ox", organisation: county, at: Self.now
            )
            .map(\.left)
        }
        #expect(try await left() == [3])
        #expect(
            activities.openFromMemory(forMemberOf: "chengdong-huanwei", organisation: county, at: Self.now)?.map(\.left)
                == [3])
        #expect(
            activities.openFromMemory(forMemberOf: "chengxi-huanwei", organisation: county, at: Self.now)?.isEmpty
                == true, "another town's member sees none of it")
        _ = try await activities.signUp(
            activity.id, openid: "oa", people: 2, key: "a", isMember: false, organisation: county, at: Self.now)
        #expect(activities.openFromMemory(forMemberOf: "chengdong-huanwei", organisation: county, at: Self.now) == nil)
        #expect(try await left() == [1])
        _ = try await activities.cancel(activity.id, openid: "oa", at: Self.now + 1)
        #expect(try await left() == [3])
        await store.close()
    }

    /// The overview's participation: this year's sign-ups kept (people counted) by the month
    /// they were made, check-ins by the month they happened, and both by the members' units; a
    /// cancelled sign-up does not count; another town's staff see none of it.
    @Test(arguments: StoreKind.allCases)
    func participationIsCountedByMonthAndUnit(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let activities = Activities(store: store)
        let organiser = staff("城东", .approver, at: "chengdong")
        for name in ["a", "b", "c"] {
            try await apply(store, "o\(name)", name: name, phone: "13812345678", unit: "chengdong-huanwei")
        }
        let activity = try await activities.create(
            Self.draft(capacity: 10), by: organiser, organisation: county, at: Self.now)
        _ = try await activities.signUp(
            activity.id, openid: "oa", people: 2, key: "a", isMember: true, organisation: county, at: Self.now)
        _ = try await activities.signUp(
            activity.id, openid: "ob", key: "b", isMember: true, organisation: county, at: Self.now)
        _ = try await activities.signUp(
            activity.id, openid: "oc", key: "c", isMember: true, organisation: county, at: Self.now)
        _ = try await activities.cancel(activity.id, openid: "oc", at: Self.now + 60)
        let start = Self.draft(capacity: 10).startsAt
        _ = try await activities.checkIn(activity.id, openid: "oa", key: "in-a", at: start)
        let overview = try await ConsoleOverview.of(
            for: organiser, at: start + 3600, utcOffsetMinutes: 480, in: store)
        // Sign-ups in November 2026 (now), the check-in in December (ten days on).
        #expect(overview.participationByMonth.count == 12)
        #expect(overview.participationByMonth[10] == .init(label: "11月", signUps: 3, checkedIn: 0))
        #expect(overview.participationByMonth[11] == .init(label: "12月", signUps: 0, checkedIn: 2))
        #expect(overview.participationByUnit == [.init(label: "chengdong-huanwei", signUps: 3, checkedIn: 2)])
        let west = try await ConsoleOverview.of(
            for: staff("城西", .viewer, at: "chengxi"), at: start + 3600, utcOffsetMinutes: 480, in: store)
        #expect(west.participationByUnit.isEmpty && west.participationByMonth.allSatisfy { $0.signUps == 0 })
        await store.close()
    }

    /// The day before: those with places are reminded once (kind `activity_reminder`), not
    /// those waiting or gone; an activity further off is not yet.
    @Test(arguments: StoreKind.allCases)
    func theDayBeforeThoseWithPlacesAreRemindedOnce(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let activities = Activities(store: store)
        let organiser = staff("县总", .admin, at: "county")
        var draft = Self.draft(capacity: 1, unit: "county", sharing: .everyone, membersOnly: false)
        draft.opensAt = Self.now - 60
        let activity = try await activities.create(draft, by: organiser, organisation: county, at: Self.now)
        for openid in ["oheld", "owaiting", "ogone"] {
            _ = try await activities.signUp(
                activity.id, openid: openid, key: "k-\(openid)", isMember: false, organisation: county, at: Self.now)
        }
        _ = try await activities.cancel(activity.id, openid: "owaiting", at: Self.now + 1)
        #expect(try await activities.remind(at: Self.now + 2) == 0, "ten days before: not yet")
        let dayBefore = draft.startsAt - 20 * 3600
        #expect(try await activities.remind(at: dayBefore) == 1)
        #expect(try await activities.remind(at: dayBefore + 60) == 0, "once")
        let rows = try await store.read { database in
            try await database.select().columns("openid", "bodies").from("outbox")
                .where("notice_kind", .equal, "activity_reminder").all(decoding: NoticeRow.self)
        }
        #expect(rows.map(\.openid) == ["oheld"])
        #expect(rows.first?.bodies.contains("活动提醒") == true)
        await store.close()
    }
}
