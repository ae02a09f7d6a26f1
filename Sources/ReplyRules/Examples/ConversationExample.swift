import WeChatWire

/// A conversation example the staff wrote beside their rules: "when a member sends X, the reply
/// contains Y". `uniongate check` runs them all, so a change that breaks a reply is caught.
public struct ConversationExample: Sendable, Hashable {
    /// The example's name, for the report.
    public var name: String
    /// Where it was written.
    public var source: SourceLocation
    /// Whether the example member is an approved union member.
    public var asMember: Bool
    /// The steps, in order, all by the same member.
    public var steps: [Step]

    /// Creates an example.
    public init(name: String, source: SourceLocation, asMember: Bool = false, steps: [Step]) {
        self.name = name
        self.source = source
        self.asMember = asMember
        self.steps = steps
    }

    /// One message and what its reply should (and should not) contain.
    public struct Step: Sendable, Hashable {
        /// What the member does.
        public var input: Input
        /// Texts every one of which the reply must contain.
        public var expect: [String]
        /// Texts none of which the reply may contain.
        public var expectNot: [String]
        /// True when the reply must be empty (no reply at all).
        public var expectSilence: Bool
        /// Where the step was written.
        public var source: SourceLocation

        /// Creates a step.
        public init(
            input: Input, expect: [String], expectNot: [String] = [], expectSilence: Bool = false,
            source: SourceLocation
        ) {
            self.input = input
            self.expect = expect
            self.expectNot = expectNot
            self.expectSilence = expectSilence
            self.source = source
        }
    }

    /// What the example member does.
    public enum Input: Sendable, Hashable {
        /// Sends text.
        case text(String)
        /// Taps a click button.
        case click(String)
        /// Taps a view button.
        case view(String)
        /// Follows the account, through a QR scene if given.
        case subscribe(scene: String?)
        /// Scans a QR scene as a follower.
        case scan(String)
        /// Sends a picture.
        case image
    }
}

extension ConversationExample.Input {
    /// The inbound message this input makes for `sender`, at `createTime`, with `msgId`.
    public func message(account: String, sender: String, createTime: Int64, msgId: UInt64) -> InboundMessage {
        let header = MessageHeader(account: account, sender: sender, createTime: createTime)
        var withId = header
        withId.msgId = msgId
        switch self {
        case .text(let text): return InboundMessage(header: withId, kind: .text(TextMessage(content: text)))
        case .image:
            return InboundMessage(
                header: withId, kind: .image(ImageMessage(picURL: "https://example.invalid/p.jpg", mediaId: "m")))
        case .click(let key): return InboundMessage(header: header, kind: .event(.click(key: key)))
        case .view(let url): return InboundMessage(header: header, kind: .event(.view(url: url, menuId: nil)))
        case .subscribe(let scene):
            return InboundMessage(header: header, kind: .event(.subscribe(scene: scene, ticket: nil)))
        case .scan(let scene): return InboundMessage(header: header, kind: .event(.scan(scene: scene, ticket: nil)))
        }
    }
}

/// What a member would read in a set of replies: text, card titles and descriptions, media noted
/// by kind. Used to check examples and to show replies in the terminal chat.
public func visibleText(of bodies: [ReplyBody]) -> String {
    bodies.map { body -> String in
        switch body {
        case .text(let text): text
        case .news(let articles): articles.map { "【\($0.title)】\($0.description)" }.joined(separator: "\n")
        case .image: "[图片]"
        case .voice: "[语音]"
        case .video(_, let title, _): "[视频]\(title ?? "")"
        case .music(let music): "[音乐]\(music.title ?? "")"
        case .transferToCustomerService: "[转人工客服]"
        }
    }.joined(separator: "\n")
}
