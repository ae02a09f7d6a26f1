import Testing

@testable import WeChatWire

@Suite("Webhook codec in all three modes")
struct WebhookCodecTests {
    let token = "unionToken"
    let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    let appId = "wxUnion"
    let message = InboundMessage(
        header: MessageHeader(account: "gh_union", sender: "oMember1", createTime: 1_700_000_000, msgId: 42),
        kind: .text(TextMessage(content: "建议 食堂增加夜班供餐")))

    func codec() throws -> WebhookCodec {
        WebhookCodec(token: token, cipher: try MessageCipher(encodingAESKey: key, appId: appId))
    }

    func wechat() throws -> SimulatedWeChat {
        SimulatedWeChat(token: token, cipher: try MessageCipher(encodingAESKey: key, appId: appId))
    }

    func webhookCode(_ body: () throws -> Void) -> WebhookError.Code? {
        do {
            try body()
            return nil
        } catch let error as WebhookError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func readsTheQueryStringLikeAFormDecoderWould() {
        let query = WebhookQuery(
            query: "signature=abc&timestamp=170&nonce=n%20%E5%B7%A5&openid=o1&openid=o2&encrypt_type=aes"
                + "&msg_signature=ms&echostr=e%zz&unknown=1&flag&=x")
        #expect(query.signature == "abc")
        #expect(query.timestamp == "170")
        #expect(query.nonce == "n 工", "values are percent-decoded as UTF-8")
        #expect(query.openid == "o2", "of a repeated parameter, the last wins")
        #expect(query.encryptType == "aes")
        #expect(query.msgSignature == "ms")
        #expect(query.echostr == "e%zz", "a malformed escape keeps the value as sent")
        #expect(WebhookQuery(query: "") == WebhookQuery([:]))
        #expect(WebhookQuery(query: "nonce").nonce == "", "a name without a value reads as empty")
        // The parameters a URL is built from read back the same.
        let built = WebhookQuery(["signature": "s", "timestamp": "1", "nonce": "2", "openid": "o"])
        let text = built.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        #expect(WebhookQuery(query: text) == built)
    }

    @Test func answersURLVerification() throws {
        let query = try wechat().verification(echostr: "5038113428441658000", timestamp: "1700000000", nonce: "99")
        #expect(try codec().verifyURL(query) == "5038113428441658000")
        var forged = query
        forged.signature = String(repeating: "0", count: 40)
        #expect(webhookCode { _ = try codec().verifyURL(forged) } == .badSignature)
        var missing = query
        missing.nonce = nil
        #expect(webhookCode { _ = try codec().verifyURL(missing) } == .missingParameter)
    }

    @Test(arguments: WireMode.allCases)
    func opensAndAnswersEachMode(mode: WireMode) throws {
        let request = try wechat().request(for: message, mode: mode, timestamp: "1700000001", nonce: "n1")
        let opened = try codec().open(Array(request.body.utf8), query: request.query)
        #expect(opened.mode == mode)
        #expect(opened.message == message)

        let body = try codec().seal(
            .message(.text("已收到，编号 JY-2026-000001")), answering: opened, createTime: 1_700_000_002,
            timestamp: "1700000001", nonce: "n1")
        #expect(body.contains("<Encrypt>") == (mode != .plain))
        #expect(!body.contains("JY-2026") == (mode != .plain))
        let reply = try #require(try wechat().openReply(body))
        #expect(reply.body == .text("已收到，编号 JY-2026-000001"))
        #expect(reply.recipient == "oMember1")
        #expect(reply.account == "gh_union")
        #expect(reply.createTime == 1_700_000_002)

        let nothing = try codec().seal(.none, answering: opened, createTime: 1, timestamp: "1", nonce: "n")
        #expect(nothing == "success")
    }

    @Test func refusesForgedRequests() throws {
        var request = try wechat().request(for: message, mode: .plain, timestamp: "1700000001", nonce: "n1")
        request.query.signature = Signature.compute(token: "wrong", timestamp: "1700000001", nonce: "n1")
        #expect(webhookCode { _ = try codec().open(Array(request.body.utf8), query: request.query) } == .badSignature)
        request.query.signature = nil
        #expect(
            webhookCode { _ = try codec().open(Array(request.body.utf8), query: request.query) } == .missingParameter)
    }

