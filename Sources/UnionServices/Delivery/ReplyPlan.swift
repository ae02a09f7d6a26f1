import WeChatWire

/// How a handler's outcome reaches the member: the passive reply, made to fit WeChat's limits
/// for the message it answers, and what goes later through late delivery (the replies after the
/// first, and article cards beyond the passive reply's limit).
///
/// This is the one place where a reply is fitted: the webhook and `uniongate chat` both use it.
public struct ReplyPlan: Sendable, Hashable {
    /// What the passive reply says; nil answers `success`.
    public var passive: ReplyBody?
    /// The rule that answered, for metrics.
    public var ruleName: String?
    /// What is sent after the passive reply, in order, with why.
    public var later: [LateBatch]

    /// Replies sent later, and why.
    public struct LateBatch: Sendable, Hashable {
        /// The replies.
        public var bodies: [ReplyBody]
        /// Why they did not go in the passive reply.
        public var reason: LateReason

        /// Creates a batch.
        public init(bodies: [ReplyBody], reason: LateReason) {
            self.bodies = bodies
            self.reason = reason
        }
    }

    /// Plans the delivery of `outcome` as the answer to `message`.
    public init(_ outcome: HandlerOutcome, answering message: InboundMessage) {
        ruleName = outcome.ruleName
        later = []
        guard let first = outcome.replies.first else {
            passive = nil
            return
        }
        let (fitted, overflow) = first.fitted(answering: message)
        passive = fitted
        if !overflow.isEmpty {
            later.append(LateBatch(bodies: overflow.map { .news([$0]) }, reason: .overflowArticles))
        }
        if outcome.replies.count > 1 {
            later.append(LateBatch(bodies: Array(outcome.replies.dropFirst()), reason: .additionalReplies))
        }
    }
}
