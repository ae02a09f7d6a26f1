import Foundation
import ReplyRules
import SQLKit
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

/// Staff of the county tree who act on aid applications, each signed in to the console of
/// their own browser.
private struct AidStaff {
    let huanwei: ConsoleVisitor  // 城东环卫所工会, approver
    let town: ConsoleVisitor  // 城东镇工会, approver
    let county: ConsoleVisitor  // 某某县总工会, approver
    let west: ConsoleVisitor  // 城西镇工会, approver: another branch
    let viewer: ConsoleVisitor  // 某某县总工会, viewer

    static func make(_ gateway: Gateway, client: ConsoleVisitor) async throws -> AidStaff {
        let directory = StaffDirectory(store: gateway.store, cost: 4)
        let organisation = gateway.rules.engine.book.join.organisation
        var visitors: [ConsoleVisitor] = []
        for (name, unit, role) in [
            ("环卫审核", "chengdong-huanwei", StaffRole.approver), ("城东审核", "chengdong", .approver),
            ("县总审批", "county", .approver), ("城西审核", "chengxi", .approver), ("县总只读", "county", .viewer),
        ] {
            _ = try await directory.add(
                name: name, unit: unit, role: role, password: "password-\(unit)", organisation: organisation,
                by: .commandLine, at: 1)
            let visitor = ConsoleVisitor(client.client)
            #expect(try await visitor.signIn(name, "password-\(unit)").status == 303)
            visitors.append(visitor)
        }
        return AidStaff(
            huanwei: visitors[0], town: visitors[1], county: visitors[2], west: visitors[3], viewer: visitors[4])
    }
}

extension ConsoleVisitor {
    /// Posts a decision on aid application `id` at `stop`, with the page's CSRF token.
    func decide(_ id: Int, stop: Int, _ decision: String, note: String = "", record: [(String, String)] = [])
        async throws -> Page
    {
        let page = try await get("/admin/aid/\(id)")
        let csrf = ConsoleVisitor.token(in: page) ?? ""
        return try await post(
            "/admin/aid/\(id)/decide",
            [("_csrf", csrf), ("stop", "\(stop)"), ("decision", decision), ("note", note)]
                + record.map { ("record." + $0.0, $0.1) })
    }
}

/// Makes `member` an approved member of `unit` and returns the application's number.
private func makeMember(_ member: Member, of unit: String, name: String, _ gateway: Gateway, at now: Int64)
    async throws
{
    let organisation = gateway.rules.engine.book.join.organisation
    let application = try await gateway.store.transaction { database in
        try await MembershipRegistry.submit(
            openid: member.openid,
            answers: [
                "name": name, "phone": "13812345678", "unit": organisation.units[unit]?.name ?? unit, "unit_code": unit,
            ],
            messageKey: "join-\(member.openid)", at: now, year: 2026, in: database)
    }
    _ = try await MembershipRegistry(store: gateway.store).approve(application.id, at: now)
    gateway.store.facts.forgetApplication(of: member.openid)
}

private func hardship(_ gateway: Gateway) throws -> Workflow {
    try #require(gateway.rules.engine.book.workflows["困难帮扶"])
}

/// The customer-service messages the fake WeChat API received for `openid`.
private func notices(_ fake: FakeWeChatAPI, to openid: String) -> [String] {
    fake.calls(to: "/cgi-bin/message/custom/send").map(\.body).filter { $0.contains(openid) }
}