    @Test func refusesAForgedMessageSignature() throws {
        var request = try wechat().request(for: message, mode: .safe, timestamp: "1700000001", nonce: "n1")
        request.query.msgSignature = Signature.compute(
            token: token, timestamp: "1700000001", nonce: "n1", encrypted: "other")
        let error = try #require(throws: WebhookError.self) {
            try codec().open(Array(request.body.utf8), query: request.query)
        }
        #expect(error.code == .badMessageSignature)
        #expect(error.isAuthenticationFailure)
        request.query.msgSignature = nil
        #expect(
            webhookCode { _ = try codec().open(Array(request.body.utf8), query: request.query) } == .missingParameter)
    }

    @Test func refusesEncryptedMessagesWithoutAKey() throws {
        let request = try wechat().request(for: message, mode: .safe, timestamp: "1", nonce: "n")
        let plainOnly = WebhookCodec(token: token)
        #expect(
            webhookCode { _ = try plainOnly.open(Array(request.body.utf8), query: request.query) }
                == .encryptionNotConfigured)
    }

    @Test func refusesMismatchedEnvelopes() throws {
        // A safe-mode body without encrypt_type.
        var request = try wechat().request(for: message, mode: .safe, timestamp: "1", nonce: "n")
        request.query.encryptType = nil
        #expect(
            webhookCode { _ = try codec().open(Array(request.body.utf8), query: request.query) } == .malformedEnvelope)
        // encrypt_type=aes on a plain body.
        var plain = try wechat().request(for: message, mode: .plain, timestamp: "1", nonce: "n")
        plain.query.encryptType = "aes"
        plain.query.msgSignature = "x"
        #expect(webhookCode { _ = try codec().open(Array(plain.body.utf8), query: plain.query) } == .malformedEnvelope)
    }

    @Test func passesCipherAndXMLErrorsThroughTyped() throws {
        let wechat = try wechat()
        let garbage = "AAAA" + String(repeating: "B", count: 60)
        var query = WebhookQuery([:])
        query.timestamp = "1"
        query.nonce = "n"
        query.signature = Signature.compute(token: token, timestamp: "1", nonce: "n")
        query.encryptType = "aes"
        query.msgSignature = Signature.compute(token: token, timestamp: "1", nonce: "n", encrypted: garbage)
        let body = "<xml><ToUserName>gh</ToUserName><Encrypt>\(garbage)</Encrypt></xml>"
        #expect(throws: CipherError.self) { try codec().open(Array(body.utf8), query: query) }
        _ = wechat

        var plainQuery = query
        plainQuery.encryptType = nil
        plainQuery.msgSignature = nil
        #expect(throws: XMLReadError.self) {
            try codec().open(Array("<xml><!DOCTYPE x></xml>".utf8), query: plainQuery)
        }
    }

    @Test func envelopeEscapesAnOddTimestamp() throws {
        let body = try codec().envelope(encrypted: "abc", timestamp: "1<2&3", nonce: "n")
        let root = try XMLReader().read(body)
        #expect(root.text(of: "TimeStamp") == "1<2&3")
    }

    @Test func answersEventsWithUpToEightCards() throws {
        let click = InboundMessage(
            header: MessageHeader(account: "gh_union", sender: "oMember1", createTime: 1_700_000_000),
            kind: .event(.click(key: "CHECK_WELFARE")))
        let request = try wechat().request(for: click, mode: .safe, timestamp: "1", nonce: "n")
        let opened = try codec().open(Array(request.body.utf8), query: request.query)
        let cards = (1...9).map { Article(title: "卡片\($0)") }
        let body = try codec().seal(
            .message(.news(cards)), answering: opened, createTime: 2, timestamp: "1", nonce: "n")
        #expect(try wechat().openReply(body)?.body == .news(Array(cards.prefix(8))))
    }
}
