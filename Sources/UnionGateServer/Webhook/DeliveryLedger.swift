import Logging
#if canImport(Glibc)
    import Glibc
#endif
import Synchronization
import UnionServices
import WeChatWire

/// Makes every message run its handler exactly once, whatever WeChat's retries, and keeps the
/// reply for the retries; enforces the reply deadline.
///
/// - A retry that arrives while the first attempt is still running waits for the same result.
/// - A retry after it finished gets the stored outcome again, with the same CreateTime.
/// - A waiter whose deadline passes is told to answer `success`; the outcome, when it comes, goes
///   whole to late delivery, and later retries get `success` too, so nothing is said twice.
/// - Extra replies (`reply_all`) and cards beyond the passive limit go to late delivery once.
///
/// Entries are kept for `window` and at most `capacity` of them, oldest dropped first. A finished
/// entry keeps only its outcome, and identical outcomes share one copy, so the ledger stays small
/// even when it remembers every message of the last minutes.
final class DeliveryLedger: Sendable {
    /// What a request should answer.
    struct Answer: Sendable {
        /// The outcome, or nil when the deadline passed (answer `success`).
        var outcome: HandlerOutcome?
        /// The reply's CreateTime, the same for every attempt.
        var createTime: Int64
        /// True when this request was a retry of one already seen.
        var duplicate: Bool
    }

    private struct Waiter {
        let deadline: ContinuousClock.Instant
        let duplicate: Bool
        let continuation: CheckedContinuation<Answer, Never>
    }

    private enum Phase {
        case running(waiters: [Waiter])
        case done(HandlerOutcome)
        /// The deadline passed: the outcome goes (or went) to late delivery.
        case handedOff
    }

    private struct Entry {
        var phase: Phase
        let createTime: Int64
        let inserted: ContinuousClock.Instant
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Keys of running entries with waiters, so the sweeper never walks the whole ledger.
        var waiting: Set<String> = []
        var order: [String] = []
        var orderHead = 0
        /// Recent distinct single-text outcomes, so identical replies share storage.
        var interned: [TextKey: HandlerOutcome] = [:]
        var sweeperStarted = false
    }

    private let handler: any MessageHandler
    private let lateDelivery: any LateDelivery
    private let metrics: GatewayMetrics
    private let deadline: Duration
    private let window: Duration
    private let capacity: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    init(
        handler: any MessageHandler, lateDelivery: any LateDelivery, metrics: GatewayMetrics, deadline: Duration,
        window: Duration = .seconds(300), capacity: Int = 100_000, logger: Logger
    ) {
        self.handler = handler
        self.lateDelivery = lateDelivery
        self.metrics = metrics
        self.deadline = deadline
        self.window = window
        self.capacity = capacity
        self.logger = logger
    }

    deinit {
        sweeper.withLock { $0?.cancel() }
    }

    /// Submits a message (or its retry) and waits for what to answer.
    func submit(_ message: InboundMessage, createTime: Int64) async -> Answer {
        let key = MessageKey.of(message)
        return await withCheckedContinuation { continuation in
            let now = ContinuousClock.now
            let waiter = { (duplicate: Bool) in
                Waiter(deadline: now + self.deadline, duplicate: duplicate, continuation: continuation)
            }
            enum Decision {
                case answer(Answer)
                case waiting
                case start
            }
            let decision = state.withLock { state -> Decision in
                if var entry = state.entries[key] {
                    switch entry.phase {
                    case .done(let outcome):
                        return .answer(Answer(outcome: outcome, createTime: entry.createTime, duplicate: true))
                    case .handedOff:
                        return .answer(Answer(outcome: nil, createTime: entry.createTime, duplicate: true))
                    case .running(var waiters):
                        waiters.append(waiter(true))
                        entry.phase = .running(waiters: waiters)
                        state.entries[key] = entry
                        state.waiting.insert(key)
                        return .waiting
                    }
                }
                Self.evict(&state, now: now, window: window, capacity: capacity)
                state.entries[key] = Entry(
                    phase: .running(waiters: [waiter(false)]), createTime: createTime, inserted: now)
                state.waiting.insert(key)
                state.order.append(key)
                return .start
            }
            switch decision {
            case .answer(let answer):
                metrics.duplicate()
                continuation.resume(returning: answer)
            case .waiting:
                metrics.duplicate()
            case .start:
                startSweeperIfNeeded()
                let handler = self.handler
                Task {
                    let outcome = await handler.handle(message)
                    self.complete(key, outcome, message: message)
                }
            }
        }
    }

