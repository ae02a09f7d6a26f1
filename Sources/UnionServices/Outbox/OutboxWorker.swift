import Foundation
import Logging
import ReplyRules
import SQLKit
import Synchronization
import WeChatAPI
import WeChatWire

/// Sends messages to members through WeChat's API. ``WeChatAPIClient`` is the real one.
public protocol CustomMessageSender: Sendable {
    /// Sends `body` to `openid` as a customer-service message.
    func send(_ body: ReplyBody, to openid: String) async throws
    /// Sends a subscription notification with `data`; returns WeChat's message id, if any.
    func sendSubscription(_ template: NoticeTemplate, data: [(key: String, value: String)], to openid: String)
        async throws -> String?
    /// Sends a template message with `data`; returns WeChat's message id, if any.
    func sendTemplate(_ template: NoticeTemplate, data: [(key: String, value: String)], to openid: String)
        async throws -> String?
}

extension WeChatAPIClient: CustomMessageSender {
    public func send(_ body: ReplyBody, to openid: String) async throws {
        try await sendCustomMessage(body, to: openid)
    }

    public func sendSubscription(_ template: NoticeTemplate, data: [(key: String, value: String)], to openid: String)
        async throws -> String?
    {
        try await sendSubscriptionMessage(templateId: template.templateId, to: openid, page: template.link, data: data)
    }

    public func sendTemplate(_ template: NoticeTemplate, data: [(key: String, value: String)], to openid: String)
        async throws -> String?
    {
        try await sendTemplateMessage(templateId: template.templateId, to: openid, url: template.link, data: data)
    }
}

/// Members with notices WeChat would not deliver (45015: outside the 48-hour window or
/// unsubscribed). They are shown the notices the next time they write. Mirrored in memory so
/// that other members cost no database read.
public final class HeldNotices: Sendable {
    private let members = Mutex<Set<String>>([])

    /// Creates an empty set; ``load(from:)`` fills it from the store.
    public init() {}

    /// Loads the members with held notices.
    public func load(from store: UnionStore) async throws {
        let openids = try await store.read { database in
            try await database.select().distinct().column("openid").from(Outbox.table)
                .where("status", .equal, OutboxMessage.Status.held.rawValue)
                .all(decodingColumn: "openid", as: String.self)
        }
        members.withLock { $0.formUnion(openids) }
    }

    func add(_ openid: String) { _ = members.withLock { $0.insert(openid) } }
    func remove(_ openid: String) { _ = members.withLock { $0.remove(openid) } }
    func contains(_ openid: String) -> Bool { members.withLock { $0.contains(openid) } }

    /// The texts of `openid`'s held notices, marked delivered in the same transaction.
    func take(_ openid: String, store: UnionStore, at now: Int64) async throws -> [String] {
        // With instances sharing the database, another one may have held a notice: memory knows
        // it from that instance's announcement; while announcements cannot be heard, look.
        guard contains(openid) || (store.dialect.sharedByInstances && !store.changes.isLive) else { return [] }
        // Looked for with a read first (concurrent, over the pool), so that the usual case,
        // nothing held, costs no transaction through the store's one writer.
        if !contains(openid) {
            let any = try await store.read { database in
                try await Outbox.select(in: database)
                    .where("openid", .equal, openid).where("status", .equal, OutboxMessage.Status.held.rawValue)
                    .limit(1).all().isEmpty == false
            }
            guard any else { return [] }
        }
        let held = try await store.transaction { database -> [OutboxMessage] in
            let rows = try await Outbox.select(in: database)
                .where("openid", .equal, openid).where("status", .equal, OutboxMessage.Status.held.rawValue)
                .orderBy("id")
                .all(decoding: Outbox.Row.self, keyDecodingStrategy: .convertFromSnakeCase).map { try $0.message }
            try await database.update(Outbox.table)
                .set("status", to: OutboxMessage.Status.sent.rawValue).set("sent_at", to: now)
                .set("last_error", to: "delivered in a reply").set("channel", to: NoticeChannel.reply.rawValue)
                .where("openid", .equal, openid).where("status", .equal, OutboxMessage.Status.held.rawValue)
                .run()
            if !rows.isEmpty { try await store.changes.announce(.taken, [openid], in: database) }
            return rows
        }
        // Forgotten only once something was taken: a notice being marked held just now keeps
        // the member here until its row is written and taken.
        if !held.isEmpty { remove(openid) }
        return held.flatMap(\.bodies).compactMap { body in
            if case .text(let text) = body { return text }
            if case .news(let articles) = body { return articles.map(\.title).joined(separator: "\n") }
            return nil
        }
    }
}

