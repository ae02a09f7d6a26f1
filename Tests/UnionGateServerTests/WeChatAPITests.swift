import Foundation
import Logging
import Synchronization
import Testing
import UnionServices
import WeChatAPI
import WeChatWire

@testable import UnionGateServer

@Suite("Talking to WeChat's API")
struct WeChatAPITests {
    func openStore(_ path: String = ":memory:") async throws -> UnionStore {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await UnionStore.open(path: path, logger: logger)
    }

    func client(_ base: String, store: UnionStore, clock: @escaping @Sendable () -> Int64 = UnixTime.now)
        -> WeChatAPIClient
    {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var options = WeChatAPIClient.Options()
        options.backoff = .milliseconds(2)
        return WeChatAPIClient(
            baseURL: base, appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret,
            cache: StoreTokenCache(store: store),
            options: options, logger: logger, clock: clock)
    }

    func environment(_ base: String) -> [String: String] {
        ["WECHAT_APP_ID": FakeWeChatAPI.appId, "WECHAT_APP_SECRET": FakeWeChatAPI.secret, "WECHAT_API_BASE_URL": base]
    }

    @Test func twoProcessesShareOneTokenAndThePushedMenuMatchesReplies() async throws {
        try await withFakeWeChat { fake, base in
            let database = FileManager.default.temporaryDirectory.appendingPathComponent(
                "menu-\(UUID().uuidString).sqlite"
            ).path
            var env = environment(base)
            env["UNIONGATE_PUBLIC_URL"] = "https://union.example"
            let push = try runUniongate(
                ["menu", "push", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(push.status == 0, "\(push.output)")
            #expect(push.output.contains("菜单已发布"))
            let show = try runUniongate(
                ["menu", "show", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(show.status == 0, "\(show.output)")
            #expect(show.output.contains("与 Replies 里的菜单一致"))
            #expect(fake.tokensIssued == 1)
            #expect(fake.calls.allSatisfy { $0.token == "TOKEN-1" })

            let body = try #require(fake.calls(to: "/cgi-bin/menu/create").first?.body)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let buttons = try #require(object["button"] as? [[String: Any]])
            #expect(buttons.count == 3)
            #expect(buttons[0]["type"] as? String == "click" && buttons[0]["key"] as? String == "JOIN_UNION")
            let subs = try #require(buttons[1]["sub_button"] as? [[String: Any]])
            #expect(
                subs.map { $0["key"] as? String } == [
                    "SUBMIT_SUGGESTION", "MY_SUGGESTIONS", "CHECK_WELFARE", "JOIN_STATUS",
                ])
            // With a public address, 一键拨号 opens the hotline page.
            #expect(buttons[2]["type"] as? String == "view")
            #expect(buttons[2]["url"] as? String == "https://union.example/hotline")

            // Without one, it stays a click button: show reports the difference.
            env["UNIONGATE_PUBLIC_URL"] = ""
            let differs = try runUniongate(
                ["menu", "show", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(differs.output.contains("click DIAL_HOTLINE"), "\(differs.output)")
            let delete = try runUniongate(["menu", "delete", "--database", database], environment: env)
            #expect(delete.status == 0)
            #expect(fake.calls(to: "/cgi-bin/menu/delete").count == 1)
            #expect(fake.tokensIssued == 1)
        }
    }

    @Test func aBrokenMenuIsRefusedBeforeAnyCall() async throws {
        try await withFakeWeChat { fake, base in
            let replies = try temporaryReplies([
                "m.yaml":
                    "rules:\n  - { click: A, reply: a }\nmenu:\n  - { name: 这是一个非常长的按钮名称, click: A }\n  - { name: 坏, click: NOBODY }\n"
            ])
            let result = try runUniongate(["menu", "push", "--replies", replies], environment: environment(base))
            #expect(result.status == 1)
            #expect(result.output.contains("\(replies)/m.yaml:4: "), "\(result.output)")
            #expect(fake.calls.isEmpty)
            #expect(fake.tokensIssued == 0)
        }
    }

    @Test func theTokenIsRefreshedShortlyBeforeItExpires() async throws {
        try await withFakeWeChat { fake, base in
            let store = try await openStore()
            let now = Mutex<Int64>(1_800_000_000)
            let api = client(base, store: store, clock: { now.withLock { $0 } })
            try await api.sendCustomMessage(.text("一"), to: "o1")
            now.withLock { $0 += 6000 }  // still 1200 s left: reused without asking
            try await api.sendCustomMessage(.text("二"), to: "o1")
            #expect(fake.tokenRequests == 1)
            now.withLock { $0 += 1000 }  // 200 s left: inside the refresh margin, so it asks again
            try await api.sendCustomMessage(.text("三"), to: "o1")
            #expect(fake.tokenRequests == 2)
            now.withLock { $0 += 60 }  // the refreshed token is good for another two hours
            try await api.sendCustomMessage(.text("四"), to: "o1")
            #expect(fake.tokenRequests == 2)
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 4)
            await store.close()
        }
    }

    @Test func aRejectedTokenIsRefreshedOnceAndTheCallRetried() async throws {
        try await withFakeWeChat { fake, base in
            let store = try await openStore()
            let api = client(base, store: store)
            try await api.sendCustomMessage(.text("一"), to: "o1")
            fake.invalidateToken()
            try await api.sendCustomMessage(.text("二"), to: "o1")
            #expect(fake.tokensIssued == 2)
            let sends = fake.calls(to: "/cgi-bin/message/custom/send")
            #expect(sends.map(\.token) == ["TOKEN-1", "TOKEN-1", "TOKEN-2"])

            // Rejected again after the refresh: a typed error, not a loop.
            fake.script("/cgi-bin/message/custom/send", [42001, 42001])
            let error = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("三"), to: "o1")
            }
            #expect(error.code == 42001)
            await store.close()
        }
    }

    @Test func busyAnswersAreRetriedABoundedNumberOfTimes() async throws {
        try await withFakeWeChat { fake, base in
            let store = try await openStore()
            let api = client(base, store: store)
            fake.script("/cgi-bin/message/custom/send", [-1, -1])
            try await api.sendCustomMessage(.text("一"), to: "o1")
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 3)
            fake.script("/cgi-bin/message/custom/send", [-1, -1, -1, -1, -1])
            let error = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("二"), to: "o1")
            }
            #expect(error.isBusy)
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 7)  // 3 + 1 try + 3 retries
            fake.script("/cgi-bin/message/custom/send", [45009])
            let quota = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("三"), to: "o1")
            }
            #expect(quota.code == 45009)
            #expect(quota.message == "scripted error 45009")
            await store.close()
        }
    }

    @Test func customMessagesHaveWeChatsShape() throws {
        let text =
            try JSONSerialization.jsonObject(with: CustomMessageJSON.encode(.text("你好"), to: "o1")) as? [String: Any]
        #expect(text?["touser"] as? String == "o1")
        #expect(text?["msgtype"] as? String == "text")
        #expect((text?["text"] as? [String: String])?["content"] == "你好")
        let news =
            try JSONSerialization.jsonObject(
                with: CustomMessageJSON.encode(
                    .news([Article(title: "福利", description: "d", picURL: "https://p", url: "https://u")]), to: "o1"))
            as? [String: Any]
        let articles = (news?["news"] as? [String: Any])?["articles"] as? [[String: String]]
        #expect(articles == [["title": "福利", "description": "d", "url": "https://u", "picurl": "https://p"]])
        #expect(throws: WeChatAPIError.self) {
            try CustomMessageJSON.encode(.transferToCustomerService(agent: nil), to: "o1")
        }
    }

    @Test func aLateReplyAfterTheDeadlineReachesTheMember() async throws {
        try await withFakeWeChat { fake, base in
            let handler = GatedHandler(replies: [.text("迟到的回复")])
            try await withGateway(
                handler: handler, configure: { $0.replyDeadline = .milliseconds(150) }, wechatAPI: base
            ) { client, _ in
                let member = Member()
                #expect(try await client.post(member.text("入会"), mode: .safe).body == "success")
                await handler.gate.open()
                #expect(await eventually { !fake.calls(to: "/cgi-bin/message/custom/send").isEmpty })
                let sent = try #require(fake.calls(to: "/cgi-bin/message/custom/send").first)
                #expect(sent.body.contains(member.openid))
                #expect(sent.body.contains("迟到的回复"))
                #expect(
                    await eventually {
                        (try? await client.adminList("/admin/api/outbox").first?["status"] as? String) == "sent"
                    })
            }
        }
    }

    @Test func anApprovalNoticeIsSent() async throws {
        try await withFakeWeChat { fake, base in
            try await withGateway(wechatAPI: base) { client, _ in
                let member = Member()
                _ = try await client.conversation(member, ["入会", "张三", "13812345678", "1", "无", "确认"])
                let id = try #require(try await client.adminList("/admin/api/members").first?["id"] as? Int)
                #expect(try await client.admin("POST", "/admin/api/members/\(id)/approve").status == 200)
                #expect(await eventually { !fake.calls(to: "/cgi-bin/message/custom/send").isEmpty })
                let sent = try #require(fake.calls(to: "/cgi-bin/message/custom/send").first)
                #expect(sent.body.contains(member.openid) && sent.body.contains("审核通过"))
            }
        }
    }

    @Test func aNoticeOutsideThe48HourWindowIsShownNextTimeTheMemberWrites() async throws {
        try await withFakeWeChat { fake, base in
            fake.script("/cgi-bin/message/custom/send", [45015])
            try await withGateway(wechatAPI: base) { client, _ in
                let member = Member()
                _ = try await client.conversation(member, ["建议 厂区道路晚上太暗，建议增加路灯"])
                let id = try #require(try await client.adminList("/admin/api/suggestions").first?["id"] as? Int)
                _ = try await client.admin(
                    "PATCH", "/admin/api/suggestions/\(id)", json: #"{"status":"adopted","reply":"已安排"}"#)
                #expect(
                    await eventually {
                        (try? await client.adminList("/admin/api/outbox").first?["status"] as? String) == "held"
                    })
                #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 1)  // not retried
                let reply = try await client.replyText(member.text("帮助")) ?? ""
                #expect(reply.contains("已采纳") && reply.contains("已安排"))
                #expect(reply.contains("合理化建议"))  // then the help text itself
                let after = try await client.adminList("/admin/api/outbox")
                #expect(after.first?["status"] as? String == "sent")
                let again = try await client.replyText(member.text("帮助")) ?? ""
                #expect(!again.contains("已安排"))
            }
        }
    }

    @Test func aRestartSendsWhatTheOutboxHeld() async throws {
        try await withFakeWeChat { fake, base in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "outbox-\(UUID().uuidString).sqlite"
            ).path
            let store = try await openStore(path)
            try await store.transaction { database in
                try await Outbox.enqueue([.text("第一条"), .text("第二条")], to: "oA", reason: .notice, at: 1, in: database)
                try await Outbox.enqueue([.text("发送中断的一条")], to: "oB", reason: .notice, at: 1, in: database)
                try await database.raw("UPDATE outbox SET status = 'sending' WHERE openid = 'oB'").run()
            }
            await store.close()

            let reopened = try await openStore(path)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            var options = OutboxWorker.Options()
            options.backoffSeconds = 0
            let worker = OutboxWorker(
                store: reopened, sender: client(base, store: reopened), held: HeldNotices(), options: options,
                logger: logger)
            try await worker.recoverInterrupted()
            #expect(try await worker.runOnce() == 3)
            let bodies = fake.calls(to: "/cgi-bin/message/custom/send").map(\.body)
            #expect(bodies.count == 3)
            #expect(bodies.contains { $0.contains("第一条") } && bodies.contains { $0.contains("发送中断的一条") })
            let statuses = try await reopened.read { try await Outbox.list(in: $0).map(\.status) }
            #expect(statuses == [.sent, .sent, .sent])
            #expect(try await worker.runOnce() == 0)  // nothing is sent twice
            await reopened.close()
        }
    }
}
