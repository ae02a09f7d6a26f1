import Logging
import Synchronization
import UnionServices
import WeChatWire

/// Makes every message run its handler exactly once, whatever WeChat's retries, keeps the reply
/// for the retries, and enforces the reply deadline.
///
/// - A retry that arrives while the first attempt is still running waits for the same result.
/// - A retry after it finished gets the stored reply again, with the same CreateTime.
/// - A request whose deadline passes answers `success`; the outcome, when it comes, goes whole
///   to late delivery, and later retries get `success` too, so nothing is said twice.
/// - What the passive reply cannot carry (see ``ReplyPlan``) goes to late delivery once.
///
/// What it remembers is ``RetryMemory``; who waits is ``ReplyWaiters``. Time comes from a
/// `Clock` given at init, so that generations and deadlines are tested with a clock moved by
/// hand. The ledger itself is not generic: the webhook's hot path runs specialised code,
/// whichever clock it was given.
final class DeliveryLedger: Sendable {
    /// What a request should answer.
    struct Answer: Sendable {
        /// The reply, or nil when the deadline passed (answer `success`).
        var reply: RecordedReply?
        /// The reply's CreateTime, the same for every attempt.
        var createTime: Int64
        /// True when this request was a retry of one already seen.
        var duplicate: Bool
    }

    private typealias Key = MessageKey.Identity

    private struct State {
        var memory: RetryMemory
        var waiters = ReplyWaiters<Answer>()
        var sweeperStarted = false

        /// What is known of `key`, with one lookup: the answer a finished (or handed-off)
        /// message gives to a retry, that it is still running, or that it is new.
        func known(_ key: Key) -> Known {
            guard let entry = memory[key] else { return .new }
            switch entry.phase {
            case .done(let reply): return .answered(Answer(reply: reply, createTime: entry.createTime, duplicate: true))
            case .handedOff: return .answered(Answer(reply: nil, createTime: entry.createTime, duplicate: true))
            case .running: return .running
            }
        }
    }

    /// What is known of a message when a request for it arrives.
    private enum Known {
        case answered(Answer)
        case running
        case new
    }

    private let handler: any MessageHandler
    private let lateDelivery: any LateDelivery
    private let metrics: GatewayMetrics
    private let deadline: Duration
    private let clock: LedgerClock
    private let logger: Logger
    private let state: Mutex<State>
    private let sweeper = Mutex<Task<Void, Never>?>(nil)
    /// Each member's messages, handled one at a time in order of arrival.
    let senders = SenderQueue()

    init<C: Clock>(
        handler: any MessageHandler, lateDelivery: any LateDelivery, metrics: GatewayMetrics, deadline: Duration,
        window: Duration = .seconds(300), capacity: Int = 48_000, clock: C, logger: Logger,
        hash: @escaping @Sendable (MessageKey.Identity) -> Int = { $0.digest }
    ) where C.Duration == Duration {
        let clock = LedgerClock(clock)
        self.state = Mutex(
            State(memory: RetryMemory(capacity: capacity, window: window, now: clock.now(), hashOf: hash)))
        self.handler = handler
        self.lateDelivery = lateDelivery
        self.metrics = metrics
        self.deadline = deadline
        self.clock = clock
        self.logger = logger
    }

    deinit {
        sweeper.withLock { $0?.cancel() }
    }

    /// Submits a message (or its retry) and waits for what to answer.
    func submit(_ message: InboundMessage, createTime: Int64) async -> Answer {
        if let answer = answerAtOnce(message, createTime: createTime) { return answer }
        let key = MessageKey.identity(of: message)
        let now = clock.now()
        let known = state.withLock { state -> Known in
            let known = state.known(key)
            if case .new = known {
                state.memory.insert(key, .init(phase: .running, createTime: createTime), now: now)
            }
            return known
        }
        switch known {
        case .answered(let answer):
            metrics.duplicate()
            return answer
        case .running:
            metrics.duplicate()
            return await wait(for: key, duplicate: true, since: now)
        case .new:
            startSweeperIfNeeded()
            return await wait(for: key, duplicate: false, since: now) {
                let handler = self.handler
                let turn = self.senders.enqueue(message.header.sender)
                Task {
                    await turn.wait()
                    let outcome = await handler.handle(message)
                    self.senders.leave(turn)
                    self.complete(key, outcome, message: message)
                }
            }
        }
    }

