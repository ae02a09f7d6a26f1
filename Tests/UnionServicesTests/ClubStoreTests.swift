import Foundation
import ReplyRules
import SQLKit
import Testing

@testable import UnionServices

@Suite("Clubs: joining, club activities, leaders, volunteer hours")
struct ClubStoreTests {
    static let now = ActivityStoreTests.now

    struct NoticeRow: Decodable {
        var openid: String
        var bodies: String
    }

    /// A member asks once (a retry, a second message), the leader or staff decide (a refusal
    /// needs its reason and is told; a decided request cannot be decided again); only members of
    /// the club's subtree and of the union may ask; a refused member may ask again; a club's
    /// activity takes its members only and is listed to them only; leaving ends that.
    @Test(arguments: StoreKind.allCases)
    func membersAskOnceAndTheClubsActivitiesAreTheirs(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let clubs = Clubs(store: store)
        let activities = Activities(store: store)
        let east = staff("城东", .approver, at: "chengdong")
        let west = staff("城西", .approver, at: "chengxi")
        let viewer = staff("城东只读", .viewer, at: "chengdong")
        for name in ["a", "b", "c"] {
            try await apply(store, "o\(name)", name: name, phone: "13812345678", unit: "chengdong-huanwei")
        }
        try await apply(store, "owest", name: "西", phone: "13812345679", unit: "chengxi-huanwei")
        let club = try await clubs.create(
            Clubs.Draft(name: "城东摄影俱乐部", unitCode: "chengdong", leader: "张老师"), by: east, organisation: county,
            at: Self.now)
        await #expect(throws: AdminActionError.self, "a viewer declares nothing") {
            try await clubs.create(
                Clubs.Draft(name: "读书会", unitCode: "chengdong"), by: viewer, organisation: county, at: Self.now)
        }
        await #expect(throws: AdminActionError.self, "another town's staff cannot change it") {
            try await clubs.update(
                club.id, Clubs.Draft(name: "改名", unitCode: "chengxi"), by: west, organisation: county, at: Self.now)
        }

        func ask(_ openid: String, key: String? = nil, member: Bool = true) async throws -> String {
            let (_, outcome) = try #require(
                try await clubs.ask(
                    club.id, openid: openid, key: key ?? "k-\(openid)", isMember: member, organisation: county,
                    at: Self.now))
            switch outcome {
            case .standing(let membership): return membership.status.rawValue
            case .refused: return "refused"
            }
        }
        #expect(try await ask("oa") == "pending")
        #expect(try await ask("oa") == "pending", "a retry")
        #expect(try await ask("oa", key: "again") == "pending", "a second message")
        #expect(try await ask("ob") == "pending")
        #expect(try await ask("owest") == "refused", "another town's member")
        #expect(try await ask("oc", member: false) == "refused", "not a member of the union")
        let (_, waiting) = try await clubs.members(club.id, for: east, organisation: county)
        #expect(waiting.map(\.openid) == ["oa", "ob"])

        _ = try await clubs.decide(
            club.id, openid: "oa", approve: true, reason: nil, by: east, organisation: county, at: Self.now + 60)
        await #expect(throws: AdminActionError.self, "a refusal needs its reason") {
            try await clubs.decide(
                club.id, openid: "ob", approve: false, reason: " ", by: east, organisation: county, at: Self.now)
        }
        await #expect(throws: AdminActionError.self, "another town's staff do not see the club") {
            try await clubs.decide(
                club.id, openid: "ob", approve: true, reason: nil, by: west, organisation: county, at: Self.now)
        }
        _ = try await clubs.decide(
            club.id, openid: "ob", approve: false, reason: "本期名额已满", by: east, organisation: county,
            at: Self.now + 60)
        await #expect(throws: AdminActionError.self, "decided once") {
            try await clubs.decide(
                club.id, openid: "oa", approve: false, reason: "x", by: east, organisation: county, at: Self.now)
        }
        #expect(try await ask("oa", key: "third") == "approved")
        #expect(try await ask("ob", key: "b again") == "pending", "a refused member may ask again")
        let notices = try await store.read { database in
            try await database.select().columns("openid", "bodies").from("outbox")
                .where("notice_kind", .equal, "club").orderBy("id").all(decoding: NoticeRow.self)
        }
        #expect(notices.map(\.openid) == ["oa", "ob"])
        #expect(notices.last?.bodies.contains("本期名额已满") == true)

        // The club's activity: its members only, listed to them only.
        var draft = ActivityStoreTests.draft(capacity: 10)
        draft.clubId = club.id
        draft.unitCode = "county"  // the club's unit wins
        let outing = try await activities.create(draft, by: east, organisation: county, at: Self.now)
        #expect(outing.clubId == club.id && outing.unitCode == "chengdong")
        let other = try await activities.create(
            ActivityStoreTests.draft(capacity: 10), by: east, organisation: county, at: Self.now)
        func signUp(_ openid: String, _ id: Int) async throws -> String {
            ActivityStoreTests.word(
                try await activities.signUp(
                    id, openid: openid, key: "s-\(openid)-\(id)", isMember: true, organisation: county, at: Self.now))
        }
        #expect(try await signUp("oa", outing.id) == "confirmed")
        #expect(try await signUp("oc", outing.id) == "refused", "not in the club")
        #expect(
            try await activities.open(
                forMemberOf: "chengdong-huanwei", openid: "oa", organisation: county, at: Self.now
            )
            .map(\.0.id).sorted() == [outing.id, other.id].sorted())
        #expect(
            try await activities.open(
                forMemberOf: "chengdong-huanwei", openid: "oc", organisation: county, at: Self.now
            )
            .map(\.0.id) == [other.id])

        // The leader's account sees the club and its activities, nothing else.
        let leader = Principal(name: "摄影队长", role: .approver, unit: "chengdong", scope: .units([]), club: club.id)
        #expect(try await clubs.list(for: leader, organisation: county).map(\.0.id) == [club.id])
        _ = try await clubs.decide(
            club.id, openid: "ob", approve: true, reason: nil, by: leader, organisation: county, at: Self.now + 120)
        let seen = try await activities.page(for: leader, request: try PageRequest(page: 1, perPage: 20))
        #expect(seen.items.map(\.0.id) == [outing.id])
        await #expect(throws: AdminActionError.self, "another activity is not the leader's") {
            try await activities.attendance(other.id, for: leader)
        }
        await #expect(throws: AdminActionError.self, "a leader organises their own club's activities only") {
            try await activities.create(
                ActivityStoreTests.draft(capacity: 5), by: leader, organisation: county, at: Self.now)
        }
        _ = try await activities.create(draft, by: leader, organisation: county, at: Self.now)
        await #expect(throws: AdminActionError.self, "nor do they declare clubs") {
            try await clubs.create(
                Clubs.Draft(name: "新俱乐部", unitCode: "chengdong"), by: leader, organisation: county, at: Self.now)
        }

        // Leaving: the club's next activity is closed to them; asking again starts over.
        #expect(try await clubs.leave(club.id, openid: "oa", organisation: county, at: Self.now + 180))
        #expect(try await clubs.leave(club.id, openid: "oa", organisation: county, at: Self.now + 181) == false)
        let next = try await activities.create(draft, by: east, organisation: county, at: Self.now)
        #expect(try await signUp("oa", next.id) == "refused")
        #expect(try await ask("oa", key: "back") == "pending")
        let audit = try await store.read { database in
            try await database.select().column("action").from("audit_log").where("action", .like, "club.%")
                .all(decodingColumn: "action", as: String.self)
        }
        #expect(audit.sorted() == ["club.approve", "club.approve", "club.create", "club.refuse"])
        await store.close()
    }

    /// A volunteer activity: checked in early, out after the end, the service is the activity's
    /// time between (the same scan answered the same); no check-out without a check-in, none long
    /// after the end; the totals per member for staff who see it, and the CSV.
    @Test(arguments: StoreKind.allCases)
    func volunteerHoursAreCountedBetweenCheckInAndCheckOut(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let activities = Activities(store: store)
        let east = staff("城东", .approver, at: "chengdong")
        let west = staff("城西", .approver, at: "chengxi")
        for name in ["a", "b", "c"] {
            try await apply(store, "o\(name)", name: "志愿者\(name)", phone: "13812345678", unit: "chengdong-huanwei")
        }
        var draft = ActivityStoreTests.draft(capacity: 10)
        draft.recordsHours = true
        let service = try await activities.create(draft, by: east, organisation: county, at: Self.now)
        let plain = try await activities.create(
            ActivityStoreTests.draft(capacity: 10), by: east, organisation: county, at: Self.now)
        for openid in ["oa", "ob", "oc"] {
            _ = try await activities.signUp(
                service.id, openid: openid, key: "s-\(openid)", isMember: true, organisation: county, at: Self.now)
        }
        let start = draft.startsAt
        for openid in ["oa", "ob"] {
            _ = try await activities.checkIn(service.id, openid: openid, key: "in-\(openid)", at: start - 1800)
        }
        func out(_ openid: String, key: String, at: Int64, _ id: Int? = nil) async throws -> String {
            switch try await activities.checkOut(id ?? service.id, openid: openid, key: key, at: at) {
            case .checkedOut(_, let minutes): "\(minutes)"
            default: "refused"
            }
        }
        #expect(try await out("oa", key: "out-a", at: start + 2 * 3600) == "120", "from the start, not the arrival")
        #expect(try await out("oa", key: "out-a", at: start + 2 * 3600 + 5) == "120", "a retry")
        #expect(try await out("oa", key: "later", at: start + 3 * 3600) == "120", "checked out once")
        #expect(try await out("ob", key: "out-b", at: start + 4 * 3600) == "180", "no more than the activity's time")
        #expect(try await out("oc", key: "out-c", at: start + 3600) == "refused", "never checked in")
        #expect(try await out("oa", key: "plain", at: start + 3600, plain.id) == "refused", "no hours there")
        _ = try await activities.checkIn(service.id, openid: "oc", key: "in-c", at: start + 3600)
        #expect(
            try await out("oc", key: "too late", at: start + 3 * 3600 + Activity.checkOutLate + 60) == "refused",
            "long after the end")

        let totals = try await activities.serviceTotals(for: east, from: Self.now, to: start + 86_400)
        #expect(totals.map(\.openid) == ["ob", "oa"])
        #expect(totals.map(\.minutes) == [180, 120])
        #expect(try await activities.serviceTotals(for: west, from: Self.now, to: start + 86_400).isEmpty)
        #expect(try await activities.serviceTotals(for: east, from: start + 86_400, to: start + 2 * 86_400).isEmpty)
        #expect(try await activities.service(of: "oa").map(\.minutes) == [120])
        let names = try await MembershipRegistry(store: store).names(of: totals.map(\.openid))
        let csv = Activities.serviceCSV(totals, names: names, organisation: county)
        #expect(csv.contains("志愿者b") && csv.contains("3.0") && csv.contains("2.0"))
        #expect(Activities.hours(200) == "3 小时 20 分钟")
        await store.close()
    }
}

