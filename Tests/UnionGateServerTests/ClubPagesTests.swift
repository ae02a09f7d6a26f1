import Foundation
import ReplyRules
import SQLKit
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

@Suite("Clubs and volunteer hours in the console, the chat and the member pages")
struct ClubPagesTests {
    /// Registers `member` as an approved member of 城东环卫所 called `name`.
    static func approve(_ member: Member, _ name: String, in gateway: Gateway, at now: Int64) async throws {
        let application = try await gateway.store.transaction { database in
            try await MembershipRegistry.submit(
                openid: member.openid,
                answers: ["name": name, "phone": "13812345678", "unit": "城东环卫所工会", "unit_code": "chengdong-huanwei"],
                messageKey: "join-\(name)", at: now, year: 2026, in: database)
        }
        _ = try await MembershipRegistry(store: gateway.store).approve(application.id, at: now)
        gateway.store.facts.forgetApplication(of: member.openid)
    }

    /// Staff declare a volunteer team in the console; one member asks in the chat (a retry asks
    /// once), another on the member pages; staff approve one and refuse the other with a reason
    /// (told); the team's activity takes its members only; a leader's account sees the team
    /// only; check-in and check-out codes count the service, shown to the member in the chat and
    /// on their pages, and to staff with a CSV.
    @Test func aVolunteerTeamFromAskingToHours() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, fake, _ in
            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let list = try await staff.get("/admin/clubs")
            #expect(list.status == 200 && list.body.contains("id=\"club-form\""))
            let csrf = try #require(ConsoleVisitor.token(in: list))
            let created = try await staff.post(
                "/admin/clubs",
                [
                    ("_csrf", csrf), ("name", "城东<b>志愿服务队</b>"), ("unit", "chengdong"), ("leader", "李队长"),
                    ("description", "扫雪、助老"), ("volunteer", "1"),
                ])
            #expect(created.status == 303, "\(created.body)")
            let id = try #require(created.location.flatMap { Int($0.split(separator: "/").last ?? "") })
            let shown = try await staff.get("/admin/clubs")
            #expect(shown.body.contains("城东&lt;b&gt;志愿服务队&lt;/b&gt;") && !shown.body.contains("<b>志愿服务队"))

            let first = Member()
            let second = Member()
            let outsider = Member()
            try await Self.approve(first, "周一", in: gateway, at: clock.read())
            try await Self.approve(second, "吴二", in: gateway, at: clock.read())
            try await Self.approve(outsider, "郑三", in: gateway, at: clock.read())

            // The chat: the list, a request by number, its retry.
            let listed = try #require(try await chat.replyText(first.text("俱乐部")))
            #expect(listed.contains("\(id). 城东<b>志愿服务队</b>") && listed.contains("加入俱乐部 \(id)"), "\(listed)")
            let ask = first.text("加入俱乐部 \(id)")
            let asked = try #require(try await chat.replyText(ask))
            #expect(asked.contains("已提交加入"))
            #expect(try await chat.replyText(ask) == asked, "WeChat's retry")