    private func complete(_ key: String, _ outcome: HandlerOutcome, message: InboundMessage) {
        let (waiters, createTime, handedOff) = state.withLock { state -> ([Waiter], Int64, Bool) in
            let shared = Self.intern(outcome, in: &state)
            guard var entry = state.entries[key] else {
                return ([], 0, true)  // evicted while running (only under extreme load): deliver late
            }
            state.waiting.remove(key)
            switch entry.phase {
            case .running(let waiters):
                entry.phase = .done(shared)
                state.entries[key] = entry
                return (waiters, entry.createTime, false)
            case .handedOff, .done:
                return ([], entry.createTime, true)
            }
        }
        for waiter in waiters {
            waiter.continuation.resume(
                returning: Answer(outcome: outcome, createTime: createTime, duplicate: waiter.duplicate))
        }
        if handedOff {
            hand(outcome.replies, to: message, reason: .deadline)
            return
        }
        guard let first = outcome.replies.first else { return }
        let overflow = first.fitted(answering: message).overflow
        if !overflow.isEmpty {
            hand(overflow.map { .news([$0]) }, to: message, reason: .overflowArticles)
        }
        if outcome.replies.count > 1 {
            hand(Array(outcome.replies.dropFirst()), to: message, reason: .additionalReplies)
        }
    }

    private func hand(_ bodies: [ReplyBody], to message: InboundMessage, reason: LateReason) {
        guard !bodies.isEmpty else { return }
        metrics.lateDelivery(count: bodies.count)
        let lateDelivery = self.lateDelivery
        Task {
            await lateDelivery.deliver(
                bodies, to: message.header.sender, account: message.header.account, reason: reason)
        }
    }

    /// Answers every waiter whose deadline has passed with nil, and marks its entry handed off.
    private func sweep() {
        let now = ContinuousClock.now
        var expired: [Waiter] = []
        var handedOff = 0
        state.withLock { state in
            for key in state.waiting {
                guard var entry = state.entries[key], case .running(let waiters) = entry.phase else {
                    state.waiting.remove(key)
                    continue
                }
                let late = waiters.filter { $0.deadline <= now }
                guard !late.isEmpty else { continue }
                expired += late
                // The first deadline to pass hands the message off; its outcome goes to late delivery.
                entry.phase = .handedOff
                state.entries[key] = entry
                state.waiting.remove(key)
                handedOff += 1
                expired += waiters.filter { $0.deadline > now }
            }
        }
        if handedOff > 0 {
            logger.warning(
                "reply deadline passed; answering success and delivering later", metadata: ["messages": "\(handedOff)"])
        }
        for waiter in expired {
            waiter.continuation.resume(returning: Answer(outcome: nil, createTime: 0, duplicate: waiter.duplicate))
        }
    }

    private func startSweeperIfNeeded() {
        let start = state.withLock { state -> Bool in
            defer { state.sweeperStarted = true }
            return !state.sweeperStarted
        }
        guard start else { return }
        let tick = min(deadline / 10, .milliseconds(50))
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self else { return }
                self.sweep()
            }
        }
        sweeper.withLock { $0 = task }
    }

    private static func intern(_ outcome: HandlerOutcome, in state: inout State) -> HandlerOutcome {
        // Most replies are one text that many members get alike (帮助, 福利 …).
        guard outcome.replies.count == 1, case .text(let text) = outcome.replies[0] else { return outcome }
        let key = TextKey(text: text, rule: outcome.ruleName)
        if let shared = state.interned[key] { return shared }
        if state.interned.count >= 1024 { state.interned.removeAll(keepingCapacity: true) }
        state.interned[key] = outcome
        return outcome
    }

    /// A text compared and hashed by its UTF-8 bytes: String's own hashing normalises Unicode,
    /// which costs far more for a long Chinese reply than it is worth here.
    struct TextKey: Hashable {
        let text: String
        let rule: String?

        static func == (left: TextKey, right: TextKey) -> Bool {
            guard left.text.utf8.count == right.text.utf8.count, left.rule == right.rule else { return false }
            var a = left.text
            var b = right.text
            return a.withUTF8 { first in
                b.withUTF8 { second in
                    first.count == 0 || memcmp(first.baseAddress!, second.baseAddress!, first.count) == 0
                }
            }
        }

        func hash(into hasher: inout Hasher) {
            var text = self.text
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
            hasher.combine(rule?.utf8.count ?? -1)
        }
    }

    private static func evict(_ state: inout State, now: ContinuousClock.Instant, window: Duration, capacity: Int) {
        while state.orderHead < state.order.count {
            let key = state.order[state.orderHead]
            guard let entry = state.entries[key] else {
                state.orderHead += 1
                continue
            }
            let tooOld = now - entry.inserted > window
            guard tooOld || state.entries.count >= capacity else { break }
            // A running entry has a waiter until its deadline hands it off; it is never dropped
            // before that, so no request is left without an answer.
            if case .running = entry.phase { break }
            state.entries[key] = nil
            state.waiting.remove(key)
            state.orderHead += 1
        }
        if state.orderHead > 4096, state.orderHead * 2 > state.order.count {
            state.order.removeFirst(state.orderHead)
            state.orderHead = 0
        }
    }

    /// How many messages are remembered, for tests.
    var count: Int { state.withLock { $0.entries.count } }
}
