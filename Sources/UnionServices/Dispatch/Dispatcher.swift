import Logging
import ReplyRules
import WeChatWire

/// Answers messages: the services get the first look (a form in progress), then the rules
/// choose a reply, and service hand-overs are performed.
public struct Dispatcher: MessageHandler {
    private let rules: LiveRules
    private let services: any ServiceDesk
    private let membership: any MembershipDirectory
    private let clock: @Sendable () -> Int64
    private let logger: Logger

    /// Creates a dispatcher.
    ///
    /// - Parameter clock: the current Unix time; tests pass a fixed one.
    public init(
        rules: LiveRules, services: any ServiceDesk, membership: any MembershipDirectory, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = UnixTime.now
    ) {
        self.rules = rules
        self.services = services
        self.membership = membership
        self.clock = clock
        self.logger = logger
    }

    /// Answers at once when the member has nothing pending with the services and this message
    /// is decided from memory (no membership lookup, no regular expression on the way to its
    /// rule), and the rule replies by itself (no service action): the common case of a keyword
    /// reply, which then costs no task and no storage. Decided per message.
    public func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? {
        guard services.isIdle(for: message.header.sender),
            case .decided(let decision) = rules.engine.decideFromMemory(message, unixTime: clock())
        else { return nil }
        guard let decision else { return .silence }
        let templates = Self.chosen(decision)
        var replies: [ReplyBody] = []
        replies.reserveCapacity(templates.count)
        for template in templates {
            if case .service = template { return nil }
            if let body = template.body(decision.values) { replies.append(body) }
        }
        return HandlerOutcome(replies: replies, ruleName: decision.rule.name)
    }

    private static func chosen(_ decision: RuleDecision) -> [ReplyTemplate] {
        var random = SystemRandomNumberGenerator()
        return decision.replies(using: &random)
    }

    public func handle(_ message: InboundMessage) async -> HandlerOutcome {
        let engine = rules.engine
        let now = clock()
        do {
            let notices = try await services.takeHeldNotices(message.header.sender, at: now)
            var note: String? = notices.isEmpty ? nil : notices.joined(separator: "\n\n")
            switch try await services.intercept(message, rules: engine, at: now) {
            case .replies(var replies)?:
                if let note, case .text(let first)? = replies.first { replies[0] = .text(note + "\n\n" + first) }
                return HandlerOutcome(replies: replies, ruleName: "conversation")
            case .note(let text)?:
                note = [note, text].compactMap { $0 }.joined(separator: "\n\n")
            case nil:
                break
            }
            let isMember = engine.needsMembership ? try await membership.isMember(message.header.sender) : false
            guard let decision = engine.decide(message, context: MatchContext(unixTime: now, isMember: isMember)) else {
                return note.map { HandlerOutcome(replies: [.text($0)], ruleName: "conversation") } ?? .silence
            }
            var replies: [ReplyBody] = []
            for template in Self.chosen(decision) {
                if case .service(let action) = template {
                    replies += try await services.perform(action, for: message, values: decision.values, rules: engine)
                } else if let body = template.body(decision.values) {
                    replies.append(body)
                }
            }
            if let note {
                // One passive message only: the note goes in front of the first text reply.
                if case .text(let first)? = replies.first {
                    replies[0] = .text(note + "\n\n" + first)
                } else {
                    replies.insert(.text(note), at: 0)
                }
            }
            return HandlerOutcome(replies: replies, ruleName: decision.rule.name)
        } catch {
            logger.error(
                "handler failed; the member gets an apology",
                metadata: [
                    "error": "\(PersonalData.maskPhones(String(describing: error)))", "msgType": "\(message.msgType)",
                ])
            return HandlerOutcome(replies: [.text(Apology.text)], ruleName: "error")
        }
    }
}