            // The member pages: the second asks there; a second tap asks once.
            try await browser.enterMemberPages(as: second, chat: chat)
            let page = try await browser.get("/m/clubs")
            #expect(page.body.contains("id=\"join-\(id)\""))
            let token = try #require(ConsoleVisitor.token(in: page))
            let submission = String(
                try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
            for _ in 0..<2 {
                let joined = try await browser.post(
                    "/m/clubs/\(id)/join", [("_csrf", token), ("_submission", submission)])
                #expect(joined.status == 200 && joined.body.contains("待审核"))
            }

            // Staff decide: one approved, one refused with its reason.
            let club = try await staff.get("/admin/clubs/\(id)")
            #expect(club.body.contains("周一") && club.body.contains("吴二"))
            let again = try #require(ConsoleVisitor.token(in: club))
            let noReason = try await staff.post(
                "/admin/clubs/\(id)/decide", [("_csrf", again), ("openid", second.openid), ("decision", "refuse")])
            #expect(noReason.status == 400)
            #expect(
                try await staff.post(
                    "/admin/clubs/\(id)/decide", [("_csrf", again), ("openid", first.openid), ("decision", "approve")]
                ).status == 303)
            #expect(
                try await staff.post(
                    "/admin/clubs/\(id)/decide",
                    [("_csrf", again), ("openid", second.openid), ("decision", "refuse"), ("reason", "请先参加培训")]
                ).status == 303)
            try await waitUntil(timeout: .seconds(30)) {
                let sent = fake.calls(to: "/cgi-bin/message/custom/send")
                return sent.contains { $0.body.contains(first.openid) && $0.body.contains("您已加入") }
                    && sent.contains { $0.body.contains(second.openid) && $0.body.contains("请先参加培训") }
            }
            #expect(try await browser.get("/m/clubs").body.contains("未通过：请先参加培训"))
            let refusedList = try #require(try await chat.replyText(second.text("俱乐部")))
            #expect(refusedList.contains("可以加入") && !refusedList.contains("【未通过】"), "\(refusedList)")

            // The team's activity, published from its page: members only, hours recorded.
            let form = try await staff.get("/admin/activities/new?club=\(id)")
            #expect(form.body.contains("name=\"records_hours\" value=\"1\" id=\"activity-hours\" checked"))
            let start = clock.read() + 2 * 86_400
            func local(_ time: Int64) -> String { Activities.localInput(time, utcOffsetMinutes: 480) }
            let published = try await staff.post(
                "/admin/activities",
                [
                    ("_csrf", again), ("title", "社区扫雪"), ("place", "城东街道"), ("unit", "county"),
                    ("sharing", "own"), ("members_only", "1"), ("starts_at", local(start)),
                    ("ends_at", local(start + 3 * 3600)), ("opens_at", local(clock.read() - 60)),
                    ("closes_at", local(start - 3600)), ("capacity", "20"), ("max_people", "1"),
                    ("club", String(id)), ("records_hours", "1"),
                ])
            #expect(published.status == 303, "\(published.body)")
            let activity = try #require(published.location.flatMap { Int($0.split(separator: "/").last ?? "") })
            #expect(try #require(try await chat.replyText(first.text("报名 \(activity)"))).contains("报名成功"))
            #expect(
                try #require(try await chat.replyText(outsider.text("报名 \(activity)"))).contains("仅限「城东<b>志愿服务队</b>」"))
            #expect(!(try await chat.post(outsider.text("活动"), mode: .plain).body.contains("社区扫雪")))

            // A leader's account: the team and its activity, nothing else.
            _ = try await StaffDirectory(store: gateway.store, cost: 4).add(
                name: "李队长", unit: "chengdong", role: .approver, password: "leader-password",
                organisation: gateway.rules.engine.book.join.organisation, by: .commandLine, at: clock.read())
            let assigned = try await staff.post(
                "/admin/clubs/\(id)/leader", [("_csrf", again), ("account", "李队长")])
            #expect(assigned.status == 303)
            let leader = ConsoleVisitor(browser.client)
            #expect(try await leader.signIn("李队长", "leader-password").status == 303)
            let leaderClubs = try await leader.get("/admin/clubs")
            #expect(leaderClubs.body.contains("城东&lt;b&gt;志愿服务队") && !leaderClubs.body.contains("/admin/members\""))
            #expect(try await leader.get("/admin/activities").body.contains("社区扫雪"))
            let members = try await leader.get("/admin/members")
            #expect(!members.body.contains("周一"), "no members' applications for a leader")

            // Check-in and check-out codes through WeChat's API; the service counted.
            let detail = try await staff.get("/admin/activities/\(activity)")
            #expect(detail.body.contains("id=\"make-checkout-code\""))
            #expect(
                try await staff.post("/admin/activities/\(activity)/checkout-code", [("_csrf", again)]).status == 303)
            #expect(try #require(fake.calls(to: "/cgi-bin/qrcode/create").last).body.contains("checkout:\(activity)"))
            clock.advance(seconds: 2 * 86_400 - 600)
            let checkIn = first.event(.scan(scene: "checkin:\(activity)", ticket: nil), at: 1)
            #expect(try #require(try await chat.replyText(checkIn)).contains("签到成功"))
            clock.advance(seconds: 600 + 2 * 3600 + 30 * 60)
            let out = first.event(.scan(scene: "checkout:\(activity)", ticket: nil), at: 2)
            let said = try #require(try await chat.replyText(out))
            #expect(said.contains("签退成功") && said.contains("2 小时 30 分钟"), "\(said)")
            #expect(try await chat.replyText(out) == said, "WeChat's retry")
            #expect(try #require(try await chat.replyText(first.text("志愿时长"))).contains("共 2 小时 30 分钟"))
            try await staff.signIn("root", testAdminToken)
            let hours = try await staff.get("/admin/volunteer-hours")
            #expect(hours.body.contains("周一") && hours.body.contains("2 小时 30 分钟"), "\(hours.body)")
            let csv = try await staff.get("/admin/volunteer-hours?format=csv&from=2026-01-01&to=2026-12-31")
            #expect(csv.status == 200 && csv.body.contains("周一") && csv.body.contains("2.5"), "\(csv.body)")
            #expect(try await staff.get("/admin/volunteer-hours?from=yesterday").status == 400)
            let api = try await chat.admin(
                "GET", "/admin/api/volunteer-hours", query: ["from": "2026-01-01", "to": "2026-12-31"])
            #expect(api.body.contains(#""minutes":150"#) && api.body.contains(first.openid), "\(api.body)")
        }
    }

    /// The admin API: declare, list, read, decide, remove, and the hours.
    @Test func theAdminAPIRunsClubs() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { _, chat, gateway, _, _ in
            let created = try await chat.admin(
                "POST", "/admin/api/clubs", json: #"{"name":"县职工羽毛球俱乐部","unitCode":"county","leader":"王"}"#)
            #expect(created.status == 201, "\(created.body)")
            let id = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["id"] as? Int)
            #expect(try await chat.admin("POST", "/admin/api/clubs", json: #"{"name":""}"#).status == 400)
            let member = Member()
            try await Self.approve(member, "冯四", in: gateway, at: clock.read())
            #expect(try #require(try await chat.replyText(member.text("加入俱乐部 \(id)"))).contains("已提交"))
            let listed = try await chat.admin("GET", "/admin/api/clubs")
            #expect(listed.body.contains(#""waiting":1"#), "\(listed.body)")
            let decided = try await chat.admin(
                "POST", "/admin/api/clubs/\(id)/members/\(member.openid)", json: #"{"decision":"approve"}"#)
            #expect(decided.status == 200 && decided.body.contains(#""status":"approved""#), "\(decided.body)")
            #expect(
                try await chat.admin(
                    "POST", "/admin/api/clubs/\(id)/members/\(member.openid)", json: #"{"decision":"approve"}"#
                ).status == 409)
            let read = try await chat.admin("GET", "/admin/api/clubs/\(id)")
            #expect(read.body.contains(#""members":1"#))
            #expect(try await chat.admin("DELETE", "/admin/api/clubs/\(id)/members/\(member.openid)").status == 200)
            #expect(try await chat.admin("DELETE", "/admin/api/clubs/\(id)/members/\(member.openid)").status == 404)
            #expect(try await chat.admin("GET", "/admin/api/clubs/999").status == 404)
            let hours = try await chat.admin(
                "GET", "/admin/api/volunteer-hours", query: ["from": "2026-01-01", "to": "2026-12-31"])
            #expect(hours.status == 200, "\(hours.status) \(hours.body)")
            #expect(hours.body == "[]", "\(hours.body)")
            #expect(try await chat.admin("GET", "/admin/api/volunteer-hours").status == 400)
        }
    }
}