    /// Answers without waiting, when that is possible: a retry of a finished message gets its
    /// stored reply, and a new message that the handler answers from memory is recorded and
    /// answered. Nil when the message has to wait (its handler must run, or its first attempt
    /// is still running): then ``submit(_:createTime:)`` it. Never blocks, so the event loop
    /// can call it.
    func answerAtOnce(_ message: InboundMessage, createTime: Int64) -> Answer? {
        let key = MessageKey.identity(of: message)
        let known = state.withLock { $0.known(key) }
        switch known {
        case .answered(let answer):
            metrics.duplicate()
            return answer
        case .running:
            return nil
        case .new:
            break
        }
        // Decided outside the lock; answerAtOnce has no side effects, so if a retry raced us
        // here, whichever reply is recorded first is the one every attempt gets.
        // A member with a message in hand waits for it: an answer from memory now could come
        // before that message's, or from the state it is about to change.
        guard !senders.isBusy(message.header.sender), let outcome = handler.answerAtOnce(message) else {
            return nil
        }
        let plan = ReplyPlan(outcome, answering: message)
        let now = clock.now()
        let recorded = state.withLock { state -> Known in
            let known = state.known(key)
            guard case .new = known else { return known }
            let reply = state.memory.intern(RecordedReply(passive: plan.passive, ruleName: plan.ruleName))
            state.memory.insert(key, .init(phase: .done(reply), createTime: createTime), now: now)
            return .answered(Answer(reply: reply, createTime: createTime, duplicate: false))
        }
        switch recorded {
        case .answered(let answer) where answer.duplicate:
            metrics.duplicate()
            return answer
        case .answered(let answer):
            hand(plan.later, answering: message)
            return answer
        case .running, .new:
            return nil
        }
    }

    /// Waits for the outcome of the running message `key`, or for its deadline; `start` runs
    /// once the waiter is in place (it starts the handler, so the handler cannot finish unseen).
    private func wait(
        for key: Key, duplicate: Bool, since now: Duration, then start: () -> Void = {}
    ) async -> Answer {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Answer? in
                guard case .running = state.known(key) else {
                    // Finished meanwhile (or gone to late delivery): answer as a lookup would.
                    guard case .answered(var answer) = state.known(key) else {
                        return Answer(reply: nil, createTime: 0, duplicate: duplicate)
                    }
                    answer.duplicate = duplicate
                    return answer
                }
                state.waiters.add(
                    .init(duplicate: duplicate, continuation: continuation), for: key,
                    until: now + deadline)
                return nil
            }
            if let ready {
                continuation.resume(returning: ready)
            } else {
                start()
            }
        }
    }

    /// Records `outcome` for `key` and answers its waiters; hands what the passive reply cannot
    /// carry to late delivery, and all of it when the deadline already passed.
    private func complete(_ key: Key, _ outcome: HandlerOutcome, message: InboundMessage) {
        let plan = ReplyPlan(outcome, answering: message)
        let answered = state.withLock { state -> (waiters: [ReplyWaiters<Answer>.Waiter], Answer)? in
            guard var entry = state.memory[key], case .running = entry.phase else {
                return nil  // handed off (or no longer kept): deliver late
            }
            let reply = state.memory.intern(RecordedReply(passive: plan.passive, ruleName: plan.ruleName))
            entry.phase = .done(reply)
            state.memory[key] = entry
            return (state.waiters.take(key), Answer(reply: reply, createTime: entry.createTime, duplicate: false))
        }
        guard let (waiters, answer) = answered else {
            hand([.init(bodies: outcome.replies, reason: .deadline)], answering: message)
            return
        }
        for waiter in waiters {
            var answer = answer
            answer.duplicate = waiter.duplicate
            waiter.continuation.resume(returning: answer)
        }
        hand(plan.later, answering: message)
    }

    private func hand(_ batches: [ReplyPlan.LateBatch], answering message: InboundMessage) {
        let batches = batches.filter { !$0.bodies.isEmpty }
        guard !batches.isEmpty else { return }
        metrics.lateDelivery(count: batches.reduce(0) { $0 + $1.bodies.count })
        let lateDelivery = self.lateDelivery
        Task {
            for batch in batches {
                await lateDelivery.deliver(
                    batch.bodies, to: message.header.sender, account: message.header.account, reason: batch.reason)
            }
        }
    }

    /// Answers every request whose deadline has passed with `success`, and marks its message
    /// handed off: its outcome goes to late delivery when it comes.
    func sweep() {
        let now = clock.now()
        let expired = state.withLock { state in
            let expired = state.waiters.expired(at: now)
            for (key, _) in expired {
                guard var entry = state.memory[key], case .running = entry.phase else { continue }
                entry.phase = .handedOff
                state.memory[key] = entry
            }
            return expired
        }
        guard !expired.isEmpty else { return }
        logger.warning(
            "reply deadline passed; answering success and delivering later", metadata: ["messages": "\(expired.count)"])
        for (_, waiters) in expired {
            for waiter in waiters {
                waiter.continuation.resume(returning: Answer(reply: nil, createTime: 0, duplicate: waiter.duplicate))
            }
        }
    }

    private func startSweeperIfNeeded() {
        let start = state.withLock { state -> Bool in
            defer { state.sweeperStarted = true }
            return !state.sweeperStarted
        }
        guard start else { return }
        let tick = min(deadline / 10, .milliseconds(50))
        let clock = self.clock
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await clock.sleep(tick)
                guard let self else { return }
                self.sweep()
            }
        }
        sweeper.withLock { $0 = task }
    }

    /// How many messages are remembered, for tests.
    var count: Int { state.withLock { $0.memory.count } }
}

/// A `Clock` reduced to what the ledger needs, so that the ledger need not be generic: the time
/// since the ledger started, and sleeping.
struct LedgerClock: Sendable {
    /// The time elapsed since this was made.
    let now: @Sendable () -> Duration
    /// Sleeps for a while on the clock.
    let sleep: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleep = { try await clock.sleep(for: $0) }
    }
}
