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
    /// Where messages wait while the database cannot write; nil: such a message gets an apology.
    private let journal: InboundJournal?
    /// Where messages and new followers are counted per day; nil: not counted.
    private let counts: DailyCounts?
    /// The members' turns across instances; nil with one process (its own line keeps order).
    private let turns: MemberTurns?

    /// Creates a dispatcher.
    ///
    /// - Parameter clock: the current Unix time; tests pass a fixed one.
    public init(
        rules: LiveRules, services: any ServiceDesk, membership: any MembershipDirectory, logger: Logger,
        clock: @escaping @Sendable () -> Int64 = UnixTime.now, journal: InboundJournal? = nil,
        counts: DailyCounts? = nil, turns: MemberTurns? = nil
    ) {
        self.journal = journal
        self.turns = turns
        self.counts = counts
        self.rules = rules
        self.services = services
        self.membership = membership
        self.clock = clock
        self.logger = logger
    }

    /// Answers at once when memory alone can: a keyword reply, a service that reads only what
    /// the services remember (the hotline, welfare, 入会进度, 我的建议), or help in the middle of a
    /// form. Decided per message, the same way ``handle(_:)`` decides, by asking the services
    /// and the rules for what they can tell without the store; nil when something needs it.
    public func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? {
        if let journal, journal.holds(message.header.sender) { return nil }  // waits behind the journal
        if NoticeReports.isReport(message) { return nil }  // recorded: a write
        let engine = rules.engine
        let now = clock()
        guard case .known(let interception) = services.interceptFromMemory(message, rules: engine, at: now) else {
            return nil
        }
        if let replies = interception {
            tally(message, at: now, rules: engine)
            return HandlerOutcome(replies: replies, ruleName: "conversation")
        }
        let isMember = services.membershipFromMemory(message.header.sender)
        guard case .decided(let decision) = engine.decideFromMemory(message, unixTime: now, isMember: isMember)
        else { return nil }
        // What no rule answers goes to the inbox: a write.
        if decision == nil || decision?.reason == .fallback, services.keepsUnanswered(message, rules: engine) {
            return nil
        }
        guard let decision else {
            tally(message, at: now, rules: engine)
            return .silence
        }
        var replies: [ReplyBody] = []
        for template in Self.chosen(decision) {
            if case .service(let action) = template {
                guard
                    case .known(let bodies) = services.performFromMemory(
                        action, for: message, values: decision.values, rules: engine)
                else { return nil }
                replies += bodies
            } else if let body = template.body(decision.values) {
                replies.append(body)
            }
        }
        tally(message, at: now, rules: engine)
        return HandlerOutcome(replies: replies, ruleName: decision.rule.name)
    }

    /// Counts a message answered for the first time (not WeChat's retries, which the ledger
    /// answers): a member's message or menu tap, or a new follower.
    private func tally(_ message: InboundMessage, at now: Int64, rules: RuleEngine) {
        guard let counts else { return }
        let offset = rules.book.settings.utcOffsetMinutes
        let key = counts.acrossInstances ? MessageKey.of(message) : nil
        switch message.kind {
        case .event(.subscribe):
            counts.count(.followers, at: now, utcOffsetMinutes: offset, messageKey: key)
            counts.count(.messages, at: now, utcOffsetMinutes: offset, messageKey: key)
        case .event(.click), .event(.scanCode), .event(.pictures), .event(.locationSelect):
            counts.count(.messages, at: now, utcOffsetMinutes: offset, messageKey: key)
        case .event:
            return  // views, reports, locations: not a member writing
        default:
            counts.count(.messages, at: now, utcOffsetMinutes: offset, messageKey: key)
        }
    }

    private static func chosen(_ decision: RuleDecision) -> [ReplyTemplate] {
        var random = SystemRandomNumberGenerator()
        return decision.replies(using: &random)
    }

    /// What a member is told when the database cannot write and the message waits in the
    /// journal: received, and the answer comes later.
    public static let heldText = "您的消息已收到。系统正忙，处理结果会稍后通过消息发送给您，请勿重复发送。"

    public func handle(_ message: InboundMessage) async -> HandlerOutcome {
        tally(message, at: clock(), rules: rules.engine)
        // Behind a message of the member's that waits in the journal, the next ones wait too,
        // so that they are applied in order.
        if let journal, journal.holds(message.header.sender) {
            return keep(message, in: journal, because: nil)
        }
        do {
            guard let turns else { return try await answer(message) }
            // After the member's earlier messages, whichever instance they reached.
            return try await turns.inTurn(account: message.header.account, openid: message.header.sender) {
                try await answer(message)
            }
        } catch {
            if let journal, StoreUnavailable.isTrouble(error) {
                return keep(message, in: journal, because: error)
            }
            logger.error(
                "handler failed; the member gets an apology",
                metadata: [
                    "error": "\(PersonalData.maskPhones(String(describing: error)))", "msgType": "\(message.msgType)",
                ])
            return HandlerOutcome(replies: [.text(Apology.text)], ruleName: "error")
        }
    }

    /// Writes `message` to the journal and tells the member it was received; an apology when
    /// even the journal cannot be written.
    private func keep(_ message: InboundMessage, in journal: InboundJournal, because error: (any Error)?)
        -> HandlerOutcome
    {
        do {
            try journal.record(message)
            logger.warning(
                "message kept in the journal until the database writes again",
                metadata: [
                    "member": "\(PersonalData.maskOpenID(message.header.sender))",
                    "error":
                        "\(error.map { PersonalData.maskPhones(String(describing: $0)) } ?? "an earlier message waits")",
                ])
            return HandlerOutcome(replies: [.text(Self.heldText)], ruleName: "journal")
        } catch {
            logger.error(
                "the database and the journal both failed; the member gets an apology",
                metadata: ["error": "\(error)"])
            return HandlerOutcome(replies: [.text(Apology.text)], ruleName: "error")
        }
    }

    /// Handles the messages waiting in the journal, oldest first, and hands each outcome to
    /// `deliver` (to be sent later). Stops at the first that still cannot be stored, so order
    /// is kept; returns how many were handled.
    public func replayJournal(deliver: (InboundMessage, HandlerOutcome) async -> Void) async throws -> Int {
        guard let journal else { return 0 }
        var handled = 0
        for entry in journal.pending {
            let outcome: HandlerOutcome
            do {
                outcome = try await answer(entry.message)
            } catch  where StoreUnavailable.isTrouble(error) {
                break
            } catch {
                logger.error("a message from the journal failed; the member gets an apology: \(error)")
                outcome = HandlerOutcome(replies: [.text(Apology.text)], ruleName: "error")
            }
            await deliver(entry.message, outcome)
            try journal.complete([entry.id])
            handled += 1
        }
        return handled
    }

    private func answer(_ message: InboundMessage) async throws -> HandlerOutcome {
        let engine = rules.engine
        let now = clock()
        do {
            // WeChat's reports about notices are recorded and answered with nothing; held
            // notices wait for a message the member sees an answer to.
            if try await services.recordNoticeReport(message, at: now) { return .silence }
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
            let decision = engine.decide(message, context: MatchContext(unixTime: now, isMember: isMember))
            var replies: [ReplyBody] = []
            var ruleName = decision?.rule.name ?? ""
            if decision == nil || decision?.reason == .fallback,
                let kept = try await services.receiveUnanswered(message, rules: engine, at: now)
            {
                replies = kept
                ruleName = "inbox"
            } else if let decision {
                replies = try await perform(decision, message: message, engine: engine)
            } else {
                return note.map { HandlerOutcome(replies: [.text($0)], ruleName: "conversation") } ?? .silence
            }
            if let note {
                // One passive message only: the note goes in front of the first text reply.
                if case .text(let first)? = replies.first {
                    replies[0] = .text(note + "\n\n" + first)
                } else {
                    replies.insert(.text(note), at: 0)
                }
            }
            return HandlerOutcome(replies: replies, ruleName: ruleName)
        }
    }

    private func perform(_ decision: RuleDecision, message: InboundMessage, engine: RuleEngine) async throws
        -> [ReplyBody]
    {
        do {
            var replies: [ReplyBody] = []
            for template in Self.chosen(decision) {
                if case .service(let action) = template {
                    replies += try await services.perform(action, for: message, values: decision.values, rules: engine)
                } else if let body = template.body(decision.values) {
                    replies.append(body)
                }
            }
            return replies
        }
    }
}