/// Sends the outbox: retries with backoff, holds what WeChat will not deliver now (45015), and
/// resumes after a restart. A send is recorded as soon as WeChat accepts it; a message caught
/// mid-send by a crash is sent again (at least once).
///
/// A notice goes by the first channel WeChat still allows for the member: the subscription
/// notification of its kind when the member accepted that template, then the template message,
/// then a customer-service message; what none takes is held for the member's next message and
/// for a phone call (需电话通知). Each row records the channel that reached the member, or why
/// none did.
public final class OutboxWorker: Sendable {
    /// How the worker paces itself.
    public struct Options: Sendable {
        /// How often the outbox is checked when nothing wakes the worker.
        public var interval: Duration = .seconds(1)
        /// Sends tried before a message is marked failed.
        public var maxAttempts = 8
        /// The first retry delay in seconds; it doubles, up to an hour.
        public var backoffSeconds: Int64 = 5
        /// Messages taken per round.
        public var batch = 20
        /// Seconds after which a message another instance claimed but did not finish sending
        /// (it crashed) is taken over.
        public var leaseSeconds: Int64 = 300

        /// Creates default options.
        public init() {}
    }

    private let store: UnionStore
    private let sender: any CustomMessageSender
    private let held: HeldNotices
    /// The rules in force, for `notices.yaml` and the union's time zone; nil: customer-service
    /// messages only.
    private let book: @Sendable () -> RuleBook?
    /// How it runs.
    public let options: Options
    private let clock: @Sendable () -> Int64
    private let logger: Logger
    private let wakeStream: AsyncStream<Void>
    private let wakeContinuation: AsyncStream<Void>.Continuation

