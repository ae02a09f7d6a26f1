/// Why a well-formed XML document is not a message WeChat could have sent.
public struct MessageParseError: Error, Hashable, CustomStringConvertible {
    /// What kind of problem was found.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The root element is not `<xml>`.
        public static let unexpectedRoot = Code("unexpectedRoot")
        /// A field the message kind needs is absent.
        public static let missingField = Code("missingField")
        /// A field's value is not of the expected form (a number that is not a number).
        public static let invalidField = Code("invalidField")
    }

    /// What kind of problem was found.
    public let code: Code
    /// The field concerned, if any.
    public let field: String?
    /// A sentence that says what was wrong.
    public let message: String

    init(_ code: Code, field: String?, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    static func missing(_ field: String) -> MessageParseError {
        MessageParseError(.missingField, field: field, "missing <\(field)>")
    }

    static func invalid(_ field: String, _ value: String) -> MessageParseError {
        MessageParseError(.invalidField, field: field, "<\(field)> has an invalid value")
    }

    public var description: String { message }
}

extension InboundMessage {
    /// The header fields, which unknown kinds do not repeat in their raw fields.
    static let headerFields: Set<String> = [
        "ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "MsgDataId", "Idx",
    ]

    /// Reads a message from its XML bytes.
    ///
    /// - Throws: ``XMLReadError`` when the bytes are not acceptable XML, ``MessageParseError``
    ///   when the document is not a message.
    public static func parse(_ bytes: [UInt8], reader: XMLReader = XMLReader()) throws -> InboundMessage {
        try InboundMessage(xml: reader.read(bytes))
    }

    /// Reads a message from its XML text.
    ///
    /// - Throws: ``XMLReadError`` when the text is not acceptable XML, ``MessageParseError``
    ///   when the document is not a message.
    public static func parse(_ text: String, reader: XMLReader = XMLReader()) throws -> InboundMessage {
        try InboundMessage(xml: reader.read(text))
    }

    /// Reads a message from a parsed `<xml>` document.
    ///
    /// Unknown message types and unknown events are kept with their raw fields; only a missing
    /// header field or a number that does not parse is an error.
    public init(xml root: XMLElement) throws {
        guard root.name == "xml" else {
            throw MessageParseError(.unexpectedRoot, field: nil, "the root element is <\(root.name)>, not <xml>")
        }
        let fields = Fields(root)
        header = MessageHeader(
            account: try fields.required("ToUserName"),
            sender: try fields.required("FromUserName"),
            createTime: try fields.integer("CreateTime"),
            msgId: try fields.optionalUInt64("MsgId"),
            msgDataId: fields.optional("MsgDataId"),
            idx: fields.optional("Idx"))
        let msgType = try fields.required("MsgType")
        switch ASCII.lowercased(msgType) {
        case "text":
            kind = .text(TextMessage(content: fields.text("Content"), menuOptionId: fields.optional("bizmsgmenuid")))
        case "image":
            kind = .image(ImageMessage(picURL: fields.text("PicUrl"), mediaId: fields.text("MediaId")))
        case "voice":
            kind = .voice(
                VoiceMessage(
                    mediaId: fields.text("MediaId"), format: fields.text("Format"),
                    mediaId16K: fields.optional("MediaId16K"), recognition: fields.optional("Recognition")))
        case "video":
            kind = .video(VideoMessage(mediaId: fields.text("MediaId"), thumbMediaId: fields.text("ThumbMediaId")))
        case "shortvideo":
            kind = .shortVideo(
                VideoMessage(mediaId: fields.text("MediaId"), thumbMediaId: fields.text("ThumbMediaId")))
        case "location":
            kind = .location(
                LocationMessage(
                    latitude: try fields.double("Location_X"), longitude: try fields.double("Location_Y"),
                    scale: try fields.integer("Scale"), label: fields.text("Label")))
        case "link":
            kind = .link(
                LinkMessage(
                    title: fields.text("Title"), description: fields.text("Description"), url: fields.text("Url")))
        case "event":
            kind = .event(try InboundEvent(fields))
        default:
            kind = .unknown(msgType: msgType, fields: root.children.filter { !Self.headerFields.contains($0.name) })
        }
    }
}

