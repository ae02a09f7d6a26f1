/// What the webhook answers to one inbound message, in the HTTP response body.
public enum PassiveReply: Sendable, Hashable {
    /// No reply: the body `success`, which WeChat takes as "nothing to show".
    case none
    /// A reply message.
    case message(ReplyBody)
}

/// The content of a passive reply message.
public enum ReplyBody: Sendable, Hashable {
    /// Text. Newlines are kept; `<a href="…">` links render in the client.
    case text(String)
    /// A picture, by media id.
    case image(mediaId: String)
    /// A voice clip, by media id.
    case voice(mediaId: String)
    /// A video, by media id.
    case video(mediaId: String, title: String?, description: String?)
    /// Music.
    case music(Music)
    /// Article cards.
    case news([Article])
    /// Hand the conversation to a customer-service agent, a particular one if named.
    case transferToCustomerService(agent: String?)
}

/// A music reply's fields.
public struct Music: Sendable, Hashable {
    /// The title.
    public var title: String?
    /// The description.
    public var description: String?
    /// The address of the music.
    public var musicURL: String?
    /// The address of the high-quality version, played on Wi-Fi.
    public var hqMusicURL: String?
    /// The thumbnail's media id.
    public var thumbMediaId: String

    /// Creates a music reply.
    public init(
        title: String? = nil, description: String? = nil, musicURL: String? = nil, hqMusicURL: String? = nil,
        thumbMediaId: String
    ) {
        self.title = title
        self.description = description
        self.musicURL = musicURL
        self.hqMusicURL = hqMusicURL
        self.thumbMediaId = thumbMediaId
    }
}

/// An article card.
public struct Article: Sendable, Hashable, Codable {
    /// The card's title.
    public var title: String
    /// The card's description, shown under the title of a single card.
    public var description: String
    /// The picture's address.
    public var picURL: String
    /// Where a tap on the card leads.
    public var url: String

    /// Creates an article card.
    public init(title: String, description: String = "", picURL: String = "", url: String = "") {
        self.title = title
        self.description = description
        self.picURL = picURL
        self.url = url
    }
}

/// The limits WeChat puts on passive replies, where going over shows the member an error.
public enum ReplyLimits {
    /// The most UTF-8 bytes of a text reply that is shown whole. Longer text is cut at a
    /// character boundary with an ellipsis. WeChat does not publish the figure; 2048 is the
    /// one the SDKs and practice agree on.
    public static let maxTextBytes = 2048

    /// What a cut text ends with.
    public static let ellipsis = "…"

    /// The most article cards in a reply to a member's message (text, image, voice, video,
    /// location, link and so on), since 2018-10-12.
    public static let maxArticlesAnsweringMessage = 1

    /// The most article cards in a reply to an event (menu click, subscribe, scan).
    public static let maxArticlesAnsweringEvent = 8

    /// The most article cards a reply to `message` may have.
    public static func maxArticles(answering message: InboundMessage) -> Int {
        message.isEvent ? maxArticlesAnsweringEvent : maxArticlesAnsweringMessage
    }

    /// `text` cut to at most `maxBytes` UTF-8 bytes, ellipsis included, at a character boundary.
    public static func truncate(_ text: String, maxBytes: Int = maxTextBytes) -> String {
        guard text.utf8.count > maxBytes else { return text }
        let budget = maxBytes - ellipsis.utf8.count
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = character.utf8.count
            if used + size > budget { break }
            used += size
            end = text.index(after: end)
        }
        return String(text[..<end]) + ellipsis
    }
}

extension ReplyBody {
    /// This body made to fit WeChat's limits for a reply to `message`, and the article cards
    /// that did not fit, which the caller may send later through the customer-service API.
    public func fitted(answering message: InboundMessage) -> (body: ReplyBody, overflow: [Article]) {
        switch self {
        case .text(let text):
            return (.text(ReplyLimits.truncate(text)), [])
        case .news(let articles):
            let limit = ReplyLimits.maxArticles(answering: message)
            guard articles.count > limit else { return (self, []) }
            return (.news(Array(articles.prefix(limit))), Array(articles.dropFirst(limit)))
        default:
            return (self, [])
        }
    }
}
