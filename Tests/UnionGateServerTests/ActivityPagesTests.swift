import Foundation
import ReplyRules
import SQLKit
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

@Suite("Activities in the console, the chat and the member pages")
struct ActivityPagesTests {
    /// Staff publish an activity with one place in the console; a member signs up in the chat
    /// (a retry answers the same), another on the member pages and waits first in line; the
    /// first cancels and the second comes in, told by a notice; the attendance list and its CSV
    /// show both; the old 活动报名 form is gone.
    @Test func publishSignUpWaitAndMoveUp() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, fake, _ in
            #expect(gateway.rules.engine.book.forms["活动报名"] == nil)
            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let form = try await staff.get("/admin/activities/new")
            #expect(form.status == 200)
            let csrf = try #require(ConsoleVisitor.token(in: form))
            let start = clock.read() + 7 * 86_400
            func local(_ time: Int64) -> String { Activities.localInput(time, utcOffsetMinutes: 480) }
            var fields = [
                ("_csrf", csrf), ("title", "会员日登山"), ("place", "城东公园"), ("description", "带好水和干粮"),
                ("unit", "chengdong"), ("sharing", "own"), ("members_only", "1"), ("starts_at", local(start)),
                ("ends_at", local(start + 3 * 3600)), ("opens_at", local(clock.read() - 3600)),
                ("closes_at", local(start - 86_400)), ("capacity", "1"), ("max_people", "2"), ("waitlist", "1"),
            ]
            fields[8] = ("ends_at", local(start - 3600))
            let bad = try await staff.post("/admin/activities", fields)
            #expect(bad.status == 400 && bad.body.contains("报名开始 &lt; 报名截止"), "\(bad.status)")
            fields[8] = ("ends_at", local(start + 3 * 3600))
            let created = try await staff.post("/admin/activities", fields)
            #expect(created.status == 303, "\(created.body)")
            let id = try #require(created.location.flatMap { Int($0.split(separator: "/").last ?? "") })
            #expect(try await staff.get("/admin/activities").body.contains("会员日登山"))

            let first = Member()
            let second = Member()
            for (member, name) in [(first, "赵一"), (second, "钱二")] {
                let application = try await gateway.store.transaction { database in
                    try await MembershipRegistry.submit(
                        openid: member.openid,
                        answers: [
                            "name": name, "phone": "13812345678", "unit": "城东环卫所工会", "unit_code": "chengdong-huanwei",
                        ],
                        messageKey: "join-\(name)", at: clock.read(), year: 2026, in: database)
                }
                _ = try await MembershipRegistry(store: gateway.store).approve(application.id, at: clock.read())
                gateway.store.facts.forgetApplication(of: member.openid)
            }
            // The chat: the list as cards, a sign-up by number, its retry, 我的活动.
            let listed = try await chat.post(first.text("活动"), mode: .plain)
            #expect(listed.body.contains("会员日登山") && listed.body.contains("报名 \(id)"), "\(listed.body)")
            let message = first.text("报名 \(id)")
            let signed = try #require(try await chat.replyText(message))
            #expect(signed.contains("报名成功") && signed.contains("城东公园"))
            #expect(try await chat.replyText(message) == signed, "WeChat's retry gets the same answer")
            #expect(try #require(try await chat.replyText(first.text("我的活动"))).contains("【已报名】\(id). 会员日登山"))