extension InboundEvent {
    init(_ fields: Fields) throws {
        let name = try fields.required("Event")
        let key = fields.text("EventKey")
        switch ASCII.lowercased(name) {
        case "subscribe":
            let scene = key.hasPrefix(Self.qrScenePrefix) ? String(key.dropFirst(Self.qrScenePrefix.count)) : nil
            self = .subscribe(scene: scene, ticket: fields.optional("Ticket"))
        case "unsubscribe":
            self = .unsubscribe
        case "scan":
            self = .scan(scene: key, ticket: fields.optional("Ticket"))
        case "location":
            self = .location(
                latitude: try fields.double("Latitude"), longitude: try fields.double("Longitude"),
                precision: try fields.double("Precision"))
        case "click":
            self = .click(key: key)
        case "view":
            self = .view(url: key, menuId: fields.optional("MenuId"))
        case "scancode_push", "scancode_waitmsg":
            let info = Fields(fields.element.child("ScanCodeInfo") ?? XMLElement(name: "ScanCodeInfo"))
            self = .scanCode(
                key: key, scanType: info.text("ScanType"), scanResult: info.text("ScanResult"),
                waitForMessage: name.lowercased() == "scancode_waitmsg")
        case "pic_sysphoto", "pic_photo_or_album", "pic_weixin":
            let info = fields.element.child("SendPicsInfo") ?? XMLElement(name: "SendPicsInfo")
            let items = info.child("PicList")?.children.filter { $0.name == "item" } ?? []
            let count = info.child("Count") == nil ? items.count : try Fields(info).integer("Count")
            self = .pictures(
                key: key, source: PictureSource(rawValue: name.lowercased())!, count: count,
                md5Sums: items.map { $0.text(of: "PicMd5Sum") ?? "" })
        case "location_select":
            let info = Fields(fields.element.child("SendLocationInfo") ?? XMLElement(name: "SendLocationInfo"))
            self = .locationSelect(
                key: key,
                location: SelectedLocation(
                    latitude: try info.double("Location_X"), longitude: try info.double("Location_Y"),
                    scale: try info.integer("Scale"), label: info.text("Label"), poiName: info.optional("Poiname")))
        case "view_miniprogram":
            self = .viewMiniProgram(pagePath: key, menuId: fields.optional("MenuId"))
        case "templatesendjobfinish":
            self = .templateSendJobFinished(msgId: try fields.uint64("MsgID"), status: fields.text("Status"))
        case "masssendjobfinish":
            self = .massSendJobFinished(
                msgId: try fields.uint64("MsgID"), status: fields.text("Status"),
                counts: MassSendCounts(
                    total: try fields.integer("TotalCount"), filtered: try fields.integer("FilterCount"),
                    sent: try fields.integer("SentCount"), failed: try fields.integer("ErrorCount")))
        case "subscribe_msg_popup_event", "subscribe_msg_change_event":
            let changed = ASCII.lowercased(name) == "subscribe_msg_change_event"
            let container = fields.element.child(changed ? "SubscribeMsgChangeEvent" : "SubscribeMsgPopupEvent")
            self = .subscriptionChoices(
                changed: changed,
                choices: (container?.children ?? []).filter { $0.name == "List" }.map { item in
                    SubscriptionChoice(
                        templateId: item.text(of: "TemplateId") ?? "",
                        status: item.text(of: "SubscribeStatusString") ?? "",
                        popupScene: item.text(of: "PopupScene"))
                })
        case "subscribe_msg_sent_event":
            let container = fields.element.child("SubscribeMsgSentEvent")
            self = .subscriptionSent(
                results: try (container?.children ?? []).filter { $0.name == "List" }.map { item in
                    let code = Fields(item).optional("ErrorCode")?.trimmingWhitespace() ?? "0"
                    guard let errorCode = Int(code) else { throw MessageParseError.invalid("ErrorCode", String(code)) }
                    return SubscriptionSendResult(
                        templateId: item.text(of: "TemplateId") ?? "", msgId: item.text(of: "MsgID") ?? "",
                        errorCode: errorCode, errorStatus: item.text(of: "ErrorStatus") ?? "")
                })
        default:
            self = .unknown(
                name: name,
                fields: fields.element.children.filter {
                    !InboundMessage.headerFields.contains($0.name) && $0.name != "Event"
                })
        }
    }
}

/// Typed access to the fields of one element.
struct Fields {
    let element: XMLElement

    init(_ element: XMLElement) {
        self.element = element
    }

    func optional(_ name: String) -> String? {
        element.text(of: name)
    }

    /// A text field that may be absent, read as empty then.
    func text(_ name: String) -> String {
        element.text(of: name) ?? ""
    }

    func required(_ name: String) throws -> String {
        guard let value = element.text(of: name) else { throw MessageParseError.missing(name) }
        return value
    }

    func number(_ name: String) throws -> Substring {
        let value = try required(name)
        return value.trimmingWhitespace()
    }

    func integer<Number: FixedWidthInteger>(_ name: String, as type: Number.Type = Number.self) throws -> Number {
        let value = try number(name)
        guard let number = Number(value) else { throw MessageParseError.invalid(name, String(value)) }
        return number
    }

    func uint64(_ name: String) throws -> UInt64 {
        try integer(name)
    }

    func optionalUInt64(_ name: String) throws -> UInt64? {
        guard element.child(name) != nil else { return nil }
        return try integer(name)
    }

    func double(_ name: String) throws -> Double {
        let value = try number(name)
        guard let number = Double(value), number.isFinite else { throw MessageParseError.invalid(name, String(value)) }
        return number
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    func trimmingWhitespace() -> Substring {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
        guard let first = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isSpace($0) })!
        return self[first..<utf8.index(after: last)]
    }
}
