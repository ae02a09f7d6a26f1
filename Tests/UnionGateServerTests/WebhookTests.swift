import Foundation
import ReplyRules
import Testing
import UnionServices
import WeChatWire

@testable import UnionGateServer

@Suite("Webhook over HTTP")
struct WebhookTests {
    @Test func answersURLVerificationAndRefusesForgeries() async throws {
        try await withGateway { client, _ in
            let good = client.wechat.verification(
                echostr: "8934589345", timestamp: String(client.clock()), nonce: "77")
            let verified = try await client.request("GET", "/wechat", query: good.parameters)
            #expect(verified.status == 200)
            #expect(verified.body == "8934589345")

            var forged = good
            forged.signature = String(repeating: "a", count: 40)
            #expect(try await client.request("GET", "/wechat", query: forged.parameters).status == 403)
            #expect(try await client.request("GET", "/wechat").status == 403)
        }
    }

    @Test(arguments: WireMode.allCases)
    func answersKeywordsInEveryMode(mode: WireMode) async throws {
        try await withGateway { client, _ in
            let member = Member()
            let result = try await client.post(member.text("帮助"), mode: mode)
            #expect(result.status == 200)
            #expect(result.contentType?.hasPrefix("application/xml") == true)
            #expect(result.body.contains("<Encrypt>") == (mode != .plain))
            let reply = try #require(try client.wechat.openReply(result.body))
            #expect(reply.recipient == member.openid)
            #expect(reply.account == "gh_union")
            guard case .text(let text) = reply.body else {
                Issue.record("expected text, got \(reply.body)")
                return
            }
            #expect(text.contains("合理化建议"))
            #expect(text.contains("一键拨号"))
        }
    }

    @Test func answersEachKindOfRuleFromTheShippedReplies() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let welcome = try await client.replyText(member.event(.subscribe(scene: nil, ticket: nil)))
            #expect(welcome?.contains("欢迎关注") == true)
            let sceneWelcome = try await client.replyText(
                member.event(.subscribe(scene: "factory", ticket: "t"), at: 2))
            #expect(sceneWelcome?.contains("欢迎关注") == true)
            let menu = try await client.replyText(member.event(.click(key: "DIAL_HOTLINE")))
            #expect(menu?.contains("12351") == true)
            let keyword = try await client.replyText(member.text("热线"), mode: .safe)
            #expect(keyword?.contains("12351") == true)
            // What no rule answers goes to the staff, with a case number.
            let fallback = try await client.replyText(member.text("今天天气怎么样"))
            #expect(fallback?.contains("已转给工会工作人员，编号 LY-") == true)
            // Events nobody answers get `success`, never an error.
            let unsubscribe = try await client.send(member.event(.unsubscribe))
            #expect(unsubscribe == nil)
            let unknownKey = try await client.send(member.event(.click(key: "NO_SUCH_KEY")))
            #expect(unknownKey == nil)
            let location = try await client.send(member.event(.location(latitude: 30, longitude: 120, precision: 10)))
            #expect(location == nil)
        }
    }

    @Test func refusesForgedAndMalformedRequests() async throws {
        try await withGateway { client, gateway in
            let member = Member()
            var signed = try client.signed(member.text("帮助"), mode: .plain)
            var forged = signed.query
            forged.signature = Signature.compute(
                token: "wrong", timestamp: signed.query.timestamp!, nonce: signed.query.nonce!)
            #expect(
                try await client.request("POST", "/wechat", query: forged.parameters, body: Data(signed.body.utf8))
                    .status == 403)

            let safe = try client.signed(member.text("帮助"), mode: .safe)
            var badMessageSignature = safe.query
            badMessageSignature.msgSignature = String(repeating: "0", count: 40)
            #expect(
                try await client.request(
                    "POST", "/wechat", query: badMessageSignature.parameters, body: Data(safe.body.utf8)
                ).status
                    == 403)

            let malformed = try await client.request(
                "POST", "/wechat", query: signed.query.parameters, body: Data("<xml><a></xml>".utf8))
            #expect(malformed.status == 400)
            #expect(malformed.body.isEmpty)

            let xxe = """
                <?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><ToUserName>a</ToUserName><Content>&x;</Content></xml>
                """
            let hostile = try await client.request(
                "POST", "/wechat", query: signed.query.parameters, body: Data(xxe.utf8))
            #expect(hostile.status == 400)
            #expect(!hostile.body.contains("root:"))

            let huge = Data(repeating: UInt8(ascii: "a"), count: 100 * 1024)
            #expect(
                try await client.request("POST", "/wechat", query: signed.query.parameters, body: huge).status == 413)

            var garbage = safe.query
            let junk = "AAAA" + String(repeating: "B", count: 60)
            garbage.msgSignature = Signature.compute(
                token: testToken, timestamp: safe.query.timestamp!, nonce: safe.query.nonce!, encrypted: junk)
            let junkBody = "<xml><ToUserName>gh</ToUserName><Encrypt>\(junk)</Encrypt></xml>"
            #expect(
                try await client.request("POST", "/wechat", query: garbage.parameters, body: Data(junkBody.utf8)).status
                    == 400)

            // After all that, the gateway still answers.
            signed = try client.signed(member.text("热线"), mode: .plain)
            let fine = try await client.request(
                "POST", "/wechat", query: signed.query.parameters, body: Data(signed.body.utf8))
            #expect(fine.status == 200)
            #expect(fine.body.contains("12351"))

            let metrics = try await client.request("GET", "/metrics").body
            #expect(metrics.contains("uniongate_signature_failures_total 2"))
            #expect(metrics.contains("uniongate_decrypt_failures_total 1"))
            #expect(metrics.contains("uniongate_requests_total{outcome=\"forbidden\"} 2"))
            #expect(metrics.contains("uniongate_requests_total{outcome=\"bad_request\"} 3"))
            #expect(metrics.contains("uniongate_requests_total{outcome=\"too_large\"} 1"))
            #expect(metrics.contains("uniongate_requests_total{outcome=\"replied\"} 1"))
            #expect(metrics.contains("uniongate_rule_hits_total{rule=\"热线\"} 1"))
            #expect(gateway.metrics.count(.replied) == 1)
        }
    }

    @Test func servesHealthAndMetrics() async throws {
        try await withGateway { client, gateway in
            let health = try await client.request("GET", "/healthz")
            #expect(health.status == 200)
            // Which rules this instance serves: the same Replies give the same version anywhere.
            let version = gateway.rules.engine.book.version
            #expect(version.count == 12 && version.allSatisfy(\.isHexDigit))
            #expect(health.body == "ok rules=\(version)")
            _ = try await client.send(Member().text("帮助"))
            let metrics = try await client.request("GET", "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.contentType?.hasPrefix("text/plain") == true)
            #expect(metrics.body.contains("# TYPE uniongate_reply_seconds histogram"))
            #expect(metrics.body.contains("uniongate_reply_seconds_count 1"))
            #expect(metrics.body.contains("uniongate_rule_hits_total{rule=\"帮助\"} 1"))
        }
    }

    @Test func aFailingServiceGetsAnApologyNotAnError() async throws {
        struct BrokenDesk: ServiceDesk {
            struct Failure: Error {}
            func intercept(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64) async throws
                -> Interception?
            { nil }
            func perform(
                _ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine
            )
                async throws -> [ReplyBody]
            { throw Failure() }
        }
        try await withGateway(services: { _ in BrokenDesk() }) { client, _ in
            for mode in WireMode.allCases {
                let reply = try await client.replyText(Member().text("入会"), mode: mode)
                #expect(reply == Apology.text)
            }
        }
    }
}
