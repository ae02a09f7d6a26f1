import Foundation
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

@Suite("The inbox (留言)")
struct InboxTests {
    /// 2026-11-27, a Friday, 14:00 in Beijing: the office is open.
    static let fridayAfternoon: Int64 = 1_795_759_200

    @Test func aMessageNoRuleAnswersBecomesACaseOnceAndStaffAnswerIt() async throws {
        let clock = TestClock(Self.fridayAfternoon)
        try await withGateway(clock: clock.read) { client, gateway in
            let member = Member()
            let first = member.text("车间空调坏了一个星期，没人来修")
            let ack = try #require(try await client.replyText(first))
            #expect(ack == "您的留言已转给工会工作人员，编号 LY-2026-000001，我们会在 3 个工作日内答复。")
            // WeChat's retry: the same answer, nothing stored twice.
            #expect(try await client.replyText(first) == ack)
            // More from the member the same day joins the case.
            let more = try #require(try await client.replyText(member.text("在三号车间")))
            #expect(more.contains("已补充到您的留言（编号 LY-2026-000001）"))
            _ = try await client.send(
                InboundMessage(
                    header: MessageHeader(account: "gh_union", sender: member.openid, createTime: 1, msgId: 77),
                    kind: .voice(VoiceMessage(mediaId: "voice-1", format: "amr", recognition: "快点修"))))

            let cases = try await client.adminList("/admin/api/cases")
            #expect(cases.count == 1)
            let listed = try #require(cases.first)
            #expect(listed["number"] as? String == "LY-2026-000001" && listed["status"] as? String == "open")
            #expect(listed["overdue"] as? Bool == false)
            #expect(listed["dueAt"] as? String == "2026-12-02T16:00:00Z")  // Wednesday's end, Beijing time
            let id = try #require(listed["id"] as? Int)
            let thread = try await client.admin("GET", "/admin/api/cases/\(id)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(thread.body.utf8)) as? [String: Any])
            let messages = try #require(object["messages"] as? [[String: Any]])
            #expect(messages.map { $0["content"] as? String } == ["车间空调坏了一个星期，没人来修", "在三号车间", "[语音] 快点修"])
            #expect(messages.last?["mediaStatus"] as? String == "pending")

            // Past the due time: flagged, counted, and escalated.
            clock.advance(seconds: 6 * 86_400)
            let overdue = try await client.adminList("/admin/api/cases", query: ["overdue": "1"])
            #expect(overdue.count == 1 && overdue.first?["overdue"] as? Bool == true)
            #expect(try await client.request("GET", "/metrics").body.contains("uniongate_cases_overdue 1.0\n"))
            // Statistics count it by the gateway's clock too.
            let overdueStats = try await client.admin("GET", "/admin/api/stats")
            #expect(overdueStats.body.contains(#""overdueCases":1"#))
            let escalated = try await Inbox(store: gateway.store).escalateOverdue(
                organisation: gateway.rules.engine.book.join.organisation, at: clock.read())
            #expect(escalated.map(\.number) == ["LY-2026-000001"])
            #expect(
                try await Inbox(store: gateway.store).escalateOverdue(organisation: .init(), at: clock.read()).isEmpty)

            // A reply goes to the member; closing asks for a rating.
            let replied = try await client.admin(
                "POST", "/admin/api/cases/\(id)/reply", json: #"{"text":"已安排维修师傅明天上午到三号车间"}"#)
            #expect(replied.status == 200 && replied.body.contains(#""status":"answered""#))
            #expect(
                try await client.admin("POST", "/admin/api/cases/\(id)/reply", json: #"{"text":" "}"#).status == 400)
            #expect(try await client.admin("POST", "/admin/api/cases/\(id)/close").status == 200)
            #expect(try await client.admin("POST", "/admin/api/cases/\(id)/close").status == 409)
            #expect(try await client.admin("POST", "/admin/api/cases/999/close").status == 404)
            let outbox = try await client.adminList("/admin/api/outbox")
            let previews = outbox.compactMap { $0["preview"] as? String }
            #expect(previews.contains { $0.contains("工会答复您的留言（编号 LY-2026-000001）") })
            #expect(previews.contains { $0.contains("请为本次答复打分，回复 1–5") })

            // The member's next 1–5 is the rating, not a new case.
            let thanks = try #require(try await client.replyText(member.text("5")))
            #expect(thanks.contains("感谢您的评价（5 分）"))
            let rated = try await client.adminList("/admin/api/cases")
            #expect(rated.count == 1 && rated.first?["rating"] as? Int == 5)
            // Only once: another 5 is a message like any other.
            #expect(try await client.replyText(member.text("5"))?.contains("LY-2026-000002") == true)
            // The shipped Replies' old unit list is a one-level tree: the whole union's counts.
            let stats = try await client.admin("GET", "/admin/api/stats")
            let counted = try #require(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
            #expect(counted["cases"] as? [String: Int] == ["open": 1, "answered": 0, "closed": 1])
            #expect((counted["ratings"] as? [String: Any])?["average"] as? Double == 5)

            let audit = try await client.adminList("/admin/api/audit", query: ["per_page": "500"])
            let actions = Set(audit.compactMap { $0["action"] as? String })
            #expect(actions.isSuperset(of: ["case.reply", "case.close", "case.escalate"]))
        }
    }

    @Test func outsideOfficeHoursTheMemberIsToldWhenStaffAreBack() async throws {
        let clock = TestClock(Self.fridayAfternoon + 6 * 3600)  // Friday 20:00
        try await withGateway(clock: clock.read) { client, _ in
            let reply = try #require(try await client.replyText(Member().text("工资拖欠怎么办")))
            #expect(reply.contains("编号 LY-2026-000001"))
            #expect(reply.contains("工作人员 11月30日（星期一）09:00 上班后会尽快处理"))
        }
    }

    @Test func staffSeeTheirUnitsCasesAndRatingsAreCountedByUnitAndMonth() async throws {
        let clock = TestClock(Self.fridayAfternoon)
        try await withGateway(replies: countyReplies, clock: clock.read) { client, gateway in
            let store = gateway.store
            let east = Member()
            try await store.transaction { database in
                _ = try await MembershipRegistry.submit(
                    openid: east.openid,
                    answers: [
                        "name": "东", "phone": "13812345678", "unit": "城东环卫所工会", "unit_code": "chengdong-huanwei",
                    ],
                    messageKey: "e", at: 1, year: 2026, in: database)
            }
            #expect(try await client.replyText(east.text("环卫车的刹车不太灵"))?.contains("LY-") == true)
            let directory = StaffDirectory(store: store, cost: 4)
            let organisation = gateway.rules.engine.book.join.organisation
            for (name, unit) in [("东", "chengdong"), ("西", "chengxi")] {
                _ = try await directory.add(
                    name: name, unit: unit, role: .approver, password: nil, organisation: organisation,
                    by: .commandLine, at: 1)
            }
            let eastToken = try await directory.createToken(for: "东", by: .commandLine, at: 1)
            let westToken = try await directory.createToken(for: "西", by: .commandLine, at: 1)
            let id = try #require(try await client.adminList("/admin/api/cases").first?["id"] as? Int)
            #expect(try await client.admin("GET", "/admin/api/cases/\(id)", token: eastToken).status == 200)
            #expect(try await client.admin("GET", "/admin/api/cases/\(id)", token: westToken).status == 404)
            #expect(try await client.admin("POST", "/admin/api/cases/\(id)/close", token: westToken).status == 404)
            let westList = try await client.admin("GET", "/admin/api/cases", token: westToken)
            #expect(westList.body == "[]")
            // Assigned to a staff member who cannot see it: refused; to one who can: done.
            #expect(
                try await client.admin(
                    "POST", "/admin/api/cases/\(id)/assign", json: #"{"staff":"西"}"#, token: eastToken
                )
                .status == 400)
            #expect(
                try await client.admin(
                    "POST", "/admin/api/cases/\(id)/assign", json: #"{"staff":"东"}"#, token: eastToken
                )
                .status == 200)
            #expect(try await client.admin("POST", "/admin/api/cases/\(id)/close", token: eastToken).status == 200)
            #expect(try await client.replyText(east.text("4"))?.contains("感谢您的评价（4 分）") == true)

            let stats = try await client.admin(
                "GET", "/admin/api/stats", query: ["unit": "chengdong"], token: eastToken)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
            #expect((object["cases"] as? [String: Int])?["closed"] == 1)
            let ratings = try #require(object["ratings"] as? [String: Any])
            #expect(ratings["count"] as? Int == 1 && ratings["average"] as? Double == 4)
            #expect(((ratings["byMonth"] as? [String: Any])?["2026-11"] as? [String: Any])?["count"] as? Int == 1)
            let west = try await client.admin("GET", "/admin/api/stats", query: ["unit": "chengxi"])
            let westObject = try #require(
                try JSONSerialization.jsonObject(with: Data(west.body.utf8)) as? [String: Any])
            #expect((westObject["ratings"] as? [String: Any])?["count"] as? Int == 0)
        }
    }

    @Test func casesFromTheTerminal() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "cases-\(UUID().uuidString).sqlite"
        )
        .path
        let chat = try await uniongate(
            ["chat", "--replies", shippedReplies, "--database", database, "--openid", "o-cli"],
            input: "宿舍热水器不出热水\n/quit\n")
        #expect(chat.output.contains("LY-"))
        let list = try await uniongate(["cases", "list", "--database", database])
        #expect(list.output.contains("LY-") && list.output.contains("待答复") && list.output.contains("共 1 条"))
        let show = try await uniongate(["cases", "show", "1", "--database", database])
        #expect(show.output.contains("职工：宿舍热水器不出热水"))
        let reply = try await uniongate(["cases", "reply", "1", "--text", "明天修好", "--database", database])
        #expect(reply.status == 0 && reply.output.contains("已答复"))
        let close = try await uniongate(["cases", "close", "1", "--database", database])
        #expect(close.status == 0 && close.output.contains("已办结"))
        let again = try await uniongate(["cases", "close", "1", "--database", database])
        #expect(again.status != 0 && again.output.contains("already closed"))
        let audit = try await uniongate(["audit", "--database", database])
        #expect(audit.output.contains("case.reply") && audit.output.contains("case.close"))
    }
}

