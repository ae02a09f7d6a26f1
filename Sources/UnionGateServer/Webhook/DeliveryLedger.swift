import Logging
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
/// Entries are kept for `window` and at most `capacity` of them, oldest dropped first.
actor DeliveryLedger {
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
        let continuation: CheckedContinuation<HandlerOutcome?, Never>
    }

    private struct Entry {
        var outcome: HandlerOutcome?
        var waiters: [Waiter] = []
        var handedOff = false
        let message: InboundMessage
        let createTime: Int64
        let inserted: ContinuousClock.Instant
    }

    private let handler: any MessageHandler
    private let lateDelivery: any LateDelivery
    private let metrics: GatewayMetrics
    private let deadline: Duration
    private let window: Duration
    private let capacity: Int
    private let logger: Logger
    private var entries: [String: Entry] = [:]
    /// Keys whose entries have waiters, so the sweeper never walks the whole ledger.
    private var waiting: Set<String> = []
    private var order: [String] = []
    private var orderHead = 0
    private var sweeper: Task<Void, Never>?

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
        sweeper?.cancel()
    }

    /// Submits a message (or its retry) and waits for what to answer.
    func submit(_ message: InboundMessage, createTime: Int64) async -> Answer {
        let key = MessageKey.of(message)
        let now = ContinuousClock.now
        if let entry = entries[key] {
            metrics.duplicate()
            if entry.handedOff {
                return Answer(outcome: nil, createTime: entry.createTime, duplicate: true)
            }
            if let outcome = entry.outcome {
                return Answer(outcome: outcome, createTime: entry.createTime, duplicate: true)
            }
            let outcome = await wait(key: key, now: now)
            return Answer(outcome: outcome, createTime: entry.createTime, duplicate: true)
        }
        evict(now: now)
        entries[key] = Entry(message: message, createTime: createTime, inserted: now)
        order.append(key)
        let handler = self.handler
        Task {
            let outcome = await handler.handle(message)
            self.complete(key, outcome, message: message)
        }
        startSweeperIfNeeded()
        let outcome = await wait(key: key, now: now)
        return Answer(outcome: outcome, createTime: createTime, duplicate: false)
    }

    private func wait(key: String, now: ContinuousClock.Instant) async -> HandlerOutcome? {
        let deadline = now + self.deadline
        return await withCheckedContinuation { continuation in
            entries[key]?.waiters.append(Waiter(deadline: deadline, continuation: continuation))
            waiting.insert(key)
        }
    }

    private func complete(_ key: String, _ outcome: HandlerOutcome, message: InboundMessage) {
        guard var entry = entries[key] else {
            // Evicted while running (only under extreme load): deliver late rather than lose it.
            hand(outcome.replies, to: message, reason: .deadline)
            return
        }
        entry.outcome = outcome
        let waiters = entry.waiters
        entry.waiters = []
        entries[key] = entry
        waiting.remove(key)
        for waiter in waiters {
            waiter.continuation.resume(returning: outcome)
        }
        if entry.handedOff {
            hand(outcome.replies, to: entry.message, reason: .deadline)
            return
        }
        guard let first = outcome.replies.first else { return }
        let overflow = first.fitted(answering: entry.message).overflow
        if !overflow.isEmpty {
            hand(overflow.map { .news([$0]) }, to: entry.message, reason: .overflowArticles)
        }
        if outcome.replies.count > 1 {
            hand(Array(outcome.replies.dropFirst()), to: entry.message, reason: .additionalReplies)
        }
    }

    private func hand(_ bodies: [ReplyBody], to message: InboundMessage?, reason: LateReason) {
        guard let message, !bodies.isEmpty else { return }
        metrics.lateDelivery(count: bodies.count)
        let lateDelivery = self.lateDelivery
        Task {
            await lateDelivery.deliver(bodies, to: message.header.sender, account: message.header.account, reason: reason)
        }
    }

    /// Answers every waiter whose deadline has passed with nil, and marks its entry handed off.
    private func sweep() {
        let now = ContinuousClock.now
        for key in waiting {
            guard let entry = entries[key] else {
                waiting.remove(key)
                continue
            }
            let expired = entry.waiters.filter { $0.deadline <= now }
            guard !expired.isEmpty else { continue }
            entries[key]?.waiters.removeAll { $0.deadline <= now }
            if entries[key]?.waiters.isEmpty == true { waiting.remove(key) }
            if entries[key]?.handedOff == false {
                entries[key]?.handedOff = true
                logger.warning("reply deadline passed; answering success and delivering later", metadata: ["msgType": "\(entry.message.msgType)"])
            }
            for waiter in expired {
                waiter.continuation.resume(returning: nil)
            }
        }
    }

    private func startSweeperIfNeeded() {
        guard sweeper == nil else { return }
        let tick = min(deadline / 10, .milliseconds(50))
        sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self else { return }
                await self.sweep()
            }
        }
    }

    private func evict(now: ContinuousClock.Instant) {
        while orderHead < order.count {
            let key = order[orderHead]
            guard let entry = entries[key] else {
                orderHead += 1
                continue
            }
            let tooOld = now - entry.inserted > window
            let tooMany = entries.count >= capacity
            guard tooOld || tooMany else { break }
            // A running entry dropped here still completes: `complete` delivers it late.
            if entry.outcome == nil, !entry.waiters.isEmpty, !tooOld { break }
            entries[key] = nil
            orderHead += 1
        }
        if orderHead > 4096, orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }

    /// How many messages are remembered, for tests.
    var count: Int { entries.count }
}