@Suite("Aid that climbs the tree: 困难帮扶, 金秋助学, 法律援助")
struct AidWorkflowTests {
    /// A member applies for 困难帮扶 on the pages in three steps (a bad answer refused, household
    /// rows added one by one, a photo of proof); a double tap stores one application; the
    /// grassroots union, the town and the county pass it up and approve it with an amount; staff
    /// of another branch get 404, a county viewer sees the sensitive answers masked, a county
    /// approver cannot act before its level; the member gets a notice at each level and sees each
    /// decision in 我的申请; the statistics count it with its amount.
    @Test func aHardshipApplicationGoesUpThreeLevelsAndIsApproved() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, fake, _ in
            let member = Member()
            try await makeMember(member, of: "chengdong-huanwei", name: "孙七", gateway, at: clock.read())
            // The chat answers a personal link that opens the application itself.
            let reply = try #require(try await chat.replyText(member.text("困难帮扶")))
            #expect(reply.contains("困难职工帮扶申请"))
            let link = try #require(reply.firstMatch(of: /\/m\/in\/[0-9a-f]{64}\?next=[^"]+/)).output
            let opened = try await browser.get(String(link))
            let path = "/m/aid/" + ConsoleVisitor.encode("困难帮扶")
            #expect(opened.status == 303)
            #expect(opened.location?.removingPercentEncoding == "/m/aid/困难帮扶", "\(opened.location ?? "")")

            func form(_ page: ConsoleVisitor.Page) throws -> [(String, String)] {
                let csrf = try #require(ConsoleVisitor.token(in: page))
                let submission = String(
                    try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
                return [("_csrf", csrf), ("_submission", submission)]
            }
            // Step 1: the applicant; a bad phone is refused and what was typed is kept.
            let first = try await browser.get(path)
            #expect(first.status == 200)
            #expect(first.body.contains("第 1 步（共 3 步）"))
            let applicant = [
                ("name", "孙七"), ("id_number", "330102198001011234"), ("reason", "家属大病"),
                ("detail", "爱人今年查出重病，住院费用高，家里只有我一份收入。"),
            ]
            let badPhone = try await browser.post(
                path + "?step=0", try form(first) + applicant + [("phone", "1234"), ("_action", "next")])
            #expect(badPhone.status == 422)
            #expect(badPhone.body.contains("手机号应为 11 位数字"))
            #expect(badPhone.body.contains("value=\"孙七\""))
            let toSecond = try await browser.post(
                path + "?step=0", try form(first) + applicant + [("phone", "13812345678"), ("_action", "next")])
            #expect(toSecond.status == 303)
            #expect(toSecond.location?.hasSuffix("?step=1") == true)

            // Step 2: household members, one row added at a time; a bad row is named.
            let second = try await browser.get(path + "?step=1")
            #expect(second.body.contains("第 2 步（共 3 步）：家庭成员"))
            #expect(second.body.contains("name=\"household.0.name\""))
            #expect(!second.body.contains("name=\"household.1.name\""))
            let spouse = [
                ("household.0.name", "王芳"), ("household.0.relation", "配偶"), ("household.0.age", "45"),
                ("household.0.income", "0"),
            ]
            let added = try await browser.post(
                path + "?step=1", try form(second) + spouse + [("_action", "add:household")])
            #expect(added.status == 200)
            #expect(added.body.contains("name=\"household.1.name\""))
            #expect(added.body.contains("value=\"王芳\""))
            let child = [
                ("household.1.name", "孙小明"), ("household.1.relation", "子女"), ("household.1.age", "500"),
                ("household.1.income", "0"),
            ]
            let badRow = try await browser.post(
                path + "?step=1", try form(added) + spouse + child + [("income", "4200"), ("_action", "next")])
            #expect(badRow.status == 422)
            #expect(badRow.body.contains("第 2 行"))
            var fixed = child
            fixed[2] = ("household.1.age", "15")
            let toThird = try await browser.post(
                path + "?step=1", try form(badRow) + spouse + fixed + [("income", "4,200.5"), ("_action", "next")])
            #expect(toThird.status == 303)

            // Going back keeps everything typed (the draft).
            let third = try await browser.get(path + "?step=2")
            #expect(third.body.contains("enctype=\"multipart/form-data\""))
            let back = try await browser.post(path + "?step=2", try form(third) + [("_action", "back")])
            #expect(back.status == 303)
            #expect(try await browser.get(path + "?step=1").body.contains("value=\"孙小明\""))

            // Step 3: a photo is required; then a double tap stores one application.
            let last = try await browser.get(path + "?step=2")
            let noPhoto = try await browser.postMultipart(
                path + "?step=2", try form(last) + [("_action", "submit")], files: [])
            #expect(noPhoto.status == 422)
            #expect(noPhoto.body.contains("请上传「证明材料照片」"))
            let fields = try form(last) + [("_action", "submit")]
            let proof = [ConsoleVisitor.Upload(field: "proof", filename: "a.jpg", type: "image/jpeg", data: sampleJPEG)]
            async let tapOne = browser.postMultipart(path + "?step=2", fields, files: proof)
            async let tapTwo = browser.postMultipart(path + "?step=2", fields, files: proof)
            let (one, two) = try await (tapOne, tapTwo)
            #expect(one.status == 200 && two.status == 200, "\(one.status) \(two.status)")
            #expect(one.body.contains("KB-2026-000001") && two.body.contains("KB-2026-000001"))
            let (count, photos) = try await gateway.store.read { database in
                (
                    try await database.count("aid_applications"),
                    try await database.count("form_photos", where: { $0.where("record_kind", .equal, "aid") })
                )
            }
            #expect(count == 1 && photos == 1, "\(count) applications, \(photos) photos")
            let application = try #require(
                try await AidApplications(store: gateway.store).mine(member.openid).first)
            #expect(application.chain.map(\.unit) == ["chengdong-huanwei", "chengdong", "county"])
            #expect(AidApplication.rows(application.answers["household"]).count == 2)
            #expect(application.answers["income"] == "4200.50")
            #expect(try await AidDrafts(store: gateway.store).load(openid: member.openid, workflow: "困难帮扶") == nil)
            let id = application.id

