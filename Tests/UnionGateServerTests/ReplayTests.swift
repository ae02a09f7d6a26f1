import Foundation
import Testing
import ReplyRules
import WeChatWire

@testable import UnionGateServer

@Suite("Replay and downgrade")
struct ReplayTests {
    /// Posts a signed request as it is, or with its query or body changed.
    private func post(
        _ client: WeChatClient, _ signed: SimulatedWeChat.Request, query: WebhookQuery? = nil, body: String? = nil
    ) async throws -> WeChatClient.HTTPResult {
        try await client.request(
            "POST", "/wechat", query: (query ?? signed.query).parameters, body: Data((body ?? signed.body).utf8))
    }

    @Test func aTimestampMoreThanFiveMinutesFromTheClockIsRefused() async throws {
        let clock = TestClock()
        try await withGateway(clock: clock.read) { client, gateway in
            let member = Member()
            let now = clock.read()
            for (offset, status) in [(-300, 200), (300, 200), (-301, 403), (301, 403), (-86_400, 403)] {
                let signed = try client.wechat.request(
                    for: member.text("热线"), mode: .plain, timestamp: String(now + Int64(offset)),
                    nonce: "n\(offset)")
                #expect(try await post(client, signed).status == status, "\(offset) s")
            }
            for mode in [WireMode.compatible, .safe] {
                let stale = try client.wechat.request(
                    for: member.text("热线"), mode: mode, timestamp: String(now - 301), nonce: "stale-\(mode)")
                #expect(try await post(client, stale).status == 403, "\(mode)")
            }
            #expect(gateway.metrics.count(.forbidden) == 5)
            let metrics = try await client.request("GET", "/metrics").body
            #expect(metrics.contains("uniongate_replays_refused_total 5"))

            // URL verification too.
            let stale = client.wechat.verification(echostr: "42", timestamp: String(now - 400), nonce: "v")
            #expect(try await client.request("GET", "/wechat", query: stale.parameters).status == 403)
            let fresh = client.wechat.verification(echostr: "42", timestamp: String(now), nonce: "v")
            #expect(try await client.request("GET", "/wechat", query: fresh.parameters).body == "42")
        }
    }