            // The member pages: the second member waits first in line.
            try await browser.enterMemberPages(as: second, chat: chat)
            let list = try await browser.get("/m/activities")
            #expect(list.body.contains("会员日登山") && list.body.contains("可候补"))
            let page = try await browser.get("/m/activities/\(id)")
            #expect(page.body.contains("候补报名"))
            let token = try #require(ConsoleVisitor.token(in: page))
            let submission = String(
                try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
            let waited = try await browser.post(
                "/m/activities/\(id)/signup", [("_csrf", token), ("_submission", submission), ("people", "1")])
            #expect(waited.status == 200 && waited.body.contains("排第 1 位"))
            let tapAgain = try await browser.post(
                "/m/activities/\(id)/signup", [("_csrf", token), ("_submission", submission), ("people", "1")])
            #expect(tapAgain.body.contains("候补第 1 位"))

            // The first cancels in the chat; the second comes in and is told.
            #expect(try #require(try await chat.replyText(first.text("取消报名 \(id)"))).contains("已取消"))
            #expect(try await browser.get("/m/activities/\(id)").body.contains("id=\"my-state\">已报名"))
            try await waitUntil(timeout: .seconds(30)) {
                fake.calls(to: "/cgi-bin/message/custom/send").contains {
                    $0.body.contains(second.openid) && $0.body.contains("有名额了")
                }
            }

            // Staff: the attendance list and its CSV.
            let attendance = try await staff.get("/admin/activities/\(id)")
            #expect(attendance.body.contains("赵一") && attendance.body.contains("钱二"))
            #expect(attendance.body.contains("已取消") && attendance.body.contains("已报名"))
            let csv = try await staff.get("/admin/activities/\(id)?format=csv")
            #expect(csv.status == 200 && csv.body.contains("钱二") && csv.body.contains("城东环卫所工会"))
        }
    }

    /// The organiser makes a check-in code (through WeChat's API); a member with a place scans it
    /// and is checked in (the same event again answers the same; a later scan is told it was
    /// done); before the time, nobody; a cancelled member and a new follower become walk-ins
    /// where the activity takes them; staff check a member in by their e-member card.
    @Test func checkInByCodeByFollowAndByCard() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, fake, _ in
            let organiser = Principal.staff(
                StaffMember(
                    id: 0, name: "城东", unitCode: "chengdong", role: .approver, mustChangePassword: false,
                    disabled: false, createdAt: 0), in: gateway.rules.engine.book.join.organisation)
            let start = clock.read() + 86_400
            let activity = try await Activities(store: gateway.store).create(
                Activities.Draft(
                    title: "职工运动会", place: "体育馆", unitCode: "chengdong", sharing: .everyone, membersOnly: false,
                    startsAt: start,
                    endsAt: start + 4 * 3600, opensAt: clock.read() - 60, closesAt: start - 3600, capacity: 10,
                    walkIns: true), by: organiser, organisation: gateway.rules.engine.book.join.organisation,
                at: clock.read())
            let signed = Member()
            let cancelled = Member()
            let carded = Member()
            for member in [signed, cancelled, carded] {
                #expect(try #require(try await chat.replyText(member.text("报名 \(activity.id)"))).contains("报名成功"))
            }
            _ = try await chat.replyText(cancelled.text("取消报名 \(activity.id)"))

            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let page = try await staff.get("/admin/activities/\(activity.id)")
            let csrf = try #require(ConsoleVisitor.token(in: page))
            let made = try await staff.post("/admin/activities/\(activity.id)/checkin-code", [("_csrf", csrf)])
            #expect(made.status == 303)
            let created = try #require(fake.calls(to: "/cgi-bin/qrcode/create").last)
            #expect(created.body.contains("checkin:\(activity.id)") && created.body.contains("QR_STR_SCENE"))
            #expect(try await staff.get("/admin/activities/\(activity.id)").body.contains("id=\"checkin-qr\""))

            let scene = "checkin:\(activity.id)"
            #expect(
                try #require(try await chat.replyText(signed.event(.scan(scene: scene, ticket: nil), at: 1)))
                    .contains("还没到签到时间"))
            clock.advance(seconds: 86_400 - 3600)
            let scan = signed.event(.scan(scene: scene, ticket: nil), at: 2)
            let first = try #require(try await chat.replyText(scan))
            #expect(first.contains("签到成功") && first.contains("职工运动会"))
            #expect(try await chat.replyText(scan) == first, "WeChat's retry of the event")
            #expect(
                try #require(try await chat.replyText(signed.event(.scan(scene: scene, ticket: nil), at: 3)))
                    .contains("已经签到过了"))
            #expect(
                try #require(try await chat.replyText(cancelled.event(.scan(scene: scene, ticket: nil), at: 4)))
                    .contains("现场签到"))
            let newcomer = Member()
            let followed = try #require(
                try await chat.replyText(newcomer.event(.subscribe(scene: scene, ticket: nil), at: 5)))
            #expect(followed.contains("感谢关注") && followed.contains("签到成功"))

            // By the e-member card: the member must be one (an approved application) to have a card.
            let application = try await gateway.store.transaction { database in
                try await MembershipRegistry.submit(
                    openid: carded.openid,
                    answers: [
                        "name": "孙卡", "phone": "13812345678", "unit": "城东环卫所工会", "unit_code": "chengdong-huanwei",
                    ],
                    messageKey: "join-card", at: clock.read(), year: 2026, in: database)
            }
            _ = try await MembershipRegistry(store: gateway.store).approve(application.id, at: clock.read())
            let code = try await MemberCards(store: gateway.store).code(for: carded.openid, at: clock.read())
            // A day later the console session has ended: sign in again.
            try await staff.signIn("root", testAdminToken)
            let again = try #require(ConsoleVisitor.token(in: try await staff.get("/admin/activities/\(activity.id)")))
            let byCard = try await staff.post(
                "/admin/activities/\(activity.id)/checkin", [("_csrf", again), ("code", code.code)])
            #expect(byCard.status == 303)
            let after = try await staff.get(byCard.location ?? "")
            #expect(after.body.contains("孙卡：签到成功"), "\(after.body)")
            #expect(after.body.contains("id=\"checked-in\">4<"))
            let (_, list) = try await Activities(store: gateway.store).attendance(activity.id, for: .root)
            #expect(list.filter { $0.status == .walkIn }.count == 2)
            #expect(list.filter { $0.checkedInAt != nil }.count == 4)
        }
    }

    /// An activity that asks questions at sign-up: the chat sends the member to its page; the
    /// page asks them as a form (a missing answer is marked, nothing stored); the answers show
    /// in the attendance list and its CSV, and in the admin API.
    @Test func questionsAtSignUpAreAskedOnThePage() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, _, _ in
            let organisation = gateway.rules.engine.book.join.organisation
            let start = clock.read() + 3 * 86_400
            var draft = Activities.Draft(
                title: "职工马拉松", place: "滨江路", unitCode: "county", sharing: .everyone, membersOnly: false,
                startsAt: start, endsAt: start + 4 * 3600, opensAt: clock.read() - 60, closesAt: start - 3600,
                capacity: 10, maxPeople: 2)
            draft.questions = "衣服尺码：选择 S、M、L、XL\n紧急联系人电话：手机\n<b>备注</b>：文本，可不填"
            let activity = try await Activities(store: gateway.store).create(
                draft, by: .root, organisation: organisation, at: clock.read())
            let member = Member()
            let said = try #require(try await chat.replyText(member.text("报名 \(activity.id)")))
            #expect(said.contains("需要填写报名信息") && said.contains("/m/activities/\(activity.id)"), "\(said)")

            try await browser.enterMemberPages(as: member, chat: chat)
            let page = try await browser.get("/m/activities/\(activity.id)")
            #expect(page.body.contains("id=\"f-衣服尺码\"") && page.body.contains("&lt;b&gt;备注&lt;/b&gt;"))
            #expect(page.body.contains("<option value=\"2 人\">"))
            let token = try #require(ConsoleVisitor.token(in: page))
            let submission = String(
                try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
            let missing = try await browser.post(
                "/m/activities/\(activity.id)/signup",
                [("_csrf", token), ("_submission", submission), ("people", "2 人"), ("衣服尺码", "XL")])
            #expect(missing.status == 422 && missing.body.contains("请填写「紧急联系人电话」"))
            #expect(try await Activities(store: gateway.store).mine(member.openid).isEmpty)
            let done = try await browser.post(
                "/m/activities/\(activity.id)/signup",
                [
                    ("_csrf", token), ("_submission", submission), ("people", "2 人"), ("衣服尺码", "XL"),
                    ("紧急联系人电话", "13912345678"), ("<b>备注</b>", "素食"),
                ])
            #expect(done.status == 200 && done.body.contains("报名成功") && done.body.contains("共 2 人"), "\(done.body)")

            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let attendance = try await staff.get("/admin/activities/\(activity.id)")
            #expect(attendance.body.contains("衣服尺码：XL；紧急联系人电话：13912345678；&lt;b&gt;备注&lt;/b&gt;：素食"))
            let csv = try await staff.get("/admin/activities/\(activity.id)?format=csv")
            #expect(csv.body.contains("衣服尺码") && csv.body.contains("XL") && csv.body.contains("素食"))
            let api = try await chat.admin("GET", "/admin/api/activities/\(activity.id)")
            #expect(api.body.contains(#""衣服尺码":"XL""#) && api.body.contains(#""questions":"#), "\(api.body)")
        }
    }

    /// 「活动」 is answered from memory once the member's unit is known and the list was read; typed,
    /// it is one text listing every activity (WeChat shows one card in reply to a text); from
    /// the menu, cards; a sign-up changes the places the next list shows.
    @Test func theListIsAnsweredFromMemory() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { _, chat, gateway, _, _ in
            let start = clock.read() + 3 * 86_400
            var ids: [Int] = []
            for title in ["职工书画展", "职工摄影展"] {
                ids.append(
                    try await Activities(store: gateway.store).create(
                        Activities.Draft(
                            title: title, place: "文化宫", unitCode: "county", sharing: .everyone, membersOnly: false,
                            startsAt: start, endsAt: start + 3600, opensAt: clock.read() - 60, closesAt: start - 3600,
                            capacity: 10), by: .root, organisation: gateway.rules.engine.book.join.organisation,
                        at: clock.read()
                    ).id)
            }
            let member = Member()
            let first = try #require(try await chat.replyText(member.text("活动")))
            #expect(first.contains("\(ids[0]). 【") && first.contains("职工摄影展") && first.contains("余 10 个名额"), "\(first)")
            let again = try #require(gateway.core.dispatcher.answerAtOnce(member.text("活动")))
            #expect(again.replies == [.text(first)])
            let other = try #require(try await chat.replyText(Member().text("活动")))
            #expect(other == first, "the same list for another member of the same unit")
            let menu = try #require(gateway.core.dispatcher.answerAtOnce(member.event(.click(key: "ACTIVITIES"))))
            guard case .news(let cards) = menu.replies.first else {
                Issue.record("the menu's list is not cards: \(menu.replies)")
                return
            }
            #expect(cards.count == 2 && cards.contains { $0.title.contains("职工书画展") })
            _ = try await chat.replyText(member.text("报名 \(ids[0])"))
            let after = try #require(try await chat.replyText(Member().text("活动")))
            #expect(after.contains("余 9 个名额"), "\(after)")
        }
    }

    /// The admin API: publish, list, read with sign-ups, change (more places promote the one
    /// waiting), remove a sign-up (the next one comes in), and refusals named.
    @Test func theAdminAPIRunsActivities() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { _, chat, _, _, _ in
            func local(_ time: Int64) -> String { Activities.localInput(time, utcOffsetMinutes: 480) }
            let start = clock.read() + 5 * 86_400
            func body(capacity: Int) -> String {
                """
                {"title":"职工读书会","place":"图书馆","unitCode":"county","sharing":"everyone","membersOnly":false,\
                "startsAt":"\(local(start))","endsAt":"\(local(start + 7200))","opensAt":"\(local(clock.read() - 60))",\
                "closesAt":"\(local(start - 3600))","capacity":\(capacity),"maxPeople":1}
                """
            }
            let created = try await chat.admin("POST", "/admin/api/activities", json: body(capacity: 1))
            #expect(created.status == 201, "\(created.body)")
            let id = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["id"] as? Int)
            #expect(try await chat.admin("POST", "/admin/api/activities", json: #"{"title":"x"}"#).status == 400)
            let one = Member()
            let two = Member()
            _ = try await chat.replyText(one.text("报名 \(id)"))
            #expect(try #require(try await chat.replyText(two.text("报名 \(id)"))).contains("排第 1 位"))
            let listed = try await chat.adminList("/admin/api/activities")
            #expect(listed.first?["taken"] as? Int == 1 && listed.first?["waiting"] as? Int == 1)
            let raised = try await chat.admin("PATCH", "/admin/api/activities/\(id)", json: body(capacity: 2))
            #expect(raised.status == 200 && !raised.body.contains(#""status":"waitlisted""#), "\(raised.body)")
            let removed = try await chat.admin("DELETE", "/admin/api/activities/\(id)/signups/\(one.openid)")
            #expect(removed.status == 200 && removed.body.contains(#""status":"cancelled""#))
            #expect(try await chat.admin("DELETE", "/admin/api/activities/\(id)/signups/\(one.openid)").status == 404)
            #expect(try await chat.admin("GET", "/admin/api/activities/999").status == 404)
        }
    }
}
