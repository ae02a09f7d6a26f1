/// A message or event that WeChat delivered to the account's webhook.
public struct InboundMessage: Sendable, Hashable {
    /// The fields every message and event has.
    public var header: MessageHeader
    /// What kind of message or event this is, with its own fields.
    public var kind: Kind

    /// Creates a message.
    public init(header: MessageHeader, kind: Kind) {
        self.header = header
        self.kind = kind
    }

    /// The kinds of message and event, with their fields.
    public enum Kind: Sendable, Hashable {
        /// A text message.
        case text(TextMessage)
        /// A picture.
        case image(ImageMessage)
        /// A voice message.
        case voice(VoiceMessage)
        /// A video.
        case video(VideoMessage)
        /// A short video.
        case shortVideo(VideoMessage)
        /// A location the member shared.
        case location(LocationMessage)
        /// A link the member shared.
        case link(LinkMessage)
        /// An event: subscription, menu click, scan and so on.
        case event(InboundEvent)
        /// A message type this library does not know, kept with its fields.
        case unknown(msgType: String, fields: [XMLElement])
    }

    /// True for events, false for messages the member sent.
    public var isEvent: Bool {
        if case .event = kind { return true }
        return false
    }

    /// The `MsgType` value that stands for this kind on the wire.
    public var msgType: String {
        switch kind {
        case .text: "text"
        case .image: "image"
        case .voice: "voice"
        case .video: "video"
        case .shortVideo: "shortvideo"
        case .location: "location"
        case .link: "link"
        case .event: "event"
        case .unknown(let msgType, _): msgType
        }
    }
}

/// The fields common to every message and event.
public struct MessageHeader: Sendable, Hashable {
    /// The official account's id (`ToUserName`, `gh_…`).
    public var account: String
    /// The member's openid (`FromUserName`).
    public var sender: String
    /// When WeChat created the message, in Unix seconds.
    public var createTime: Int64
    /// The message id; messages have one, events do not.
    public var msgId: UInt64?
    /// The id of the article a comment-like message refers to, when present (`MsgDataId`).
    public var msgDataId: String?
    /// The article index within a multi-article message, when present (`Idx`).
    public var idx: String?

    /// Creates a header.
    public init(
        account: String, sender: String, createTime: Int64, msgId: UInt64? = nil, msgDataId: String? = nil,
        idx: String? = nil
    ) {
        self.account = account
        self.sender = sender
        self.createTime = createTime
        self.msgId = msgId
        self.msgDataId = msgDataId
        self.idx = idx
    }
}

/// A text message.
public struct TextMessage: Sendable, Hashable {
    /// What the member wrote.
    public var content: String
    /// Set when the member tapped an option of a message menu (`bizmsgmenuid`).
    public var menuOptionId: String?

    /// Creates a text message.
    public init(content: String, menuOptionId: String? = nil) {
        self.content = content
        self.menuOptionId = menuOptionId
    }
}

/// A picture message.
public struct ImageMessage: Sendable, Hashable {
    /// Where WeChat serves the picture.
    public var picURL: String
    /// The picture's media id.
    public var mediaId: String

    /// Creates a picture message.
    public init(picURL: String, mediaId: String) {
        self.picURL = picURL
        self.mediaId = mediaId
    }
}

/// A voice message.
public struct VoiceMessage: Sendable, Hashable {
    /// The recording's media id.
    public var mediaId: String
    /// The recording's format, such as `amr` or `speex`.
    public var format: String
    /// The 16 kHz recording's media id, when present.
    public var mediaId16K: String?
    /// WeChat's speech recognition of the recording, when the account has it enabled.
    public var recognition: String?

    /// Creates a voice message.
    public init(mediaId: String, format: String, mediaId16K: String? = nil, recognition: String? = nil) {
        self.mediaId = mediaId
        self.format = format
        self.mediaId16K = mediaId16K
        self.recognition = recognition
    }
}

/// A video or short-video message.
public struct VideoMessage: Sendable, Hashable {
    /// The video's media id.
    public var mediaId: String
    /// The thumbnail's media id.
    public var thumbMediaId: String

    /// Creates a video message.
    public init(mediaId: String, thumbMediaId: String) {
        self.mediaId = mediaId
        self.thumbMediaId = thumbMediaId
    }
}

/// A location the member shared.
public struct LocationMessage: Sendable, Hashable {
    /// Latitude (`Location_X`).
    public var latitude: Double
    /// Longitude (`Location_Y`).
    public var longitude: Double
    /// The map's zoom level.
    public var scale: Int
    /// The place's description.
    public var label: String

    /// Creates a location message.
    public init(latitude: Double, longitude: Double, scale: Int, label: String) {
        self.latitude = latitude
        self.longitude = longitude
        self.scale = scale
        self.label = label
    }
}

/// A link the member shared.
public struct LinkMessage: Sendable, Hashable {
    /// The link's title.
    public var title: String
    /// The link's description.
    public var description: String
    /// The link's address.
    public var url: String

    /// Creates a link message.
    public init(title: String, description: String, url: String) {
        self.title = title
        self.description = description
        self.url = url
    }
}
