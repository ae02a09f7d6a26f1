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
}
