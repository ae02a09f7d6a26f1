import Foundation
import Logging
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

@Suite("Union services end to end over HTTP")
struct ServicesTests {
    @Test(arguments: [WireMode.plain, WireMode.safe])
    func aMemberJoinsTheUnionInAChat(mode: WireMode) async throws {
        try await withGateway { client, _ in
            let member = Member()
            let replies = try await client.conversation(
                member, ["入会", "张三", "13812345678", "2", "A1024", "确认", "入会进度"], mode: mode)
            #expect(replies[0].contains("姓名"))
            #expect(replies[1].contains("手机号"))
            #expect(replies[2].contains("1. 生产一部"))
            #expect(replies[3].contains("工号"))
            #expect(replies[4].contains("请核对") && replies[4].contains("生产二部") && replies[4].contains("A1024"))
            #expect(replies[5].contains("入会申请已提交"))
            let number = try #require(replies[5].firstMatch(of: /RH-\d{4}-\d{6}/)).output
            #expect(replies[6].contains("审核中") && replies[6].contains(String(number)))

            let members = try await client.adminList("/admin/api/members")
            #expect(members.count == 1)
            #expect(members.first?["number"] as? String == String(number))
            #expect(members.first?["name"] as? String == "张三")
            #expect(members.first?["phone"] as? String == "13812345678")
            #expect(members.first?["unit"] as? String == "生产二部")
            #expect(members.first?["status"] as? String == "pending")
            #expect(members.first?["openid"] as? String == member.openid)
            #expect((members.first?["fields"] as? [String: String])?["employee_id"] == "A1024")
            #expect((members.first?["createdAt"] as? String)?.hasSuffix("Z") == true)

            // Asking to join again shows the status instead of a second form.
            let again = try await client.replyText(member.text("入会"), mode: mode)
            #expect(again?.contains("审核中") == true)
        }
    }

