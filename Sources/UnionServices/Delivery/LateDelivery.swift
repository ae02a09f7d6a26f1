import WeChatWire

/// Why a reply is sent after the passive reply rather than in it.
public enum LateReason: String, Sendable, Hashable {
    /// The handler missed the reply deadline; the member was answered `success` and gets the reply now.
    case deadline
    /// A rule with several replies (`reply_all`): the first went in the passive reply.
    case additionalReplies = "additional_replies"
    /// Article cards beyond the passive reply's limit.
    case overflowArticles = "overflow_articles"
    /// A notice caused by something an admin did (an approval, a status change).
    case notice
    /// The answer to a message kept in the journal while the database could not write.
    case journal
}

/// Sends replies that cannot go in the passive reply. ``OutboxLateDelivery`` implements it: the
/// replies are queued in the store and the ``OutboxWorker`` sends them with the customer-service API.
public protocol LateDelivery: Sendable {
    /// Hands over `bodies` for the member `recipient` of `account`.
    func deliver(_ bodies: [ReplyBody], to recipient: String, account: String, reason: LateReason) async
}