@Suite("Activities: questions at sign-up")
struct ActivityQuestionsTests {
    /// Staff's lines become typed questions; mistakes are refused with their line.
    @Test func linesBecomeQuestionsAndMistakesNameTheirLine() throws {
        let fields = try ActivityQuestions.fields(
            "衣服尺码：选择 S、M、L、XL\n\n紧急联系人电话：手机\n出生日期: 日期\n饮食禁忌，可不填\n报销金额：金额（可不填）")
        #expect(fields.map(\.label) == ["衣服尺码", "紧急联系人电话", "出生日期", "饮食禁忌", "报销金额"])
        #expect(fields[0].kind == .choice(["S", "M", "L", "XL"]))
        #expect(fields[1].kind == .phone && fields[2].kind == .date)
        #expect(fields[3].optional && fields[4].optional && !fields[0].optional)
        #expect(try ActivityQuestions.fields("").isEmpty)
        func problem(_ text: String) -> String {
            do {
                _ = try ActivityQuestions.fields(text)
                return "accepted"
            } catch let error as AdminActionError {
                return error.message
            } catch { return "\(error)" }
        }
        #expect(problem("尺码：选择 S") == "报名填写项第 1 行：「选择」后面写 2–20 个不重复的选项，用顿号分隔，如「选择 S、M、L」")
        #expect(problem("a\n\n身高：厘米").hasPrefix("报名填写项第 3 行：不认识的类型「厘米」"))
        #expect(problem("电话\n电话：手机") == "报名填写项第 2 行：「电话」重复了")
        #expect(problem("people") == "报名填写项第 1 行：名称「people」不能用")
        #expect(problem((1...11).map { "问题\($0)" }.joined(separator: "\n")) == "报名填写项第 11 行：最多 10 项")
    }

