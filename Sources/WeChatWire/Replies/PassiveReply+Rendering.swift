extension PassiveReply {
    /// The body that answers "no reply".
    public static let successBody = "success"

    /// The reply's XML (or `success`) as the answer to `message`, created at `createTime`
    /// (Unix seconds).
    ///
    /// WeChat's limits are applied here as a last line of defence: text is cut to
    /// ``ReplyLimits/maxTextBytes`` and article cards beyond the limit are dropped (use
    /// ``ReplyBody/fitted(answering:)`` first to keep them). A text reply with no text, and a news
    /// reply with no cards, render as `success`: WeChat would show the member an error for them.
    public func render(answering message: InboundMessage, createTime: Int64) -> String {
        String(decoding: renderBytes(answering: message, createTime: createTime), as: UTF8.self)
    }

    /// ``render(answering:createTime:)`` as UTF-8 bytes, for writing straight to the wire.
    public func renderBytes(answering message: InboundMessage, createTime: Int64) -> [UInt8] {
        guard case .message(let unfitted) = self else { return Self.successBytes }
        let body = unfitted.fitted(answering: message).body
        switch body {
        case .text(let text) where text.isEmpty:
            return Self.successBytes
        case .news(let articles) where articles.isEmpty:
            return Self.successBytes
        default:
            break
        }
        // Sized so that a text reply is written without the buffer growing on the way.
        let payload = if case .text(let text) = body { text.utf8.count } else { 1024 }
        var writer = XMLWriter(
            capacity: 192 + message.header.sender.utf8.count + message.header.account.utf8.count + payload)
        writer.open("xml")
        writer.text("ToUserName", message.header.sender)
        writer.text("FromUserName", message.header.account)
        writer.number("CreateTime", createTime)
        body.write(into: &writer)
        writer.close("xml")
        return writer.bytes
    }

    /// ``successBody`` as bytes.
    public static let successBytes = Array(successBody.utf8)

    /// Whether `bytes` is the `success` body.
    public static func isSuccess(_ bytes: [UInt8]) -> Bool { bytes == successBytes }
}

extension ReplyBody {
    /// The `MsgType` of this reply on the wire.
    public var msgType: String {
        switch self {
        case .text: "text"
        case .image: "image"
        case .voice: "voice"
        case .video: "video"
        case .music: "music"
        case .news: "news"
        case .transferToCustomerService: "transfer_customer_service"
        }
    }

    func write(into writer: inout XMLWriter) {
        writer.text("MsgType", msgType)
        switch self {
        case .text(let text):
            writer.text("Content", text)
        case .image(let mediaId):
            writer.open("Image")
            writer.text("MediaId", mediaId)
            writer.close("Image")
        case .voice(let mediaId):
            writer.open("Voice")
            writer.text("MediaId", mediaId)
            writer.close("Voice")
        case .video(let mediaId, let title, let description):
            writer.open("Video")
            writer.text("MediaId", mediaId)
            if let title { writer.text("Title", title) }
            if let description { writer.text("Description", description) }
            writer.close("Video")
        case .music(let music):
            writer.open("Music")
            if let title = music.title { writer.text("Title", title) }
            if let description = music.description { writer.text("Description", description) }
            if let url = music.musicURL { writer.text("MusicUrl", url) }
            if let url = music.hqMusicURL { writer.text("HQMusicUrl", url) }
            writer.text("ThumbMediaId", music.thumbMediaId)
            writer.close("Music")
        case .news(let articles):
            writer.number("ArticleCount", articles.count)
            writer.open("Articles")
            for article in articles {
                writer.open("item")
                writer.text("Title", article.title)
                writer.text("Description", article.description)
                writer.text("PicUrl", article.picURL)
                writer.text("Url", article.url)
                writer.close("item")
            }
            writer.close("Articles")
        case .transferToCustomerService(let agent):
            if let agent {
                writer.open("TransInfo")
                writer.text("KfAccount", agent)
                writer.close("TransInfo")
            }
        }
    }
}

/// A passive reply read back from its XML: what WeChat's client would receive.
///
/// The gateway never reads replies in production; tests, the terminal chat and benchmarks
/// use this to play the member's side.
public struct ReplyMessage: Sendable, Hashable {
    /// The member's openid (`ToUserName`).
    public var recipient: String
    /// The account's id (`FromUserName`).
    public var account: String
    /// When the reply was made, in Unix seconds.
    public var createTime: Int64
    /// The reply's content.
    public var body: ReplyBody

    /// Reads a reply from its XML document.
    ///
    /// - Throws: ``XMLReadError`` or ``MessageParseError``.
    public init(xml text: String, reader: XMLReader = XMLReader()) throws {
        let root = try reader.read(text)
        guard root.name == "xml" else {
            throw MessageParseError(.unexpectedRoot, field: nil, "the root element is <\(root.name)>, not <xml>")
        }
        let fields = Fields(root)
        recipient = try fields.required("ToUserName")
        account = try fields.required("FromUserName")
        createTime = try fields.integer("CreateTime")
        let msgType = try fields.required("MsgType")
        func media(_ name: String) throws -> Fields {
            guard let element = root.child(name) else { throw MessageParseError.missing(name) }
            return Fields(element)
        }
        switch msgType {
        case "text":
            body = .text(try fields.required("Content"))
        case "image":
            body = .image(mediaId: try media("Image").required("MediaId"))
        case "voice":
            body = .voice(mediaId: try media("Voice").required("MediaId"))
        case "video":
            let video = try media("Video")
            body = .video(
                mediaId: try video.required("MediaId"), title: video.optional("Title"),
                description: video.optional("Description"))
        case "music":
            let music = try media("Music")
            body = .music(
                Music(
                    title: music.optional("Title"), description: music.optional("Description"),
                    musicURL: music.optional("MusicUrl"), hqMusicURL: music.optional("HQMusicUrl"),
                    thumbMediaId: try music.required("ThumbMediaId")))
        case "news":
            let items = root.child("Articles")?.children.filter { $0.name == "item" } ?? []
            let count: Int = try fields.integer("ArticleCount")
            guard count == items.count else { throw MessageParseError.invalid("ArticleCount", String(count)) }
            body = .news(
                items.map {
                    let item = Fields($0)
                    return Article(
                        title: item.text("Title"), description: item.text("Description"), picURL: item.text("PicUrl"),
                        url: item.text("Url"))
                })
        case "transfer_customer_service":
            body = .transferToCustomerService(agent: root.child("TransInfo")?.text(of: "KfAccount"))
        default:
            throw MessageParseError.invalid("MsgType", msgType)
        }
    }
}