@Suite("Media sent to the inbox")
struct InboxMediaTests {
    @Test func mediaIsDownloadedAtOnceAndAFailureIsRetried() async throws {
        try await withFakeWeChat { fake, base in
            let photo: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 7, count: 2_000)
            fake.addMedia("photo-1", bytes: photo, type: "image/jpeg")
            fake.addMedia("voice-1", bytes: [1, 2, 3, 4], type: "audio/amr")
            fake.script("/cgi-bin/media/get", [-1])  // busy: the voice's first try fails
            let directory = Scratch.folder.appendingPathComponent("media-\(UUID().uuidString)")
            let clock = TestClock(InboxTests.fridayAfternoon)
            try await withGateway(
                configure: { $0.mediaDirectory = directory.path }, clock: clock.read, wechatAPI: base
            ) { client, gateway in
                let member = Member()
                func media(_ kind: InboundMessage.Kind, _ id: UInt64) -> InboundMessage {
                    InboundMessage(
                        header: MessageHeader(account: "gh_union", sender: member.openid, createTime: 1, msgId: id),
                        kind: kind)
                }
                let ack = try await client.replyText(
                    media(.voice(VoiceMessage(mediaId: "voice-1", format: "amr")), 1))
                #expect(ack?.contains("LY-2026-000001") == true)
                _ = try await client.replyText(media(.image(ImageMessage(picURL: "http://x/p", mediaId: "photo-1")), 2))
                _ = try await client.replyText(media(.image(ImageMessage(picURL: "http://x/q", mediaId: "gone")), 3))
                let id = try #require(try await client.adminList("/admin/api/cases").first?["id"] as? Int)
                @Sendable func thread() async throws -> [[String: Any]] {
                    let result = try await client.admin("GET", "/admin/api/cases/\(id)")
                    let object = try JSONSerialization.jsonObject(with: Data(result.body.utf8)) as? [String: Any]
                    return object?["messages"] as? [[String: Any]] ?? []
                }
                // The photo arrives; the voice waits for its retry; the unknown one fails for good.
                try await waitUntil(timeout: .seconds(30)) {
                    let messages = try await thread()
                    return messages.count == 3 && messages[1]["mediaStatus"] as? String == "stored"
                        && messages[2]["mediaStatus"] as? String == "failed"
                }
                var messages = try await thread()
                #expect(messages[0]["mediaStatus"] as? String == "pending")
                #expect((messages[0]["mediaError"] as? String)?.contains("-1") == true)
                #expect((messages[2]["mediaError"] as? String)?.contains("40007") == true)
                let photoId = try #require(messages[1]["id"] as? Int)
                let served = try await client.admin("GET", "/admin/api/cases/\(id)/media/\(photoId)")
                #expect(served.status == 200 && served.contentType == "image/jpeg")
                let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                #expect(files.count == 1 && files[0].hasSuffix(".jpg") && files[0].count == 64 + 4)
                let stored = try Data(contentsOf: directory.appendingPathComponent(files[0]))
                #expect(Array(stored) == photo)

                // The retry comes after its pause.
                clock.advance(seconds: 60)
                try await waitUntil(timeout: .seconds(30)) {
                    (try await thread()).first?["mediaStatus"] as? String == "stored"
                }
                messages = try await thread()
                #expect(messages[0]["mediaType"] as? String == "audio/amr")
                #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).count == 2)
                _ = gateway
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }
}

@Suite("Submissions answered, and 我的申请")
struct SubmissionProgressTests {
    @Test func aSubmissionGetsAStatusAReplyAndANoticeAndTheMemberSeesEverything() async throws {
        let clock = TestClock(InboxTests.fridayAfternoon)
        try await withGateway(replies: formReplies, clock: clock.read) { client, gateway in
            let member = Member()
            #expect(try await client.replyText(member.text("我的申请"))?.contains("还没有办理过") == true)
            let submission = try await gateway.store.transaction { database in
                try await FormSubmissions.submit(
                    form: "维权咨询", prefix: "WQ", openid: member.openid, answers: ["problem": "工资拖欠三个月"],
                    messageKey: "fl", at: clock.read(), year: 2026, in: database)
            }
            _ = try await client.conversation(member, ["建议 食堂增加夜班供餐"])
            let path = "/admin/api/forms/维权咨询/submissions/\(submission.id)"
            let patched = try await client.admin("PATCH", path, json: #"{"status":"processing","reply":"已联系律师"}"#)
            #expect(patched.status == 200 && patched.body.contains(#""status":"processing""#))
            #expect(try await client.admin("PATCH", path, json: #"{"status":"lost"}"#).status == 400)
            #expect(
                try await client.admin(
                    "PATCH", "/admin/api/forms/维权咨询/submissions/999",
                    json: #"{"status":"done"}"#
                ).status == 404)
            let previews = try await client.adminList("/admin/api/outbox").compactMap { $0["preview"] as? String }
            #expect(previews.contains { $0.contains("职工维权咨询申请") && $0.contains("办理中") })
            let list = try #require(try await client.replyText(member.text("我的申请")))
            #expect(list.contains("【职工维权咨询申请】WQ-2026-000001 办理中（11月27日）"))
            #expect(list.contains("工会回复：已联系律师"))
            #expect(list.contains("【合理化建议】JY-2026-000001 已收到"))
            let audit = try await client.adminList("/admin/api/audit", query: ["action": "submission.update"])
            #expect(audit.first?["after"] as? [String: String] == ["status": "processing", "reply": "已联系律师"])
        }
    }
}

@Suite("Notices WeChat would not deliver (需电话通知)")
struct PhoneNoticeTests {
    @Test func heldNoticesAreListedWithThePhoneNumberToCall() async throws {
        try await withFakeWeChat { fake, base in
            // Every message is outside the window (a slow step's late reply, on a busy machine, too).
            fake.script("/cgi-bin/message/custom/send", Array(repeating: 45015, count: 20))
            try await withGateway(wechatAPI: base) { client, _ in
                let member = Member()
                _ = try await client.conversation(member, ["入会", "王小明", "13912345678", "2", "无", "确认"])
                let id = try #require(try await client.adminList("/admin/api/members").first?["id"] as? Int)
                #expect(try await client.admin("POST", "/admin/api/members/\(id)/approve").status == 200)
                try await waitUntil(timeout: .seconds(30)) {
                    let pending = (try? await client.adminList("/admin/api/notices/pending")) ?? []
                    return (pending.first?["notices"] as? [String])?.contains { $0.contains("审核通过") } == true
                }
                let pending = try await client.adminList("/admin/api/notices/pending")
                #expect(pending.count == 1)
                #expect(
                    pending.first?["name"] as? String == "王小明" && pending.first?["phone"] as? String == "13912345678")
                // Once the member writes, the notice is shown to them and leaves the list.
                #expect(try await client.replyText(member.text("帮助"))?.contains("审核通过") == true)
                #expect(try await client.adminList("/admin/api/notices/pending").isEmpty)
            }
        }
    }
}
