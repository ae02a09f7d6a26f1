import Testing

@testable import WeChatWire

@Suite("Inbound messages")
struct InboundMessageTests {
    func message(_ body: String) throws -> InboundMessage {
        try InboundMessage.parse(
            "<xml><ToUserName><![CDATA[gh_union]]></ToUserName><FromUserName><![CDATA[oMember1]]></FromUserName><CreateTime>1700000000</CreateTime>\(body)</xml>"
        )
    }

    func event(_ body: String) throws -> InboundEvent {
        let parsed = try message("<MsgType><![CDATA[event]]></MsgType>" + body)
        guard case .event(let event) = parsed.kind else {
            Issue.record("not an event: \(parsed.kind)")
            throw MessageParseError.missing("Event")
        }
        #expect(parsed.isEvent)
        #expect(parsed.header.msgId == nil)
        return event
    }

    @Test func readsTheHeader() throws {
        let parsed = try message(
            "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[入会]]></Content><MsgId>6054768590064713728</MsgId><MsgDataId>9</MsgDataId><Idx>1</Idx>"
        )
        #expect(
            parsed.header
                == MessageHeader(
                    account: "gh_union", sender: "oMember1", createTime: 1_700_000_000,
                    msgId: 6_054_768_590_064_713_728,
                    msgDataId: "9", idx: "1"))
        #expect(parsed.kind == .text(TextMessage(content: "入会")))
        #expect(!parsed.isEvent)
    }

    @Test func readsEveryMessageType() throws {
        #expect(
            try message("<MsgType>text</MsgType><Content>A</Content><bizmsgmenuid>101</bizmsgmenuid><MsgId>1</MsgId>")
                .kind
                == .text(TextMessage(content: "A", menuOptionId: "101")))
        #expect(
            try message("<MsgType>image</MsgType><PicUrl>http://p</PicUrl><MediaId>m</MediaId><MsgId>1</MsgId>").kind
                == .image(ImageMessage(picURL: "http://p", mediaId: "m")))
        #expect(
            try message(
                "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><MediaId16K>k</MediaId16K><Recognition>你好</Recognition><MsgId>1</MsgId>"
            ).kind == .voice(VoiceMessage(mediaId: "m", format: "amr", mediaId16K: "k", recognition: "你好")))
        #expect(
            try message("<MsgType>voice</MsgType><MediaId>m</MediaId><Format>speex</Format><MsgId>1</MsgId>").kind
                == .voice(VoiceMessage(mediaId: "m", format: "speex")))
        #expect(
            try message("<MsgType>video</MsgType><MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>1</MsgId>")
                .kind
                == .video(VideoMessage(mediaId: "m", thumbMediaId: "t")))
        #expect(
            try message(
                "<MsgType>shortvideo</MsgType><MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>1</MsgId>"
            )
            .kind == .shortVideo(VideoMessage(mediaId: "m", thumbMediaId: "t")))
        #expect(
            try message(
                "<MsgType>location</MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[广州]]></Label><MsgId>1</MsgId>"
            ).kind == .location(LocationMessage(latitude: 23.134521, longitude: 113.358803, scale: 20, label: "广州")))
        #expect(
            try message(
                "<MsgType>link</MsgType><Title>T</Title><Description>D</Description><Url>https://u</Url><MsgId>1</MsgId>"
            ).kind == .link(LinkMessage(title: "T", description: "D", url: "https://u")))
    }

    @Test func keepsUnknownMessageTypesWithTheirFields() throws {
        let parsed = try message("<MsgType>miniprogrampage</MsgType><Title>t</Title><AppId>wx1</AppId><MsgId>5</MsgId>")
        #expect(
            parsed.kind
                == .unknown(
                    msgType: "miniprogrampage",
                    fields: [XMLElement(name: "Title", text: "t"), XMLElement(name: "AppId", text: "wx1")]))
        #expect(parsed.header.msgId == 5)
        #expect(parsed.msgType == "miniprogrampage")
    }

    @Test func readsSubscribeWithAndWithoutScene() throws {
        #expect(try event("<Event>subscribe</Event>") == .subscribe(scene: nil, ticket: nil))
        #expect(try event("<Event>subscribe</Event><EventKey></EventKey>") == .subscribe(scene: nil, ticket: nil))
        #expect(
            try event("<Event>subscribe</Event><EventKey>qrscene_factory3</EventKey><Ticket>TK</Ticket>")
                == .subscribe(scene: "factory3", ticket: "TK"))
        #expect(try event("<Event>unsubscribe</Event>") == .unsubscribe)
    }

    @Test func comparesEventNamesCaseInsensitively() throws {
        #expect(
            try event("<Event>SCAN</Event><EventKey>123</EventKey><Ticket>T</Ticket>")
                == .scan(scene: "123", ticket: "T"))
        #expect(try event("<Event>scan</Event><EventKey>123</EventKey>") == .scan(scene: "123", ticket: nil))
        #expect(try event("<Event>click</Event><EventKey>JOIN_UNION</EventKey>") == .click(key: "JOIN_UNION"))
        #expect(try event("<Event>CLICK</Event><EventKey>JOIN_UNION</EventKey>") == .click(key: "JOIN_UNION"))
        #expect(try event("<Event>Subscribe</Event>") == .subscribe(scene: nil, ticket: nil))
    }

    @Test func readsMenuAndReportEvents() throws {
        #expect(
            try event(
                "<Event>LOCATION</Event><Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>119.38</Precision>"
            )
                == .location(latitude: 23.1, longitude: 113.3, precision: 119.38))
        #expect(
            try event("<Event>VIEW</Event><EventKey>https://union.example/hotline</EventKey><MenuId>42</MenuId>")
                == .view(url: "https://union.example/hotline", menuId: "42"))
        #expect(
            try event(
                "<Event>scancode_waitmsg</Event><EventKey>SCAN1</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>R</ScanResult></ScanCodeInfo>"
            ) == .scanCode(key: "SCAN1", scanType: "qrcode", scanResult: "R", waitForMessage: true))
        #expect(
            try event(
                "<Event>scancode_push</Event><EventKey>SCAN1</EventKey><ScanCodeInfo><ScanType>barcode</ScanType><ScanResult>R</ScanResult></ScanCodeInfo>"
            ) == .scanCode(key: "SCAN1", scanType: "barcode", scanResult: "R", waitForMessage: false))
        #expect(
            try event(
                "<Event>pic_photo_or_album</Event><EventKey>P</EventKey><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a1</PicMd5Sum></item><item><PicMd5Sum>b2</PicMd5Sum></item></PicList></SendPicsInfo>"
            ) == .pictures(key: "P", source: .cameraOrAlbum, count: 2, md5Sums: ["a1", "b2"]))
        #expect(
            try event(
                "<Event>location_select</Event><EventKey>L</EventKey><SendLocationInfo><Location_X>23</Location_X><Location_Y>113</Location_Y><Scale>15</Scale><Label>广州市</Label><Poiname>工会</Poiname></SendLocationInfo>"
            )
                == .locationSelect(
                    key: "L",
                    location: SelectedLocation(latitude: 23, longitude: 113, scale: 15, label: "广州市", poiName: "工会")))
        #expect(
            try event("<Event>view_miniprogram</Event><EventKey>pages/index</EventKey><MenuId>7</MenuId>")
                == .viewMiniProgram(pagePath: "pages/index", menuId: "7"))
        #expect(
            try event("<Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID><Status>success</Status>")
                == .templateSendJobFinished(msgId: 200_163_836, status: "success"))
        #expect(
            try event(
                "<Event>MASSSENDJOBFINISH</Event><MsgID>1988</MsgID><Status>sendsuccess</Status><TotalCount>100</TotalCount><FilterCount>80</FilterCount><SentCount>75</SentCount><ErrorCount>5</ErrorCount>"
            )
                == .massSendJobFinished(
                    msgId: 1988, status: "sendsuccess",
                    counts: MassSendCounts(total: 100, filtered: 80, sent: 75, failed: 5)))
    }

    @Test func keepsUnknownEventsWithTheirNameAndFields() throws {
        let unknown = try event(
            "<Event>kf_close_session</Event><KfAccount>kf2001@gh_union</KfAccount><CloseType><List><Item>t</Item></List></CloseType>"
        )
        guard case .unknown(let name, let fields) = unknown else {
            Issue.record("expected an unknown event, got \(unknown)")
            return
        }
        #expect(name == "kf_close_session")
        #expect(fields.map(\.name) == ["KfAccount", "CloseType"])
        #expect(fields.last?.child("List")?.text(of: "Item") == "t")
    }

    @Test func readsSubscriptionChoicesAndReports() throws {
        let popup = try event(
            """
            <Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent>
            <List><TemplateId>tplA</TemplateId><SubscribeStatusString>accept</SubscribeStatusString><PopupScene>2</PopupScene></List>
            <List><TemplateId>tplB</TemplateId><SubscribeStatusString>reject</SubscribeStatusString><PopupScene>2</PopupScene></List>
            </SubscribeMsgPopupEvent>
            """)
        #expect(
            popup
                == .subscriptionChoices(
                    changed: false,
                    choices: [
                        SubscriptionChoice(templateId: "tplA", status: "accept", popupScene: "2"),
                        SubscriptionChoice(templateId: "tplB", status: "reject", popupScene: "2"),
                    ]))
        let change = try event(
            "<Event>subscribe_msg_change_event</Event><SubscribeMsgChangeEvent><List><TemplateId>tplA</TemplateId>"
                + "<SubscribeStatusString>reject</SubscribeStatusString></List></SubscribeMsgChangeEvent>")
        guard case .subscriptionChoices(true, let choices) = change else {
            Issue.record("expected a change event, got \(change)")
            return
        }
        #expect(choices.map(\.accepted) == [false])
        let sent = try event(
            "<Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><TemplateId>tplA</TemplateId>"
                + "<MsgID>1700827132819554304</MsgID><ErrorCode>0</ErrorCode><ErrorStatus>success</ErrorStatus></List>"
                + "</SubscribeMsgSentEvent>")
        #expect(
            sent
                == .subscriptionSent(results: [
                    SubscriptionSendResult(
                        templateId: "tplA", msgId: "1700827132819554304", errorCode: 0, errorStatus: "success")
                ]))
        #expect(throws: MessageParseError.self) {
            try event(
                "<Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List><ErrorCode>x</ErrorCode></List>"
                    + "</SubscribeMsgSentEvent>")
        }
    }

    @Test func exposesTheEventKey() {
        #expect(InboundEvent.subscribe(scene: "s1", ticket: nil).eventKey == "qrscene_s1")
        #expect(InboundEvent.click(key: "DIAL_HOTLINE").eventKey == "DIAL_HOTLINE")
        #expect(InboundEvent.unsubscribe.eventKey == nil)
        #expect(InboundEvent.unknown(name: "x", fields: [XMLElement(name: "EventKey", text: "k")]).eventKey == "k")
    }

    @Test func refusesDocumentsThatAreNotMessages() throws {
        let noSender = try #require(throws: MessageParseError.self) {
            try InboundMessage.parse(
                "<xml><ToUserName>a</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></xml>")
        }
        #expect(noSender.code == .missingField)
        #expect(noSender.field == "FromUserName")
    }

    @Test func refusesNumbersThatAreNotNumbers() throws {
        let error = try #require(throws: MessageParseError.self) {
            try InboundMessage.parse(
                "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>"
            )
        }
        #expect(error.code == .invalidField)
        #expect(error.field == "CreateTime")
        let badMsgId = try #require(throws: MessageParseError.self) {
            try message("<MsgType>text</MsgType><Content>x</Content><MsgId>-1</MsgId>")
        }
        #expect(badMsgId.field == "MsgId")
        let notRoot = try #require(throws: MessageParseError.self) { try InboundMessage.parse("<message/>") }
        #expect(notRoot.code == .unexpectedRoot)
    }

    @Test func toleratesWhitespaceAroundNumbers() throws {
        let parsed = try InboundMessage.parse(
            "<xml>\n<ToUserName>a</ToUserName>\n<FromUserName>b</FromUserName>\n<CreateTime> 1409735668\n</CreateTime>\n<MsgType>text</MsgType>\n<Content>x</Content>\n<MsgId>\n6054768590064713728 </MsgId>\n</xml>"
        )
        #expect(parsed.header.createTime == 1_409_735_668)
        #expect(parsed.header.msgId == 6_054_768_590_064_713_728)
    }
}