    /// Creates a worker.
    public init(
        store: UnionStore, sender: any CustomMessageSender, held: HeldNotices, options: Options = Options(),
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = UnixTime.now,
        book: @escaping @Sendable () -> RuleBook? = { nil }
    ) {
        self.book = book
        self.store = store
        self.sender = sender
        self.held = held
        self.options = options
        self.logger = logger
        self.clock = clock
        (wakeStream, wakeContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the worker to look at the outbox now.
    public func wake() {
        wakeContinuation.yield()
    }

    /// Puts messages a crash caught mid-send back in the queue: on SQLite (one gateway) every
    /// message left `sending`; on a database shared by instances, only those whose claim is
    /// older than the lease (the others are being sent by a live instance).
    public func recoverInterrupted() async throws {
        let expired = clock() - options.leaseSeconds
        let shared = store.dialect.sharedByInstances
        try await store.transaction { database in
            var update = database.update(Outbox.table)
                .set("status", to: OutboxMessage.Status.queued.rawValue)
                .set("last_error", to: "interrupted while sending")
                .where("status", .equal, OutboxMessage.Status.sending.rawValue)
            if shared { update = update.where(Self.claimExpired(before: expired)) }
            try await update.run()
        }
    }

    /// A claim made before `time`, or never recorded (a row from before claims were kept).
    private static func claimExpired(before time: Int64) -> any SQLExpression {
        SQLGroupExpression(
            SQLBinaryExpression(
                left: SQLBinaryExpression(
                    left: SQLColumn("claimed_at"), op: SQLBinaryOperator.is, right: SQLLiteral.null),
                op: SQLBinaryOperator.or,
                right: SQLBinaryExpression(
                    left: SQLColumn("claimed_at"), op: SQLBinaryOperator.lessThan, right: SQLBind(time))))
    }

    /// Sends what is due; returns how many messages were tried. Rows are claimed in a
    /// transaction (`FOR UPDATE SKIP LOCKED` where instances share the database), so each is
    /// sent by one worker; a claim older than the lease is taken over.
    @discardableResult
    public func runOnce() async throws -> Int {
        let now = clock()
        let batch = options.batch
        let expired = now - options.leaseSeconds
        let claiming = store.dialect.claimingClause
        let claimed = try await store.transaction { database -> [OutboxMessage] in
            var query = Outbox.select(in: database)
                .where { due in
                    due.where("status", .equal, OutboxMessage.Status.queued.rawValue)
                        .where("next_attempt_at", .lessThanOrEqual, now)
                }
                .orWhere { abandoned in
                    abandoned.where("status", .equal, OutboxMessage.Status.sending.rawValue)
                        .where(Self.claimExpired(before: expired))
                }
                .orderBy("id").limit(batch)
            if let claiming { query = query.lockingClause(claiming) }
            let rows = try await query.all(decoding: Outbox.Row.self, keyDecodingStrategy: .convertFromSnakeCase)
                .map { try $0.message }
            for row in rows {
                try await database.update(Outbox.table)
                    .set("status", to: OutboxMessage.Status.sending.rawValue)
                    .set("attempts", to: Self.attempts(SQLBinaryOperator.add))
                    .set("claimed_at", to: now)
                    .where("id", .equal, row.id)
                    .run()
            }
            return rows
        }
        for message in claimed {
            await send(message)
        }
        return claimed.count
    }

    /// `attempts + 1` or `attempts - 1`, computed by the database.
    private static func attempts(_ change: SQLBinaryOperator) -> SQLBinaryExpression {
        SQLBinaryExpression(left: SQLColumn("attempts"), op: change, right: SQLLiteral.numeric("1"))
    }

    /// Where a message got to while it was being sent.
    private struct Progress {
        var refused: Set<NoticeChannel>
        var notes: [String]

        var note: String? { notes.isEmpty ? nil : notes.joined(separator: "；") }
    }

    /// Whether WeChat refused the send for good (try the next channel), rather than being busy,
    /// limiting or unreachable (try the message again later).
    private static func isRefusal(_ error: WeChatAPIError) -> Bool {
        !error.transport && !error.isBusy && !error.isRateLimited && !error.isTokenProblem
    }

    private static func explain(_ error: WeChatAPIError) -> String {
        switch error.code {
        case 43101: "职工未订阅或已用完（43101）"
        case 43004: "职工未关注公众号（43004）"
        case 45015: "超出 48 小时互动窗口（45015）"
        case 40037: "模板 ID 无效（40037）"
        case 47003: "模板字段不合要求（47003）"
        case 43116: "模板被限制（43116）"
        default: "微信拒绝（\(error.code)）"
        }
    }

    private func send(_ message: OutboxMessage) async {
        let attempts = message.attempts + 1
        var progress = Progress(refused: message.refused, notes: message.channelNote.map { [$0] } ?? [])
        do {
            if let notice = message.notice, let book = book(), let route = book.notices.routes[notice.kind] {
                var values = notice.fields
                if values["date"] == nil {
                    values["date"] = Self.date(message.createdAt, utcOffsetMinutes: book.settings.utcOffsetMinutes)
                }
                if try await sendByTemplates(message, route: route, values: values, progress: &progress) { return }
            }
            for body in message.bodies {
                try await sender.send(body, to: message.openid)
            }
            try await record(message.id, .sent, channel: .custom, progress: progress)
        } catch let error as WeChatAPIError where error.pausedUntil != nil {
            // Not tried: WeChat's API is not answering and the client paused its calls. The
            // message waits for the pause and keeps its attempts.
            let refused = Outbox.refusedColumn(progress.refused)
            let note = progress.note
            try? await store.transaction { database in
                try await database.update(Outbox.table)
                    .set("status", to: OutboxMessage.Status.queued.rawValue)
                    .set("last_error", to: error.description)
                    .set("next_attempt_at", to: error.pausedUntil ?? 0)
                    .set("attempts", to: Self.attempts(SQLBinaryOperator.subtract))
                    .set("refused", to: refused).set("channel_note", to: note)
                    .where("id", .equal, message.id)
                    .run()
            }
        } catch let error as WeChatAPIError where error.isOutsideWindow {
            logger.notice(
                "notice held: the member is outside the 48-hour window", metadata: ["outbox": "\(message.id)"])
            // Remembered before it is written: once the row says held, the member's next message
            // must not be answered from memory without it.
            held.add(message.openid)
            progress.notes.append("客服消息：\(Self.explain(error))")
            try? await record(message.id, .held, heldFor: message.openid, error: error.description, progress: progress)
        } catch {
            let failed = attempts >= options.maxAttempts
            let delay = min(options.backoffSeconds << Int64(min(attempts - 1, 20)), 3600)
            logger.warning(
                "message to a member not sent",
                metadata: ["outbox": "\(message.id)", "error": "\(error)", "final": "\(failed)"])
            try? await record(
                message.id, failed ? .failed : .queued, error: "\(error)", retryAt: clock() + delay, progress: progress)
        }
    }

    /// Tries the notice's subscription notification, then its template message. Returns true
    /// when one was sent; a refusal is noted and the next channel tried; anything else is thrown.
    private func sendByTemplates(
        _ message: OutboxMessage, route: NoticeRoute, values: [String: String], progress: inout Progress
    ) async throws -> Bool {
        let openid = message.openid
        if let subscription = route.subscription, !progress.refused.contains(.subscription) {
            let answer = try await store.read { database in
                try await NoticeReports.subscription(openid, template: subscription.templateId, in: database)
            }
            if answer == "accept" {
                do {
                    let id = try await sender.sendSubscription(
                        subscription, data: subscription.filled(with: values), to: openid)
                    try await record(message.id, .sent, channel: .subscription, msgId: id, progress: progress)
                    return true
                } catch let error as WeChatAPIError where Self.isRefusal(error) {
                    progress.refused.insert(.subscription)
                    progress.notes.append("订阅通知：\(Self.explain(error))")
                    if error.code == 43101 {
                        // A one-time acceptance spent, or withdrawn: not tried again until the
                        // member accepts anew.
                        let now = clock()
                        try await store.transaction { database in
                            try await NoticeReports.setSubscription(
                                openid, template: subscription.templateId, status: "used", scene: nil, at: now,
                                in: database)
                        }
                    }
                }
            } else {
                progress.refused.insert(.subscription)
                progress.notes.append(answer == "reject" ? "订阅通知：职工拒绝了此模板" : "订阅通知：职工未订阅此模板")
            }
        }
        if let template = route.template, !progress.refused.contains(.template) {
            do {
                let id = try await sender.sendTemplate(template, data: template.filled(with: values), to: openid)
                try await record(message.id, .sent, channel: .template, msgId: id, progress: progress)
                return true
            } catch let error as WeChatAPIError where Self.isRefusal(error) {
                progress.refused.insert(.template)
                progress.notes.append("模板消息：\(Self.explain(error))")
            }
        }
        return false
    }

    /// `2026-11-23` of a Unix time in the union's time zone, for a notice's `{date}`.
    static func date(_ unixSeconds: Int64, utcOffsetMinutes: Int) -> String {
        LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: utcOffsetMinutes).isoDate
    }

    /// Writes where a message got to: sent (with its channel and WeChat's message id), held,
    /// queued for a retry, or failed, with the channels refused and why.
    private func record(
        _ id: Int, _ status: OutboxMessage.Status, channel: NoticeChannel? = nil, msgId: String? = nil,
        heldFor openid: String? = nil, error: String? = nil, retryAt: Int64? = nil, progress: Progress
    ) async throws {
        let now = clock()
        let store = self.store
        try await store.transaction { database in
            if let openid { try await store.changes.announce(.held, [openid], in: database) }
            var update = database.update(Outbox.table).set("status", to: status.rawValue)
                .set("refused", to: Outbox.refusedColumn(progress.refused)).set("channel_note", to: progress.note)
            if status == .sent {
                update = update.set("sent_at", to: now).set("channel", to: channel?.rawValue)
                    .set("wechat_msg_id", to: msgId)
            } else {
                update = update.set("last_error", to: error).set("next_attempt_at", to: retryAt ?? now)
            }
            try await update.where("id", .equal, id).run()
        }
    }

    /// Runs until cancelled: every `interval`, or sooner when woken.
    public func run() async {
        do {
            try await recoverInterrupted()
        } catch {
            logger.error("outbox recovery failed: \(error)")
        }
        await withTaskGroup(of: Void.self) { group in
            let stream = wakeStream
            let interval = options.interval
            let continuation = wakeContinuation
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    continuation.yield()
                }
            }
            group.addTask { [self] in
                for await _ in stream {
                    if Task.isCancelled { break }
                    do {
                        while try await runOnce() > 0 {}
                    } catch {
                        logger.error("outbox round failed: \(error)")
                    }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Stops ``run()``.
    public func finish() {
        wakeContinuation.finish()
    }
}

/// Late delivery through the outbox: replies that missed the deadline and extra replies are
/// queued and sent by the ``OutboxWorker``.
public struct OutboxLateDelivery: LateDelivery {
    let store: UnionStore
    let worker: OutboxWorker?
    let logger: Logger

    /// Creates it; `worker` is woken after each enqueue.
    public init(store: UnionStore, worker: OutboxWorker?, logger: Logger) {
        self.store = store
        self.worker = worker
        self.logger = logger
    }

    public func deliver(_ bodies: [ReplyBody], to recipient: String, account: String, reason: LateReason) async {
        do {
            try await store.transaction { database in
                try await Outbox.enqueue(
                    bodies, to: recipient, account: account, reason: reason, at: UnixTime.now(), in: database)
            }
            worker?.wake()
        } catch {
            logger.error(
                "late replies could not be queued", metadata: ["error": "\(error)", "count": "\(bodies.count)"])
        }
    }
}
