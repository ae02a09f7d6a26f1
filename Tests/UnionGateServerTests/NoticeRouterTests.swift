import Foundation
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

/// The shipped Replies with a `notices.yaml` that configures templates.
func repliesWithNotices(_ notices: String) throws -> String {
    var files: [String: String] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: shippedReplies) where name.hasSuffix(".yaml") {
        files[name] = try String(contentsOfFile: shippedReplies + "/" + name, encoding: .utf8)
    }
    files["notices.yaml"] = notices
    return try temporaryReplies(files)
}

@Suite("Notices by the first channel WeChat allows")
struct NoticeRouterTests {
    static let notices = """
        notices:
          membership:
            subscription:
              template_id: tplJoinSub
              page: https://union.example.cn/join
              data:
                character_string1: "{number}"
                phrase2: "{result}"
                time3: "{date}"
            template:
              template_id: tplJoinTpl
              data:
                keyword1: "{number}"
                keyword2: "{result}"
          case_reply:
            template:
              template_id: tplReply
              data:
                keyword1: "{number}"
                keyword2: "{reply}"
          case_closed:
            template:
              template_id: tplGone
              data:
                keyword1: "{number}"
        """

    /// The outbox rows of notices, by member.
    static func notices(_ client: WeChatClient) async throws -> [[String: Any]] {
        try await client.adminList("/admin/api/outbox").filter { $0["noticeKind"] is String }
    }

    static func notice(_ client: WeChatClient, of openid: String, kind: String) async throws -> [String: Any]? {
        try await notices(client).first { $0["openid"] as? String == openid && $0["noticeKind"] as? String == kind }
    }

    /// Waits until the member's notice of `kind` has reached `status`, and returns it.
    static func settled(_ client: WeChatClient, _ openid: String, _ kind: String, status: String = "sent")
        async throws -> [String: Any]
    {
        let reached =
            (try? await waitUntil(timeout: .seconds(30)) {
                (try? await notice(client, of: openid, kind: kind))?["status"] as? String == status
            }) != nil
        let row = try await notice(client, of: openid, kind: kind)
        #expect(reached, "\(openid) \(kind): \(String(describing: row))")
        return row ?? [:]
    }

    static func join(_ client: WeChatClient, _ member: Member, name: String) async throws -> Int {
        _ = try await client.conversation(member, ["入会", name, "13912345678", "2", "无", "确认"])
        let members = try await client.adminList("/admin/api/members")
        return try #require(members.first { $0["openid"] as? String == member.openid }?["id"] as? Int)
    }