            let staff = try await AidStaff.make(gateway, client: browser)
            // Another branch: not found, to read or to decide.
            #expect(try await staff.west.get("/admin/aid/\(id)").status == 404)
            #expect(try await staff.west.decide(id, stop: 0, "pass").status == 404)
            #expect(!(try await staff.west.get("/admin/aid?status=all").body.contains("KB-2026-000001")))
            // The county sees it, but its level has not come: refused, nothing changes.
            let early = try await staff.county.get("/admin/aid/\(id)")
            #expect(early.body.contains("由「城东环卫所工会」办理"))
            #expect(!early.body.contains("id=\"decide-form\""))
            #expect(try await staff.county.decide(id, stop: 0, "pass").status == 403)
            // A viewer never sees the sensitive answers; those who act do.
            let masked = try await staff.viewer.get("/admin/aid/\(id)")
            #expect(masked.status == 200)
            #expect(!masked.body.contains("330102198001011234") && !masked.body.contains("王芳"))
            #expect(masked.body.contains(AidApplications.hidden))
            let grassroots = try await staff.huanwei.get("/admin/aid")
            #expect(grassroots.body.contains("KB-2026-000001"))
            let full = try await staff.huanwei.get("/admin/aid/\(id)")
            #expect(full.body.contains("330102198001011234") && full.body.contains("王芳"))
            let photo = try #require(full.body.firstMatch(of: /\/admin\/photos\/[0-9a-f]{32}/)).output
            #expect(try await staff.huanwei.get(String(photo)).status == 200)
            #expect(try await staff.west.get(String(photo)).status == 404)

