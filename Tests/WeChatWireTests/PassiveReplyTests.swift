import Testing

@testable import WeChatWire

@Suite("Passive replies")
struct PassiveReplyTests {
    let textMessage = InboundMessage(
        header: MessageHeader(account: "gh_union", sender: "oMember1", createTime: 1_700_000_000, msgId: 1),
        kind: .text(TextMessage(content: "福利")))
    let clickEvent = InboundMessage(
        header: MessageHeader(account: "gh_union", sender: "oMember1", createTime: 1_700_000_000),
        kind: .event(.click(key: "CHECK_WELFARE")))

    func roundTrip(_ body: ReplyBody, answering message: InboundMessage? = nil) throws -> ReplyMessage {
        let xml = PassiveReply.message(body).render(answering: message ?? clickEvent, createTime: 1_700_000_123)
        return try ReplyMessage(xml: xml)
    }

    func articles(_ count: Int) -> [Article] {
        (1...count).map {
            Article(title: "福利\($0)", description: "说明\($0)", picURL: "https://p/\($0).jpg", url: "https://u/\($0)")
        }
    }

    @Test func swapsTheAddressesAndStampsSeconds() throws {
        let xml = PassiveReply.message(.text("你好")).render(answering: textMessage, createTime: 1_700_000_123)
        #expect(
            xml
                == "<xml><ToUserName><![CDATA[oMember1]]></ToUserName><FromUserName><![CDATA[gh_union]]></FromUserName><CreateTime>1700000123</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content></xml>"
        )
        let reply = try ReplyMessage(xml: xml)
        #expect(reply.recipient == "oMember1")
        #expect(reply.account == "gh_union")
        #expect(reply.createTime == 1_700_000_123)
    }

    @Test func rendersEveryKindAndReadsItBack() throws {
        let bodies: [ReplyBody] = [
            .text("第一行\n第二行 <a href=\"https://union.example\">链接</a>"),
            .image(mediaId: "img1"),
            .voice(mediaId: "v1"),
            .video(mediaId: "vid", title: "标题", description: "说明"),
            .video(mediaId: "vid", title: nil, description: nil),
            .music(
                Music(title: "歌", description: "d", musicURL: "https://m", hqMusicURL: "https://hq", thumbMediaId: "th")
            ),
            .news(articles(3)),
            .transferToCustomerService(agent: nil),
            .transferToCustomerService(agent: "kf2001@union"),
        ]
        for body in bodies {
            #expect(try roundTrip(body).body == body)
        }
    }

    @Test func neverWritesACharacterXMLForbids() throws {
        let sender = InboundMessage(
            header: MessageHeader(account: "gh_union", sender: "oMem\u{7}ber\u{0}", createTime: 1, msgId: 1),
            kind: .text(TextMessage(content: "x")))
        let xml = PassiveReply.message(.text("姓名：张\u{1B}[2J三\u{FFFF}")).render(answering: sender, createTime: 2)
        #expect(!xml.unicodeScalars.contains { !XMLCharacters.isAllowed($0) })
        let reply = try ReplyMessage(xml: xml)
        #expect(reply.recipient == "oMember")
        #expect(reply.body == .text("姓名：张[2J三"))
    }

    @Test func keepsCDATATerminatorsInValues() throws {
        let tricky = "a]]>b ]]]]> ]]><![CDATA[ end]]"
        #expect(try roundTrip(.text(tricky)).body == .text(tricky))
        let article = Article(title: "]]>", description: "x]]>y", picURL: "", url: "https://u?a=]]>")
        #expect(try roundTrip(.news([article])).body == .news([article]))
    }

    @Test func limitsArticlesToOneWhenAnsweringAMessage() throws {
        let reply = try roundTrip(.news(articles(5)), answering: textMessage)
        #expect(reply.body == .news(articles(1)))
        let (fitted, overflow) = ReplyBody.news(articles(5)).fitted(answering: textMessage)
        #expect(fitted == .news(articles(1)))
        #expect(overflow == Array(articles(5).dropFirst()))
    }

    @Test func limitsArticlesToEightWhenAnsweringAnEvent() throws {
        #expect(try roundTrip(.news(articles(8)), answering: clickEvent).body == .news(articles(8)))
        let reply = try roundTrip(.news(articles(10)), answering: clickEvent)
        #expect(reply.body == .news(articles(8)))
        #expect(ReplyBody.news(articles(10)).fitted(answering: clickEvent).overflow.count == 2)
    }

    @Test func cutsLongTextAtACharacterBoundary() throws {
        // 683 three-byte characters are 2049 bytes: one over the limit.
        let long = String(repeating: "会", count: 683)
        let cut = ReplyLimits.truncate(long)
        #expect(cut.utf8.count <= ReplyLimits.maxTextBytes)
        #expect(cut.hasSuffix(ReplyLimits.ellipsis))
        #expect(cut.dropLast() == String(repeating: "会", count: 681)[...])
        #expect(try roundTrip(.text(long)).body == .text(cut))

        // Emoji with modifiers are whole characters: never split inside one.
        let family = "👨‍👩‍👧‍👦"
        let emoji = "a" + String(repeating: family, count: 200)
        let cutEmoji = ReplyLimits.truncate(emoji)
        #expect(cutEmoji.utf8.count <= ReplyLimits.maxTextBytes)
        #expect(cutEmoji.dropFirst().dropLast().allSatisfy { $0 == Character(family) })

        let exact = String(repeating: "a", count: ReplyLimits.maxTextBytes)
        #expect(ReplyLimits.truncate(exact) == exact)
    }

    @Test func rendersSuccessForNoReplyAndForEmptyContent() {
        #expect(PassiveReply.none.render(answering: textMessage, createTime: 1) == "success")
        #expect(PassiveReply.message(.text("")).render(answering: textMessage, createTime: 1) == "success")
        #expect(PassiveReply.message(.news([])).render(answering: clickEvent, createTime: 1) == "success")
    }

    @Test func refusesRepliesWithAWrongArticleCount() {
        let xml =
            "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>news</MsgType><ArticleCount>2</ArticleCount><Articles><item><Title>x</Title></item></Articles></xml>"
        #expect(throws: MessageParseError.self) { try ReplyMessage(xml: xml) }
    }
}