    static func body(_ call: FakeWeChatAPI.Call) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(call.body.utf8))) as? [String: Any] ?? [:]
    }

    @Test func eachChannelInTurnAndWhyTheEarlierOnesDidNot() async throws {
        let replies = try repliesWithNotices(Self.notices)
        try await withFakeWeChat { fake, base in
            fake.addTemplate("tplJoinTpl")
            fake.addTemplate("tplReply")
            try await withGateway(replies: replies, wechatAPI: base) { client, gateway in
                // A accepted the subscription in WeChat's pop-up: the approval goes by subscription.
                let a = Member()
                let popup = a.event(
                    .subscriptionChoices(
                        changed: false,
                        choices: [SubscriptionChoice(templateId: "tplJoinSub", status: "accept", popupScene: "0")]))
                #expect(try await client.send(popup) == nil)  // recorded, answered with nothing
                #expect(try await client.send(popup) == nil)  // WeChat's retry changes nothing
                fake.acceptSubscription(a.openid, template: "tplJoinSub")
                let aId = try await Self.join(client, a, name: "张甲")
                #expect(try await client.admin("POST", "/admin/api/members/\(aId)/approve").status == 200)
                let aRow = try await Self.settled(client, a.openid, "membership")
                #expect(aRow["channel"] as? String == "subscription")
                let sent = try #require(
                    fake.calls(to: "/cgi-bin/message/subscribe/bizsend").map(Self.body).first {
                        $0["touser"] as? String == a.openid
                    })
                #expect(
                    sent["template_id"] as? String == "tplJoinSub"
                        && sent["page"] as? String == "https://union.example.cn/join")
                let data = try #require(sent["data"] as? [String: [String: String]])
                #expect(data["phrase2"]?["value"] == "已通过")
                #expect(data["character_string1"]?["value"]?.hasPrefix("RH-") == true)
                #expect(data["time3"]?["value"]?.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil)
                // No customer-service message for A's approval.
                #expect(
                    !fake.calls(to: "/cgi-bin/message/custom/send").contains {
                        $0.body.contains(a.openid) && $0.body.contains("审核通过")
                    })
                // WeChat reports it delivered.
                let report = a.event(
                    .subscriptionSent(results: [
                        SubscriptionSendResult(
                            templateId: "tplJoinSub", msgId: "\(aRow["id"] ?? 0)99", errorCode: 0,
                            errorStatus: "success")
                    ]))
                #expect(try await client.send(report) == nil)
                #expect(
                    try await Self.notice(client, of: a.openid, kind: "membership")?["delivery"] as? String == "success"
                )

                // B never accepted: a template message, with the reason the subscription was skipped.
                let b = Member()
                let bId = try await Self.join(client, b, name: "李乙")
                #expect(try await client.admin("POST", "/admin/api/members/\(bId)/approve").status == 200)
                let bRow = try await Self.settled(client, b.openid, "membership")
                #expect(bRow["channel"] as? String == "template")
                #expect((bRow["channelNote"] as? String)?.contains("职工未订阅此模板") == true)
                // WeChat then reports the template message undelivered: the customer-service message follows.
                let templateCall = try #require(
                    fake.calls(to: "/cgi-bin/message/template/send").first { $0.body.contains(b.openid) })
                #expect(templateCall.body.contains("tplJoinTpl"))
                let stored = try await gateway.store.read { database in
                    try await database.select().column("wechat_msg_id").from("outbox")
                        .where("openid", .equal, b.openid).where("notice_kind", .equal, "membership")
                        .first(decodingColumn: "wechat_msg_id", as: String.self)
                }
                let msgId = try #require(stored.flatMap { UInt64($0) })
                _ = try await client.send(b.event(.templateSendJobFinished(msgId: msgId, status: "failed:user block")))
                let bFinal = try await Self.settled(client, b.openid, "membership")
                try await waitUntil(timeout: .seconds(30)) {
                    (try? await Self.notice(client, of: b.openid, kind: "membership"))?["channel"] as? String
                        == "custom"
                }
                let bNote = try await Self.notice(client, of: b.openid, kind: "membership")?["channelNote"] as? String
                #expect(bNote?.contains("模板消息未送达（failed:user block）") == true, "\(bFinal)")
                #expect(
                    fake.calls(to: "/cgi-bin/message/custom/send").contains {
                        $0.body.contains(b.openid) && $0.body.contains("审核通过")
                    })

                // C accepted once, but the acceptance is spent (43101): the template message
                // instead, and C's subscription is not tried again.
                let c = Member()
                _ = try await client.send(
                    c.event(
                        .subscriptionChoices(
                            changed: false, choices: [SubscriptionChoice(templateId: "tplJoinSub", status: "accept")])))
                let cId = try await Self.join(client, c, name: "王丙")
                #expect(
                    try await client.admin("POST", "/admin/api/members/\(cId)/reject", json: #"{"reason":"单位信息不全"}"#)
                        .status == 200)
                let cRow = try await Self.settled(client, c.openid, "membership")
                #expect(cRow["channel"] as? String == "template")
                #expect((cRow["channelNote"] as? String)?.contains("43101") == true)
                let cTemplate = try #require(
                    fake.calls(to: "/cgi-bin/message/template/send").map(Self.body).first {
                        $0["touser"] as? String == c.openid
                    })
                #expect((cTemplate["data"] as? [String: [String: String]])?["keyword2"]?["value"] == "未通过")
                let cStatus = try await gateway.store.read { database in
                    try await NoticeReports.subscription(c.openid, template: "tplJoinSub", in: database)
                }
                #expect(cStatus == "used")

                // D's case is answered at length, over several lines: the template's field is cut
                // to WeChat's 20 characters on one line (the fake refuses anything else with 47003).
                let d = Member()
                _ = try await client.replyText(d.text("食堂的饭菜涨价了，能不能反映一下"))
                let cases = try await client.adminList("/admin/api/cases")
                let dCase = try #require(cases.first { $0["openid"] as? String == d.openid }?["id"] as? Int)
                let answer = #"{"text":"已向公司后勤反映。\n下周起恢复原价，\n并增加两个窗口。如仍有问题请再留言，我们跟进到底。"}"#
                #expect(try await client.admin("POST", "/admin/api/cases/\(dCase)/reply", json: answer).status == 200)
                let dRow = try await Self.settled(client, d.openid, "case_reply")
                #expect(dRow["channel"] as? String == "template")
                let dTemplate = try #require(
                    fake.calls(to: "/cgi-bin/message/template/send").map(Self.body).first {
                        $0["touser"] as? String == d.openid
                    })
                let field = try #require((dTemplate["data"] as? [String: [String: String]])?["keyword2"]?["value"])
                #expect(field == "已向公司后勤反映。 下周起恢复原价， …" && field.count == 20)
                // Closing it: the account lacks that template (40037), so a customer-service message.
                #expect(try await client.admin("POST", "/admin/api/cases/\(dCase)/close").status == 200)
                let dClosed = try await Self.settled(client, d.openid, "case_closed")
                #expect(dClosed["channel"] as? String == "custom")
                #expect((dClosed["channelNote"] as? String)?.contains("模板 ID 无效（40037）") == true)

                // E is outside the 48-hour window too: nothing reaches them; staff see why and call.
                let e = Member()
                _ = try await client.replyText(e.text("工资条看不懂，想咨询"))
                let eCase = try #require(
                    try await client.adminList("/admin/api/cases").first { $0["openid"] as? String == e.openid }?["id"]
                        as? Int)
                fake.closeWindow(e.openid)
                #expect(try await client.admin("POST", "/admin/api/cases/\(eCase)/close").status == 200)
                let eRow = try await Self.settled(client, e.openid, "case_closed", status: "held")
                #expect(eRow["channel"] == nil || eRow["channel"] is NSNull)
                let eNote = try #require(eRow["channelNote"] as? String)
                #expect(eNote.contains("40037") && eNote.contains("超出 48 小时互动窗口（45015）"))
                let pending = try await client.adminList("/admin/api/notices/pending")
                let ePending = try #require(pending.first { $0["openid"] as? String == e.openid })
                #expect((ePending["why"] as? [String])?.first == eNote)
                // E writes again: the notice is shown in the reply, and recorded as such.
                #expect(try await client.replyText(e.text("帮助"))?.contains("已办结") == true)
                #expect(
                    try await Self.notice(client, of: e.openid, kind: "case_closed")?["channel"] as? String == "reply")
            }
        }
    }

    @Test func withoutNoticesYamlEveryNoticeIsACustomerServiceMessage() async throws {
        try await withFakeWeChat { fake, base in
            fake.addTemplate("tplJoinTpl")
            try await withGateway(wechatAPI: base) { client, _ in
                let member = Member()
                _ = try await client.send(
                    member.event(
                        .subscriptionChoices(
                            changed: false, choices: [SubscriptionChoice(templateId: "tplJoinSub", status: "accept")])))
                fake.acceptSubscription(member.openid, template: "tplJoinSub")
                let id = try await Self.join(client, member, name: "赵丁")
                #expect(try await client.admin("POST", "/admin/api/members/\(id)/approve").status == 200)
                let row = try await Self.settled(client, member.openid, "membership")
                #expect(row["channel"] as? String == "custom")
                #expect(row["channelNote"] == nil || row["channelNote"] is NSNull)
                #expect(fake.calls(to: "/cgi-bin/message/subscribe/bizsend").isEmpty)
                #expect(fake.calls(to: "/cgi-bin/message/template/send").isEmpty)
            }
        }
    }
}