            // Grassroots → town → county.
            let passed = try await staff.huanwei.decide(id, stop: 0, "pass", note: "情况属实")
            #expect(passed.status == 303)
            #expect(try await staff.huanwei.decide(id, stop: 0, "pass").status == 409, "a second tap changes nothing")
            #expect(try await staff.town.get("/admin/aid").body.contains("KB-2026-000001"))
            #expect(try await staff.town.decide(id, stop: 1, "pass").status == 303)
            let noAmount = try await staff.county.decide(id, stop: 2, "pass", record: [("category", "特困")])
            #expect(noAmount.status == 400)
            #expect(noAmount.body.contains("帮扶金额"))
            let approved = try await staff.county.decide(
                id, stop: 2, "pass", record: [("category", "特困"), ("amount", "2000")])
            #expect(approved.status == 303)
            let done = try #require(try await AidApplications(store: gateway.store).application(id, of: member.openid))
            #expect(done.0.status == .approved)
            #expect(done.0.amountCents == 200_000)
            #expect(done.1.map(\.action) == [.submit, .pass, .pass, .approve])

            // The member: a notice at each level, and each decision in 我的申请.
            try await waitUntil(timeout: .seconds(30)) {
                notices(fake, to: member.openid).filter { $0.contains("KB-2026-000001") }.count >= 3
            }
            let sent = notices(fake, to: member.openid).filter { $0.contains("KB-2026-000001") }
            #expect(sent.count == 3, "\(sent)")
            #expect(sent.contains { $0.contains("已通过基层工会审核") && $0.contains("镇街工会复核") })
            #expect(sent.contains { $0.contains("已批准") && $0.contains("2000.00") })
            let mine = try await browser.get("/m/applications/aid/\(id)")
            #expect(mine.body.contains("基层工会审核（城东环卫所工会）：通过，报镇街工会复核"))
            #expect(mine.body.contains("镇街工会复核（城东镇工会）：通过"))
            #expect(mine.body.contains("县总工会审批（某某县总工会）：批准"))
            #expect(mine.body.contains("已批准"))
            #expect(mine.body.contains("/m/photos/"))
            let listed = try #require(try await chat.replyText(member.text("我的申请")))
            #expect(listed.contains("【困难职工帮扶申请】KB-2026-000001 已批准"))

            // Exports: staff who act on it get the answers in full; a viewer may not export; where
            // only admins act, an approver's export is masked.
            let export = "/admin/aid/export?form=" + ConsoleVisitor.encode("困难帮扶")
            #expect(try await staff.viewer.get(export).status == 403)
            let exported = try await staff.county.get(export)
            #expect(exported.status == 200)
            #expect(exported.body.contains("330102198001011234") && exported.body.contains("王芳"))
            #expect(exported.body.contains("2000.00"))
            var adminsOnly = try hardship(gateway)
            for index in adminsOnly.levels.indices { adminsOnly.levels[index].roles = ["admin"] }
            let approver = try #require(try await StaffDirectory(store: gateway.store).member(named: "县总审批"))
            let forApprover = AidApplications.masked(
                done.0, workflow: adminsOnly, for: .staff(approver, in: gateway.rules.engine.book.join.organisation))
            #expect(forApprover.answers["id_number"] == AidApplications.hidden)
            #expect(forApprover.answers["name"] == "孙七", "what is not sensitive stays")

