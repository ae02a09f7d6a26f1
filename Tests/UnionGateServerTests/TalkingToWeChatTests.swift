import Foundation
import Logging
import Synchronization
import Testing
import UnionServices
import WeChatAPI
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

@Suite("The gateway talking to WeChat's API")
struct TalkingToWeChatTests {
    func environment(_ base: String) -> [String: String] {
        [
            "WECHAT_APP_ID": FakeWeChatAPI.appId, "WECHAT_APP_SECRET": FakeWeChatAPI.secret,
            "WECHAT_API_BASE_URL": base, "WECHAT_API_ALLOW_HTTP": "1",
        ]
    }

    @Test func twoProcessesShareOneTokenAndThePushedMenuMatchesReplies() async throws {
        try await withFakeWeChat { fake, base in
            let database = Scratch.folder.appendingPathComponent(
                "menu-\(UUID().uuidString).sqlite"
            ).path
            var env = environment(base)
            env["UNIONGATE_PUBLIC_URL"] = "https://union.example"
            let push = try await uniongate(
                ["menu", "push", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(push.status == 0, "\(push.output)")
            #expect(push.output.contains("菜单已发布"))
            let show = try await uniongate(
                ["menu", "show", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(show.status == 0, "\(show.output)")
            #expect(show.output.contains("与 Replies 里的菜单一致"))
            #expect(fake.tokensIssued == 1)
            #expect(fake.calls.allSatisfy { $0.token == "TOKEN-1" })
            let audit = try await uniongate(["audit", "--database", database])
            #expect(audit.output.contains("menu.push") && audit.output.contains("cli"))

            let body = try #require(fake.calls(to: "/cgi-bin/menu/create").first?.body)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let buttons = try #require(object["button"] as? [[String: Any]])
            #expect(buttons.count == 3)
            #expect(buttons[0]["type"] as? String == "click" && buttons[0]["key"] as? String == "JOIN_UNION")
            let subs = try #require(buttons[1]["sub_button"] as? [[String: Any]])
            #expect(
                subs.map { $0["key"] as? String } == [
                    "SUBMIT_SUGGESTION", "MY_SUGGESTIONS", "CHECK_WELFARE", "JOIN_STATUS", "MEMBER_CENTER",
                ])
            // With a public address, 一键拨号 opens the hotline page.
            #expect(buttons[2]["type"] as? String == "view")
            #expect(buttons[2]["url"] as? String == "https://union.example/hotline")

            // Without one, it stays a click button: show reports the difference.
            env["UNIONGATE_PUBLIC_URL"] = ""
            let differs = try await uniongate(
                ["menu", "show", "--replies", shippedReplies, "--database", database], environment: env)
            #expect(differs.output.contains("click DIAL_HOTLINE"), "\(differs.output)")
            let delete = try await uniongate(["menu", "delete", "--database", database], environment: env)
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
            let result = try await uniongate(["menu", "push", "--replies", replies], environment: environment(base))
            #expect(result.status == 1)
            #expect(result.output.contains("\(replies)/m.yaml:4: "), "\(result.output)")
            #expect(fake.calls.isEmpty)
            #expect(fake.tokensIssued == 0)
        }
    }

    @Test func aLateReplyAfterTheDeadlineReachesTheMember() async throws {
        try await withFakeWeChat { fake, base in
            let handler = GatedHandler(replies: [.text("迟到的回复")])
            let clock = ManualClock()
            try await withGateway(handler: handler, ledgerClock: clock, wechatAPI: base) { client, _ in
                let member = Member()
                async let posted = client.post(member.text("入会"), mode: .safe)
                var started = handler.started.makeAsyncIterator()
                _ = await started.next()
                try await waitUntil(timeout: .seconds(30)) { clock.sleeping == 1 }
                clock.advance(by: .seconds(5))
                #expect(try await posted.body == "success")
                await handler.gate.open()
                try await waitUntil(timeout: .seconds(30)) { !fake.calls(to: "/cgi-bin/message/custom/send").isEmpty }
                let sent = try #require(fake.calls(to: "/cgi-bin/message/custom/send").first)
                #expect(sent.body.contains(member.openid))
                #expect(sent.body.contains("迟到的回复"))
                try await waitUntil(timeout: .seconds(30)) {
                    (try? await client.adminList("/admin/api/outbox").first?["status"] as? String) == "sent"
                }
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
                // (On a busy machine a slow step of the conversation may have gone out late too.)
                try await waitUntil(timeout: .seconds(30)) {
                    fake.calls(to: "/cgi-bin/message/custom/send").contains {
                        $0.body.contains(member.openid) && $0.body.contains("审核通过")
                    }
                }
            }
        }
    }

    @Test func aNoticeOutsideThe48HourWindowIsShownNextTimeTheMemberWrites() async throws {
        try await withFakeWeChat { fake, base in
            // The harness's generous reply deadline matters here: a slow step answered late would
            // be one more row in the outbox.
            try await withGateway(wechatAPI: base) { client, _ in
                let member = Member()
                _ = try await client.conversation(member, ["建议 厂区道路晚上太暗，建议增加路灯"])
                // The member's 48-hour window closes (whatever else went out before).
                fake.closeWindow(member.openid)
                let id = try #require(try await client.adminList("/admin/api/suggestions").first?["id"] as? Int)
                _ = try await client.admin(
                    "PATCH", "/admin/api/suggestions/\(id)", json: #"{"status":"adopted","reply":"已安排"}"#)
                try await waitUntil(timeout: .seconds(30)) {
                    (try? await client.adminList("/admin/api/outbox").first?["status"] as? String) == "held"
                }
                let tries = fake.calls(to: "/cgi-bin/message/custom/send").filter { $0.body.contains("已采纳") }
                #expect(tries.count == 1)  // not retried
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
}