    /// A sign-up without the answers is refused (the chat is sent to the page), a wrong answer
    /// is refused with its reason, good answers are kept in their stored form; a bad line stops
    /// the activity being saved.
    @Test(arguments: StoreKind.allCases)
    func answersAreCheckedAndKept(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let activities = Activities(store: store)
        let organiser = staff("城东", .approver, at: "chengdong")
        try await apply(store, "oa", name: "a", phone: "13812345678", unit: "chengdong-huanwei")
        var draft = ActivityStoreTests.draft(capacity: 5)
        draft.questions = "身高：数字 厘米"
        await #expect(throws: AdminActionError.self) {
            try await activities.create(draft, by: organiser, organisation: county, at: ClubStoreTests.now)
        }
        draft.questions = "衣服尺码：选择 S、M、L\n紧急联系人电话：手机\n饮食禁忌：文本，可不填"
        let activity = try await activities.create(draft, by: organiser, organisation: county, at: ClubStoreTests.now)
        func signUp(_ answers: [String: String], key: String) async throws -> SignUpOutcome {
            try await activities.signUp(
                activity.id, openid: "oa", answers: answers, key: key, isMember: true, organisation: county,
                at: ClubStoreTests.now)
        }
        #expect(try await signUp([:], key: "chat") == .refused("报名「会员日登山」需要填写报名信息，请在活动页面报名。"))
        guard case .refused(let reason) = try await signUp(["衣服尺码": "L", "紧急联系人电话": "123"], key: "bad") else {
            Issue.record("a wrong phone number was accepted")
            return
        }
        #expect(reason.contains("手机"))
        guard case .confirmed(let signUp) = try await signUp(["衣服尺码": "3", "紧急联系人电话": "138 1234 5678"], key: "ok")
        else {
            Issue.record("good answers were refused")
            return
        }
        #expect(signUp.answers == ["衣服尺码": "L", "紧急联系人电话": "13812345678"])
        let (_, list) = try await activities.attendance(activity.id, for: organiser)
        #expect(list.first?.answers == ["衣服尺码": "L", "紧急联系人电话": "13812345678"])
        let csv = Activities.csv(activity, list, names: [:], organisation: county, utcOffsetMinutes: 480)
        #expect(csv.contains("衣服尺码") && csv.contains("紧急联系人电话") && csv.contains("13812345678"))
        await store.close()
    }
}
