import Logging
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
}

/// Sends replies that cannot go in the passive reply. The WeChat API client implements it with
/// the customer-service message API; until then ``LoggingLateDelivery`` records them in the log.
public protocol LateDelivery: Sendable {
    /// Hands over `bodies` for the member `recipient` of `account`.
    func deliver(_ bodies: [ReplyBody], to recipient: String, account: String, reason: LateReason) async
}

/// A late delivery that only logs what it would send (no personal data: kinds and counts only).
public struct LoggingLateDelivery: LateDelivery {
    private let logger: Logger

    /// Creates it with the logger to write to.
    public init(logger: Logger) {
        self.logger = logger
    }

    public func deliver(_ bodies: [ReplyBody], to recipient: String, account: String, reason: LateReason) async {
        logger.notice(
            "late delivery not configured yet; replies not sent",
            metadata: [
                "reason": "\(reason.rawValue)", "count": "\(bodies.count)",
                "kinds": "\(bodies.map(\.msgType).joined(separator: ","))",
                "recipient": "\(PersonalData.maskOpenID(recipient))",
            ])
    }
}
