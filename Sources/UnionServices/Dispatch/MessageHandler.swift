import WeChatWire

/// Answers one inbound message. The server calls it once per message, whatever WeChat's retries.
public protocol MessageHandler: Sendable {
    /// The replies to `message`: the first goes in the passive reply, the rest are sent later.
    /// Never throws: an internal error becomes a polite reply.
    func handle(_ message: InboundMessage) async -> HandlerOutcome

    /// The outcome, when it can be decided at once from memory: no storage, no service, nothing
    /// to wait for. Then it is what `handle` would return, and the server skips scheduling
    /// `handle`; nil sends the message the ordinary way.
    func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome?
}

extension MessageHandler {
    public func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? { nil }
}

/// What a handler made of a message.
public struct HandlerOutcome: Sendable, Hashable {
    /// The replies, in order. Empty means no reply (`success`).
    public var replies: [ReplyBody]
    /// The rule that answered, for metrics; nil when none did.
    public var ruleName: String?

    /// Creates an outcome.
    public init(replies: [ReplyBody], ruleName: String? = nil) {
        self.replies = replies
        self.ruleName = ruleName
    }

    /// No reply.
    public static let silence = HandlerOutcome(replies: [])
}

/// The text a member sees when something went wrong on our side, instead of WeChat's
/// 「该公众号暂时无法提供服务」.
public enum Apology {
    /// The polite reply for an internal error.
    public static let text = "抱歉，系统暂时有点忙，请稍后再试。如有急事，请拨打全国总工会职工服务热线 12351。"
}