    @Test func aWrongAnswerIsExplainedAskedAgainAndNeverStored() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let replies = try await client.conversation(
                member, ["入会", "张三", "1234", "23812345678", "+86 138-1234-5678", "生产三部", "物流中心"])
            #expect(replies[2].contains("11 位") && replies[2].contains("手机号"))
            #expect(replies[3].contains("11 位"))
            #expect(replies[4].contains("单位/部门"))
            #expect(replies[5].contains("不在选项里") && replies[5].contains("单位/部门"))
            #expect(replies[6].contains("工号"))
            #expect(try await client.adminList("/admin/api/members").isEmpty)
        }
    }

    @Test func cancellingStoresNothing() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let replies = try await client.conversation(member, ["入会", "张三", "13812345678", "取消", "入会进度"])
            #expect(replies[3].contains("已取消"))
            #expect(replies[4].contains("还没有提交"))
            #expect(try await client.adminList("/admin/api/members").isEmpty)
            // After cancelling, messages go to the rules again.
            #expect((try await client.replyText(member.text("帮助")) ?? "").contains("合理化建议"))
        }
    }

    @Test func aRestartMidFormResumesWhereTheMemberWas() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "restart-\(UUID().uuidString).sqlite"
        ).path
        let member = Member()
        try await withGateway(configure: { $0.databasePath = database }) { client, _ in
            let replies = try await client.conversation(member, ["入会", "张三"])
            #expect(replies[1].contains("手机号"))
        }
        try await withGateway(configure: { $0.databasePath = database }) { client, _ in
            let replies = try await client.conversation(member, ["13812345678"])
            #expect(replies[0].contains("单位/部门"))
        }
    }

    @Test func anIdleFormExpiresWithANote() async throws {
        let clock = TestClock()
        try await withGateway(clock: clock.read) { client, _ in
            let member = Member()
            _ = try await client.conversation(member, ["入会", "张三"])
            clock.advance(seconds: 31 * 60)
            let reply = try await client.replyText(member.text("13812345678"))
            #expect(reply?.contains("已自动取消") == true)
            #expect(reply?.contains("已转给工会工作人员") == true)  // then the inbox takes the message
            #expect((try await client.replyText(member.text("入会进度")) ?? "").contains("还没有提交"))
        }
    }

    @Test func aSuggestionRetriedByWeChatIsStoredOnce() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "retry-\(UUID().uuidString).sqlite"
        ).path
        let member = Member()
        let message = member.text("建议：夜班食堂增加热饭供应")
        let first = try await withGatewayResult(database: database) { client in
            try await client.post(message, mode: .safe)
        }
        let receipt = try #require(
            try SimulatedWeChat(token: testToken, cipher: MessageCipher(encodingAESKey: testKey, appId: testAppId))
                .openReply(first.body))
        guard case .text(let text) = receipt.body else {
            Issue.record("expected text")
            return
        }
        #expect(text.contains("JY-"))
        // The same message again in this process, and again after a restart (new ledger, same file).
        let retry = try await withGatewayResult(database: database) { client in
            let again = try await client.send(message, mode: .plain)
            let list = try await client.adminList("/admin/api/suggestions")
            return (again, list.count, list.first?["content"] as? String, list.first?["status"] as? String)
        }
        #expect(retry.0?.body == .text(text))
        #expect(retry.1 == 1)
        #expect(retry.2 == "夜班食堂增加热饭供应")
        #expect(retry.3 == "received")
    }

    @Test func mySuggestionsListsThemWithStatusAndReply() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let replies = try await client.conversation(member, ["我的建议", "建议", "厂区道路晚上太暗，建议增加路灯", "建议 好"])
            #expect(replies[0].contains("还没有提交过"))
            #expect(replies[1].contains("建议内容"))
            #expect(replies[2].contains("JY-"))
            #expect(replies[3].contains("太短"))
            let list = try await client.adminList("/admin/api/suggestions")
            let id = try #require(list.first?["id"] as? Int)
            let patched = try await client.admin(
                "PATCH", "/admin/api/suggestions/\(id)", json: #"{"status":"adopted","reply":"已安排后勤处理"}"#)
            #expect(patched.status == 200)
            #expect(patched.body.contains("\"status\":\"adopted\""))
            let mine = try await client.replyText(member.text("我的建议"))
            #expect(mine?.contains("已采纳") == true)
            #expect(mine?.contains("已安排后勤处理") == true)
            let bad = try await client.admin("PATCH", "/admin/api/suggestions/\(id)", json: #"{"status":"done"}"#)
            #expect(bad.status == 400)
            #expect(
                try await client.admin("PATCH", "/admin/api/suggestions/999999", json: #"{"status":"adopted"}"#).status
                    == 404)
        }
    }

    @Test func welfareForMembersAndNonMembers() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let before = try #require(try await client.send(member.text("福利")))
            guard case .news(let cards) = before.body else {
                Issue.record("expected a card, got \(before.body)")
                return
            }
            #expect(cards.count == 1)
            #expect(cards[0].title == "职工互助保障")  // the members-only shop is not shown
            #expect(cards[0].description.contains("仅限工会会员"))

            _ = try await client.conversation(member, ["入会", "张三", "13812345678", "1", "无", "确认"])
            let id = try #require(try await client.adminList("/admin/api/members").first?["id"] as? Int)
            #expect(try await client.admin("POST", "/admin/api/members/\(id)/approve").status == 200)

            let after = try #require(try await client.send(member.text("福利")))
            guard case .news(let memberCards) = after.body else {
                Issue.record("expected a card")
                return
            }
            #expect(memberCards[0].title == "福利商城")
            #expect(!memberCards[0].description.contains("仅限工会会员"))
            let menu = try #require(try await client.send(member.event(.click(key: "CHECK_WELFARE"))))
            guard case .news(let all) = menu.body else {
                Issue.record("expected cards")
                return
            }
            #expect(all.map(\.title) == ["福利商城", "职工互助保障", "困难职工帮扶", "疗休养"])
        }
    }

    @Test func approvalQueuesTheNoticeAndRejectionNeedsAReason() async throws {
        try await withGateway { client, _ in
            let member = Member()
            _ = try await client.conversation(member, ["入会", "张三", "13812345678", "1", "无", "确认"])
            let other = Member()
            _ = try await client.conversation(other, ["入会", "李四", "13912345678", "3", "无", "确认"])
            let pending = try await client.adminList("/admin/api/members", query: ["status": "pending"])
            #expect(pending.count == 2)
            let zhang = try #require(pending.first { $0["name"] as? String == "张三" }?["id"] as? Int)
            let li = try #require(pending.first { $0["name"] as? String == "李四" }?["id"] as? Int)

            let approved = try await client.admin("POST", "/admin/api/members/\(zhang)/approve")
            #expect(approved.status == 200)
            #expect(approved.body.contains("\"status\":\"approved\""))
            #expect(try await client.admin("POST", "/admin/api/members/\(zhang)/approve").status == 409)
            #expect(try await client.admin("POST", "/admin/api/members/\(li)/reject", json: "{}").status == 400)
            #expect(
                try await client.admin("POST", "/admin/api/members/\(li)/reject", json: #"{"reason":"非本单位职工"}"#).status
                    == 200)
            #expect(try await client.admin("POST", "/admin/api/members/424242/approve").status == 404)

            let outbox = try await client.adminList("/admin/api/outbox")
            #expect(outbox.count == 2)
            let notices = outbox.map {
                ($0["openid"] as? String ?? "", $0["preview"] as? String ?? "", $0["status"] as? String ?? "")
            }
            #expect(notices.contains { $0.0 == member.openid && $0.1.contains("审核通过") && $0.2 == "queued" })
            #expect(notices.contains { $0.0 == other.openid && $0.1.contains("非本单位职工") })
            #expect(try await client.adminList("/admin/api/outbox", query: ["status": "queued"]).count == 2)
            #expect(try await client.adminList("/admin/api/outbox", query: ["status": "sent"]).isEmpty)
            let unknown = try await client.admin("GET", "/admin/api/outbox", query: ["status": "lost"])
            #expect(unknown.status == 400)
            #expect(unknown.body.contains("queued, sending, sent, failed, held"))

            #expect((try await client.replyText(member.text("入会进度")) ?? "").contains("已是工会会员"))
            #expect((try await client.replyText(other.text("入会进度")) ?? "").contains("非本单位职工"))
            #expect(try await client.adminList("/admin/api/members", query: ["status": "approved"]).count == 1)
            #expect(try await client.admin("GET", "/admin/api/members", query: ["status": "odd"]).status == 400)
        }
    }

    @Test func anAdminDefinedFormIsFilledStoredAndExported() async throws {
        try await withGateway(replies: formReplies) { client, _ in
            let member = Member()
            let replies = try await client.conversation(
                member,
                [
                    "维权咨询", "李四", "139 1234 5678", "3", "上个月在车间受伤，单位不给认定工伤", "修改", "李四", "13912345678", "工伤认定",
                    "单位不给认定工伤，想咨询", "确认",
                ])
            #expect(replies[0].contains("职工维权咨询申请"))
            #expect(replies[3].contains("简要说明"))
            #expect(replies[4].contains("请核对"))
            #expect(replies[5].contains("重新填写"))
            #expect(replies[10].contains("WQ-") && replies[10].contains("3 个工作日"))

            let submissions = try await client.adminList("/admin/api/forms/维权咨询/submissions")
            #expect(submissions.count == 1)
            let answers = try #require(submissions.first?["answers"] as? [String: String])
            #expect(answers == ["name": "李四", "phone": "13912345678", "kind": "工伤认定", "detail": "单位不给认定工伤，想咨询"])

            let csv = try await client.admin("GET", "/admin/api/forms/维权咨询/submissions", query: ["format": "csv"])
            #expect(csv.status == 200)
            #expect(csv.contentType?.hasPrefix("text/csv") == true)
            #expect(csv.body.hasPrefix("\u{FEFF}编号,姓名,联系电话,问题类型,简要说明,相关材料照片,提交时间,openid\r\n"))
            #expect(csv.body.contains("13912345678"))
        }
    }

    @Test func theAdminAPINeedsTheToken() async throws {
        try await withGateway { client, _ in
            for path in [
                "/admin/api/members", "/admin/api/suggestions", "/admin/api/forms/维权咨询/submissions",
                "/admin/api/outbox",
            ] {
                let missing = try await client.admin("GET", path, token: nil)
                let wrong = try await client.admin("GET", path, token: "wrong")
                let padded = try await client.admin("GET", path, token: testAdminToken + "2")
                let right = try await client.admin("GET", path)
                #expect([missing.status, wrong.status, padded.status, right.status] == [Int]([401, 401, 401, 200]))
            }
            let unauthorised = try await client.admin("POST", "/admin/api/members/1/approve", token: nil)
            #expect(unauthorised.status == 401)
        }
    }

    @Test func membersAndSuggestionsExportAsCSVForExcel() async throws {
        try await withGateway { client, _ in
            let member = Member()
            _ = try await client.conversation(member, ["入会", "张三", "13812345678", "1", "无", "确认", "建议 =SUM(A1) 食堂加菜"])
            let members = try await client.admin("GET", "/admin/api/members", query: ["format": "csv"])
            #expect(members.body.hasPrefix("\u{FEFF}编号,姓名,手机号,单位/部门,状态,原因,申请时间,审核时间,openid"))
            #expect(members.body.contains(",张三,13812345678,生产一部,审核中,"))
            let suggestions = try await client.admin("GET", "/admin/api/suggestions", query: ["format": "csv"])
            #expect(suggestions.body.contains("'=SUM(A1) 食堂加菜"))  // a formula is defused for Excel
        }
    }

    @Test func theHotlinePageHasATelButtonPerNumber() async throws {
        try await withGateway(configure: { $0.publicURL = "https://union.example" }) { client, _ in
            let page = try await client.request("GET", "/hotline")
            #expect(page.status == 200)
            #expect(page.contentType?.hasPrefix("text/html") == true)
            #expect(page.body.contains("<a class=\"call\" href=\"tel:12351\">"))
            #expect(page.body.contains("name=\"viewport\""))
            #expect(!page.body.contains("src=\"http"))  // no external assets
            #expect(!page.body.contains("待填写"))
            let text = try await client.replyText(Member().text("热线"))
            #expect(text?.contains("\n12351") == true)  // the number on a line of its own
            #expect(text?.contains("https://union.example/hotline") == true)
        }
    }

    @Test func askingForTheHotlineMidFormAnswersAndRepeatsTheQuestion() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let replies = try await client.conversation(member, ["入会", "张三", "电话", "帮助"])
            #expect(replies[2].contains("12351") && replies[2].contains("手机号"))
            #expect(replies[3].contains("您正在填写") && replies[3].contains("手机号"))
            let image = InboundMessage(
                header: MessageHeader(account: "gh_union", sender: member.openid, createTime: 1, msgId: 77),
                kind: .image(ImageMessage(picURL: "p", mediaId: "m")))
            #expect((try await client.replyText(image) ?? "").contains("请用文字回复"))
        }
    }
}