    @Test func anEmptyOrMissingTimestampOrNonceIsRefused() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let now = String(client.clock())
            for (timestamp, nonce) in [(now, ""), ("", "n"), ("soon", "n")] {
                let signed = try client.wechat.request(
                    for: member.text("热线"), mode: .plain, timestamp: timestamp, nonce: nonce)
                #expect(try await post(client, signed).status == 403, "timestamp \(timestamp) nonce \(nonce)")
            }
            let signed = try client.signed(member.text("热线"), mode: .plain)
            var withoutNonce = signed.query
            withoutNonce.nonce = nil
            withoutNonce.signature = Signature.compute(token: testToken, timestamp: signed.query.timestamp!, nonce: "")
            #expect(try await post(client, signed, query: withoutNonce).status == 403)
        }
    }

    @Test func theSameSignedURLWithAnotherBodyIsRefusedAndWeChatsRetryIsAnswered() async throws {
        try await withGateway { client, _ in
            let member = Member()
            let first = try client.signed(member.text("建议 食堂晚上增加热菜"), mode: .plain)
            let answered = try await post(client, first)
            #expect(answered.status == 200)
            #expect(answered.body.contains("JY-"))

            // Someone who saw that URL sends another body under it: in plain mode the signature
            // does not cover the body, so only the memory of the nonce stops it.
            let other = try client.signed(Member().text("建议 伪造的建议"), mode: .plain)
            let replayed = try await post(client, first, body: other.body)
            #expect(replayed.status == 403)
            #expect(replayed.body.isEmpty)

            // WeChat's retry: the same URL and the same body get the first answer again.
            let retry = try await post(client, first)
            #expect(retry.status == 200)
            #expect(retry.body == answered.body)

            // One suggestion stored, the forged one not at all.
            let stored = try await client.adminList("/admin/api/suggestions")
            let contents = stored.compactMap { $0["content"] as? String }
            #expect(contents == ["食堂晚上增加热菜"])
        }
    }

    /// In the encrypted modes the verified msg_signature stands for the body in the replay
    /// memory: it covers the Encrypt text, which is all of the body that is read.
    @Test func inTheEncryptedModesTheSignedURLIsRememberedWithItsEncryptedText() async throws {
        try await withGateway(configure: { $0.wireMode = .safe }) { client, _ in
            let member = Member()
            for mode in [WireMode.safe, .compatible] {
                let first = try client.signed(member.text("建议 夜班班车增加一趟 \(mode)"), mode: mode)
                let answered = try await post(client, first)
                #expect(answered.status == 200)
                let receipt = try client.wechat.openReply(answered.body).map { visibleText(of: [$0.body]) }
                #expect(receipt?.contains("JY-") == true, "\(mode)")

                // WeChat's retry, byte for byte, and the same envelope written another way (the
                // same Encrypt text): the first answer (encrypted afresh), no second suggestion.
                let reply = try client.wechat.openReply(answered.body)
                let retry = try await post(client, first)
                #expect(try client.wechat.openReply(retry.body) == reply, "\(mode)")
                let respaced = first.body.replacingOccurrences(of: "</xml>", with: "\n</xml>")
                #expect(respaced != first.body)
                let again = try await post(client, first, body: respaced)
                #expect(again.status == 200, "\(mode)")
                #expect(try client.wechat.openReply(again.body) == reply, "\(mode)")

                // Another message's Encrypt text under the same URL does not match its msg_signature.
                let other = try client.signed(member.text("建议 伪造的建议 \(mode)"), mode: mode)
                #expect(try await post(client, first, body: other.body).status == 403, "\(mode)")
            }
            let stored = try await client.adminList("/admin/api/suggestions")
            #expect(stored.count == 2)
            #expect(!stored.contains { ($0["content"] as? String)?.contains("伪造") == true })
        }
    }

    @Test func inSafeModeAPlainBodyIsRefused() async throws {
        try await withGateway(configure: { $0.wireMode = .safe }) { client, _ in
            let member = Member()
            let plain = try await client.post(member.text("热线"), mode: .plain)
            #expect(plain.status == 403)
            for mode in [WireMode.safe, .compatible] {
                let reply = try await client.replyText(member.text("热线"), mode: mode)
                #expect(reply?.contains("12351") == true, "\(mode)")
            }
        }
        // Compatible (what a key implies without WECHAT_MODE) still takes plain bodies.
        try await withGateway(configure: { $0.wireMode = .compatible }) { client, _ in
            let plain = try await client.post(Member().text("热线"), mode: .plain)
            #expect(plain.status == 200)
        }
    }

    @Test func anEncryptedModeWithoutAKeyIsRefusedAtStart() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await withGateway(configure: {
                $0.wireMode = .safe
                $0.encodingAESKey = nil
            }) { _, _ in }
        }
        #expect(error?.message.contains("WECHAT_ENCODING_AES_KEY") == true)
    }

    @Test func signaturesCompareAsExactLowercaseHex() async throws {
        try await withGateway { client, _ in
            let signed = try client.signed(Member().text("热线"), mode: .plain)
            var shouted = signed.query
            shouted.signature = signed.query.signature?.uppercased()
            #expect(shouted.signature != signed.query.signature)
            #expect(try await post(client, signed, query: shouted).status == 403)
            #expect(try await post(client, signed).status == 200)
        }
    }

    @Test func aWindowOfZeroTurnsTheCheckOff() async throws {
        try await withGateway(configure: { $0.replayWindow = 0 }) { client, _ in
            let signed = try client.wechat.request(
                for: Member().text("热线"), mode: .plain, timestamp: "1700000000", nonce: "n1")
            #expect(try await post(client, signed).status == 200)
        }
    }

    @Test func rememberedURLsAreBoundedAndTurnOver() {
        let clock = TestClock()
        let guardian = ReplayGuard(window: 300, capacity: 4, unixTime: clock.read)
        func query(_ nonce: Int) -> WebhookQuery {
            var query = WebhookQuery()
            query.timestamp = "1795363200"
            query.nonce = String(nonce)
            return query
        }
        func refusal(_ nonce: Int, _ body: String) -> String? {
            Array(body.utf8).withUnsafeBytes { guardian.refusal(of: query(nonce), body: $0) }
        }
        #expect(refusal(1, "a") == nil)
        #expect(refusal(1, "b") != nil)
        #expect(refusal(1, "a") == nil)
        // Four more fill the newer generation; the first is still remembered in the older one.
        for nonce in 2...5 { #expect(refusal(nonce, "x") == nil) }
        #expect(refusal(1, "b") != nil)
        // Once the window has passed twice, the first is forgotten (by then its timestamp is
        // stale, and the check from the head refuses it).
        clock.advance(seconds: 301)
        #expect(refusal(6, "x") == nil)
        clock.advance(seconds: 301)
        #expect(refusal(7, "x") == nil)
        #expect(refusal(1, "b") == nil)
    }
}