            // Statistics: by unit, level and month, with the amount; CSV for finance.
            let stats = try await staff.county.get("/admin/aid/stats?from=2026-01-01&to=2026-12-31")
            #expect(stats.body.contains("2000.00"))
            let csv = try await staff.county.get("/admin/aid/stats?from=2026-01-01&to=2026-12-31&format=csv")
            #expect(csv.status == 200)
            #expect(csv.body.contains("县总工会审批") && csv.body.contains("2000.00"))
            #expect(csv.body.contains("基层工会审核"))
        }
    }

    /// Sent back by the grassroots union, the member adds what was asked (and another photo)
    /// and resubmits to the same level, once however often the page is sent; another application
    /// is refused at the town with a reason the member reads; a refusal needs its reason.
    @Test func sentBackResubmittedAndRefusedWithAReason() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, fake, _ in
            let member = Member()
            try await makeMember(member, of: "chengdong-huanwei", name: "李四", gateway, at: clock.read())
            try await browser.enterMemberPages(as: member, chat: chat)
            let workflow = try hardship(gateway)
            let book = gateway.rules.engine.book
            let answers = [
                "name": "李四", "phone": "13912345678", "id_number": "330102198001011234", "reason": "本人大病",
                "detail": "今年做了手术，花费很多，无力承担。", "income": "3000.00", "proof": "1 张照片",
            ]
            let aid = AidApplications(store: gateway.store)
            let first = try await aid.submit(
                workflow, answers: answers, for: member.openid, key: "a", book: book, at: clock.read())
            let second = try await aid.submit(
                workflow, answers: answers, for: member.openid, key: "b", book: book, at: clock.read())
            let staff = try await AidStaff.make(gateway, client: browser)

            #expect(try await staff.huanwei.decide(first.id, stop: 0, "back").status == 400, "what to add is needed")
            #expect(try await staff.huanwei.decide(first.id, stop: 0, "back", note: "请补充医院的收费票据").status == 303)
            let detail = try await browser.get("/m/applications/aid/\(first.id)")
            #expect(detail.body.contains("请补充医院的收费票据"))
            #expect(detail.body.contains("/m/aid/applications/\(first.id)/more"))
            let more = try await browser.get("/m/aid/applications/\(first.id)/more")
            #expect(more.status == 200)
            #expect(more.body.contains("value=\"李四\""), "the answers given are filled in")
            let csrf = try #require(ConsoleVisitor.token(in: more))
            let submission = String(
                try #require(more.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
            var fields = [("_csrf", csrf), ("_submission", submission), ("_action", "submit")]
            for (key, value) in answers where key != "proof" {
                fields.append((key, key == "detail" ? "今年做了手术，花费很多，无力承担。已补充票据。" : value))
            }
            let receipt = [ConsoleVisitor.Upload(field: "proof", filename: "r.png", type: "image/png", data: samplePNG)]
            let resubmitted = try await browser.postMultipart(
                "/m/aid/applications/\(first.id)/more", fields, files: receipt)
            #expect(resubmitted.status == 200, "\(resubmitted.body)")
            #expect(resubmitted.body.contains("回到「基层工会审核」"))
            let again = try await browser.postMultipart("/m/aid/applications/\(first.id)/more", fields, files: receipt)
            #expect(again.status == 200, "the same page sent twice is one resubmission")
            let (reopened, steps) = try #require(try await aid.application(first.id, of: member.openid))
            #expect(reopened.status == .pending && reopened.stop == 0)
            #expect(reopened.answers["detail"]?.contains("已补充票据") == true)
            #expect(steps.map(\.action) == [.submit, .sendBack, .resubmit])
            #expect(
                try await FormPhotos(store: gateway.store, directory: gateway.mediaDirectory)
                    .photos(ofApplications: [first.id])[first.id]?.count == 1)
            #expect(try await browser.get("/m/aid/applications/\(first.id)/more").status == 409)

            // Refused at the town, with its reason.
            #expect(try await staff.huanwei.decide(second.id, stop: 0, "pass").status == 303)
            #expect(try await staff.town.decide(second.id, stop: 1, "refuse").status == 400)
            #expect(try await staff.town.decide(second.id, stop: 1, "refuse", note: "家庭人均收入高于本地帮扶标准").status == 303)
            let refused = try await browser.get("/m/applications/aid/\(second.id)")
            #expect(refused.body.contains("家庭人均收入高于本地帮扶标准"))
            #expect(refused.body.contains("镇街工会复核（城东镇工会）：不予通过"))
            #expect(try await staff.county.decide(second.id, stop: 2, "pass").status == 409)
            try await waitUntil(timeout: .seconds(30)) {
                notices(fake, to: member.openid).filter { $0.contains("KB-2026") }.count >= 3
            }
            let sent = notices(fake, to: member.openid)
            #expect(sent.contains { $0.contains("需要补充材料") && $0.contains("收费票据") })
            #expect(sent.contains { $0.contains("未通过镇街工会复核") && $0.contains("高于本地帮扶标准") }, "\(sent)")
            let audit = try await gateway.store.read { database in
                try await database.select().column("action").from("audit_log").where("action", .like, "aid.%")
                    .all(decodingColumn: "action", as: String.self)
            }
            #expect(Set(audit) == ["aid.submit", "aid.send_back", "aid.resubmit", "aid.pass", "aid.refuse"])
        }
    }

    /// A level past its working days is escalated to the unit above (counted in /metrics),
    /// whose staff see it among the overdue and may then act for it; before, they may not.
    @Test func anOverdueLevelIsEscalatedAndTheLevelAboveMayAct() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withMemberPages(clock: clock) { browser, chat, gateway, _, _ in
            let member = Member()
            try await makeMember(member, of: "chengdong-huanwei", name: "周五", gateway, at: clock.read())
            let book = gateway.rules.engine.book
            let aid = AidApplications(store: gateway.store)
            let application = try await aid.submit(
                try hardship(gateway), answers: ["name": "周五"], for: member.openid, key: "late", book: book,
                at: clock.read())
            let staff = try await AidStaff.make(gateway, client: browser)
            #expect(try await staff.town.decide(application.id, stop: 0, "pass").status == 403)
            #expect(try await aid.escalateOverdue(organisation: book.join.organisation, at: clock.read()).isEmpty)
            // Five working days from a Friday afternoon: past the next Friday's end.
            #expect(application.dueAt - clock.read() > 7 * 86_400 - 86_400)
            clock.advance(seconds: 10 * 86_400)
            // Ten days later the console sessions have ended: sign in again.
            try await staff.town.signIn("城东审核", "password-chengdong")
            try await staff.west.signIn("城西审核", "password-chengxi")
            let escalated = try await aid.escalateOverdue(organisation: book.join.organisation, at: clock.read())
            #expect(escalated.map(\.escalatedTo) == ["chengdong"])
            #expect(try await aid.escalateOverdue(organisation: book.join.organisation, at: clock.read()).isEmpty)
            let metrics = try await browser.get("/metrics")
            #expect(metrics.body.contains("uniongate_aid_overdue 1"))
            let overdue = try await staff.town.get("/admin/aid?status=overdue")
            #expect(overdue.body.contains(application.number))
            #expect(overdue.body.contains("已督办"))
            #expect(try await staff.west.get("/admin/aid?status=overdue").body.contains(application.number) == false)
            #expect(try await staff.town.decide(application.id, stop: 0, "pass").status == 303)
            let moved = try #require(try await aid.application(application.id, of: member.openid))
            #expect(moved.0.stop == 1 && moved.0.currentUnit == "chengdong")
            #expect(moved.1.map(\.action) == [.submit, .escalate, .pass])

            // The same through the admin API: the queue, one application with its steps, a stale
            // decision refused, an unknown queue named.
            let listed = try await chat.adminList("/admin/api/aid", query: ["queue": "waiting"])
            #expect(listed.map { $0["number"] as? String } == [application.number])
            #expect(listed.first?["level"] as? String == "镇街工会复核")
            let one = try await chat.admin("GET", "/admin/api/aid/\(application.id)")
            #expect(one.status == 200 && one.body.contains(#""action":"escalate""#))
            let stale = try await chat.admin(
                "POST", "/admin/api/aid/\(application.id)/decide", json: #"{"stop":0,"decision":"pass"}"#)
            #expect(stale.status == 409)
            let refused = try await chat.admin(
                "POST", "/admin/api/aid/\(application.id)/decide",
                json: #"{"stop":1,"decision":"refuse","note":"材料不全且逾期未补"}"#)
            #expect(refused.status == 200 && refused.body.contains(#""status":"refused""#))
            #expect(try await chat.admin("GET", "/admin/api/aid", query: ["queue": "mine"]).status == 400)
        }
    }
}
