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
/// At most `capacity` messages are remembered, for at most `window`; at least the latest half
/// of them, for at least half the window (see `State`). A finished entry keeps only its outcome,
/// and identical outcomes share one copy, so the ledger stays small even when it remembers every
/// message of the last minutes.
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
        let duplicate: Bool
        let continuation: CheckedContinuation<Answer, Never>
    }

    private enum Phase {
        case running(waiters: [Waiter])
        case done(HandlerOutcome)
        /// The deadline passed: the outcome goes (or went) to late delivery.
        case handedOff
    }

    private typealias Key = MessageKey.Identity

    private enum Known {
        case answer(Answer)
        case running
    }

    private struct Entry {
        var phase: Phase
        let createTime: Int64
    }

    /// Entries by their key's hash value. Keyed by a plain integer, so that probing touches
    /// 8 bytes a slot instead of whole keys: with tens of thousands of entries, that is most of
    /// what remembering costs per message. Each slot keeps its full key; a key whose hash
    /// another key already holds goes to `overflow`.
    private struct Table {
        struct Slot {
            let key: Key
            var entry: Entry
        }

        var slots: [Int: Slot] = [:]
        /// Keys whose hash value was taken (rare: a 64-bit collision). `slots` wins over it.
        var overflow: [Key: Entry] = [:]
        /// The hash that places keys in `slots`: the key's own; tests pass a poor one.
        let hashOf: @Sendable (Key) -> Int

        var count: Int { slots.count + overflow.count }

        subscript(key: Key) -> Entry? {
            get {
                if let slot = slots[hashOf(key)], slot.key == key { return slot.entry }
                return overflow.isEmpty ? nil : overflow[key]
            }
            set {
                let hash = hashOf(key)
                guard let entry = newValue else {
                    if slots[hash]?.key == key { slots[hash] = nil }
                    if !overflow.isEmpty { overflow[key] = nil }
                    return
                }
                if let slot = slots[hash], slot.key != key {
                    overflow[key] = entry
                } else {
                    slots[hash] = Slot(key: key, entry: entry)
                }
            }
        }

        /// The entries still running.
        var running: [(Key, Entry)] {
            var result = slots.values.compactMap { slot -> (Key, Entry)? in
                if case .running = slot.entry.phase { return (slot.key, slot.entry) }
                return nil
            }
            for (key, entry) in overflow {
                if case .running = entry.phase { result.append((key, entry)) }
            }
            return result
        }

        mutating func removeAll() {
            slots.removeAll(keepingCapacity: true)
            overflow.removeAll()
        }
    }

    /// Messages are remembered in two generations: new ones go into `current`, and when it is
    /// full (half the capacity) or half the window old, `previous` is dropped whole and
    /// `current` takes its place. Forgetting thus costs nothing per message, and a message is
    /// remembered for at least half the window and at least the last half-capacity messages.
    private struct State {
        var current: Table
        var previous: Table
        var generationStarted: ContinuousClock.Instant
        /// Deadlines of waiting requests, in the order they began waiting; as every wait is
        /// equally long this is also deadline order, so the sweeper only looks at the front.
        var deadlines: [(deadline: ContinuousClock.Instant, key: Key)] = []
        var deadlinesHead = 0
        /// Recent distinct single-text outcomes, so identical replies share storage.
        var interned: [TextKey: HandlerOutcome] = [:]
        var sweeperStarted = false

        init(hashOf: @escaping @Sendable (Key) -> Int, generationCapacity: Int) {
            current = Table(hashOf: hashOf)
            previous = Table(hashOf: hashOf)
            current.slots.reserveCapacity(generationCapacity)
            previous.slots.reserveCapacity(generationCapacity)
            generationStarted = .now
        }

        var count: Int { current.count + previous.count }

        /// What is known of `key`: the answer a finished (or handed-off) message gives, or
        /// `.running` while its handler runs; nil for a message not seen.
        func lookup(_ key: Key, duplicate: Bool) -> Known? {
            guard let entry = self[key] else { return nil }
            switch entry.phase {
            case .done(let outcome):
                return .answer(Answer(outcome: outcome, createTime: entry.createTime, duplicate: duplicate))
            case .handedOff:
                return .answer(Answer(outcome: nil, createTime: entry.createTime, duplicate: duplicate))
            case .running:
                return .running
            }
        }

        /// Reads find a message in either generation; writes go to the current one, where
        /// running messages always are (a new generation takes them along).
        subscript(key: Key) -> Entry? {
            get { current[key] ?? previous[key] }
            set {
                current[key] = newValue
                if newValue == nil { previous[key] = nil }
            }
        }

        /// Starts a new generation when the current one is full or old enough.
        mutating func makeRoom(now: ContinuousClock.Instant, generationAge: Duration, generationSize: Int) {
            guard current.count >= generationSize || now - generationStarted >= generationAge else { return }
            swap(&current, &previous)
            current.removeAll()
            generationStarted = now
            // Messages still running stay where their waiters and the handler will look.
            for (key, entry) in previous.running { current[key] = entry }
        }
    }

    private let handler: any MessageHandler
    private let lateDelivery: any LateDelivery
    private let metrics: GatewayMetrics
    private let deadline: Duration
    /// A generation's longest life and largest size: half the window and half the capacity.
    private let generationAge: Duration
    private let generationSize: Int
    private let logger: Logger
    private let state: Mutex<State>
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    init(
        handler: any MessageHandler, lateDelivery: any LateDelivery, metrics: GatewayMetrics, deadline: Duration,
        window: Duration = .seconds(300), capacity: Int = 48_000, logger: Logger,
        hash: @escaping @Sendable (MessageKey.Identity) -> Int = { $0.hashValue }
    ) {
        self.state = Mutex(State(hashOf: hash, generationCapacity: min(max(1, capacity / 2), 1 << 20)))
        self.handler = handler
        self.lateDelivery = lateDelivery
        self.metrics = metrics
        self.deadline = deadline
        self.generationAge = window / 2
        self.generationSize = max(1, capacity / 2)
        self.logger = logger
    }

    deinit {
        sweeper.withLock { $0?.cancel() }
    }

    /// Submits a message (or its retry) and waits for what to answer.
    func submit(_ message: InboundMessage, createTime: Int64) async -> Answer {
        // Most messages are answered from memory in microseconds: no task, no waiting.
        if let answer = answerAtOnce(message, createTime: createTime) { return answer }
        let key = MessageKey.identity(of: message)
        let now = ContinuousClock.now
        let known = state.withLock { state -> Known? in
            if let known = state.lookup(key, duplicate: true) { return known }
            state.makeRoom(now: now, generationAge: generationAge, generationSize: generationSize)
            state[key] = Entry(phase: .running(waiters: []), createTime: createTime)
            return nil
        }
        switch known {
        case .answer(let answer)?:
            metrics.duplicate()
            return answer
        case .running?:
            metrics.duplicate()
            return await wait(for: key, duplicate: true, since: now)
        case nil:
            startSweeperIfNeeded()
            return await wait(for: key, duplicate: false, since: now) {
                let handler = self.handler
                Task {
                    let outcome = await handler.handle(message)
                    self.complete(key, outcome, message: message)
                }
            }
        }
    }

    /// Answers without waiting, when that is possible: a retry of a finished message gets its
    /// stored outcome, and a new message that the handler answers from memory is recorded and
    /// answered. Nil when the message has to wait (its handler must run, or its first attempt
    /// is still running): then ``submit(_:createTime:)`` it. Never blocks, so the event loop
    /// can call it.
    func answerAtOnce(_ message: InboundMessage, createTime: Int64) -> Answer? {
        let key = MessageKey.identity(of: message)
        switch state.withLock({ $0.lookup(key, duplicate: true) }) {
        case .answer(let answer)?:
            metrics.duplicate()
            return answer
        case .running?:
            return nil
        case nil:
            break
        }
        // Decided outside the lock; answerAtOnce has no side effects, so if a retry raced us
        // here, whichever outcome is recorded first is the one every attempt gets.
        guard let outcome = handler.answerAtOnce(message) else { return nil }
        let now = ContinuousClock.now
        let recorded = state.withLock { state -> Known? in
            if let already = state.lookup(key, duplicate: true) { return already }
            state.makeRoom(now: now, generationAge: generationAge, generationSize: generationSize)
            state[key] = Entry(phase: .done(Self.intern(outcome, in: &state)), createTime: createTime)
            return nil
        }
        switch recorded {
        case .answer(let answer)?:
            metrics.duplicate()
            return answer
        case .running?:
            return nil
        case nil:
            handExtras(of: outcome, answering: message)
            return Answer(outcome: outcome, createTime: createTime, duplicate: false)
        }
    }

    /// Waits for the outcome of the running entry `key`, or for its deadline; `then` runs once
    /// the waiter is in place (it starts the handler, so the handler cannot finish unseen).
    private func wait(
        for key: Key, duplicate: Bool, since now: ContinuousClock.Instant, then start: () -> Void = {}
    ) async -> Answer {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Answer? in
                guard var entry = state[key], case .running(var waiters) = entry.phase else {
                    // Finished meanwhile (or gone to late delivery): answer as a lookup would.
                    if case .answer(let answer)? = state.lookup(key, duplicate: duplicate) { return answer }
                    return Answer(outcome: nil, createTime: 0, duplicate: duplicate)
                }
                waiters.append(Waiter(duplicate: duplicate, continuation: continuation))
                entry.phase = .running(waiters: waiters)
                state[key] = entry
                state.deadlines.append((now + deadline, key))
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
        let (waiters, createTime) = state.withLock { state -> ([Waiter], Int64?) in
            let shared = Self.intern(outcome, in: &state)
            guard var entry = state[key] else {
                return ([], nil)  // not kept (a running message always is): deliver late
            }
            switch entry.phase {
            case .running(let waiters):
                entry.phase = .done(shared)
                state[key] = entry
                return (waiters, entry.createTime)
            case .handedOff, .done:
                return ([], nil)
            }
        }
        guard let createTime else {
            hand(outcome.replies, to: message, reason: .deadline)
            return
        }
        for waiter in waiters {
            waiter.continuation.resume(
                returning: Answer(outcome: outcome, createTime: createTime, duplicate: waiter.duplicate))
        }
        handExtras(of: outcome, answering: message)
    }

    /// Hands to late delivery what the passive reply cannot carry: cards over the limit and
    /// the replies after the first.
    private func handExtras(of outcome: HandlerOutcome, answering message: InboundMessage) {
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
            while state.deadlinesHead < state.deadlines.count {
                let (deadline, key) = state.deadlines[state.deadlinesHead]
                guard deadline <= now else { break }
                state.deadlinesHead += 1
                // Finished (or already handed off) entries need nothing more.
                guard var entry = state[key], case .running(let waiters) = entry.phase else { continue }
                // The first deadline to pass hands the message off: all its waiters answer
                // `success` now, and the outcome goes to late delivery when it comes.
                entry.phase = .handedOff
                state[key] = entry
                expired += waiters
                handedOff += 1
            }
            if state.deadlinesHead > 1024, state.deadlinesHead * 2 > state.deadlines.count {
                state.deadlines.removeFirst(state.deadlinesHead)
                state.deadlinesHead = 0
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

    /// A text compared by its UTF-8 bytes and hashed by its length and first bytes: String's
    /// own hashing normalises Unicode and reads the whole text, which costs far more for a long
    /// Chinese reply than it is worth here (texts that differ only further on just share a bucket).
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
            text.withUTF8 {
                hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0.prefix(32))))
            }
            hasher.combine(self.text.utf8.count)
            hasher.combine(rule?.utf8.count ?? -1)
        }
    }

    /// How many messages are remembered, for tests.
    var count: Int { state.withLock { $0.count } }
}