/// Runs a gateway on `database`, returns what `body` returns.
func withGatewayResult<Value: Sendable>(
    database: String, _ body: @escaping @Sendable (WeChatClient) async throws -> Value
) async throws -> Value {
    let box = ResultBox<Value>()
    try await withGateway(configure: { $0.databasePath = database }) { client, _ in
        box.set(try await body(client))
    }
    return try #require(box.value)
}

final class ResultBox<Value: Sendable>: Sendable {
    private let storage = Mutex<Value?>(nil)
    func set(_ value: Value) { storage.withLock { $0 = value } }
    var value: Value? { storage.withLock { $0 } }
}

@Suite("Admin API details")
struct AdminDetailTests {
    @Test func csvFileNamesAreSafeAndKeepTheChineseNameInRFC5987() {
        let header = AdminRoutes.contentDisposition("form-法律援助.csv")
        #expect(
            header
                == "attachment; filename=\"form-____.csv\"; filename*=UTF-8''form-%E6%B3%95%E5%BE%8B%E6%8F%B4%E5%8A%A9.csv"
        )
        // Quotes, slashes and line breaks never reach the header.
        let hostile = AdminRoutes.contentDisposition("a\"b/c\r\nd.csv")
        #expect(!hostile.contains("\r") && !hostile.contains("\n"))
        #expect(hostile.hasPrefix("attachment; filename=\"a_b_c__d.csv\"; filename*=UTF-8''a%22b%2Fc%0D%0Ad.csv"))
    }
}

@Suite("Start-up checks and message identities")
struct HardeningTests {
    @Test func aShortAdminTokenIsRefusedAtStart() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await withGateway(configure: { $0.adminToken = "short-token" }) { _, _ in }
        }
        #expect(error?.message.contains("at least 32") == true)
    }

    /// The ledger's key used to hash only the MsgId and the sender's last 8 bytes, so crafted
    /// senders could pile into one bucket. Identities are now hashed whole with a seeded hasher.
    @Test func craftedSendersSharingTheOldHashGetDistinctDigests() {
        let identities = (0..<20_000).map { index in
            MessageKey.identity(
                of: InboundMessage(
                    header: MessageHeader(
                        account: "gh_union", sender: "o\(index)-SAMETAIL", createTime: 1, msgId: 42),
                    kind: .text(TextMessage(content: "x"))))
        }
        #expect(Set(identities.map(\.digest)).count == identities.count)
        #expect(Set(identities).count == identities.count)
    }
}
