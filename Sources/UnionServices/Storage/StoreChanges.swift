import Foundation
import Logging
import PostgresKit
import SQLKit
import Synchronization

/// What one gateway instance changes that the others mirror in memory (a member's form in
/// progress, a held notice), told to every instance through PostgreSQL's LISTEN/NOTIFY, so that
/// each instance's mirror follows the shared database and the fast lane can answer from memory.
///
/// A change is announced inside the transaction that makes it (`pg_notify`), so PostgreSQL
/// delivers it at the commit, to every listening instance, and never for a rollback. Each
/// instance listens on a connection of its own. While that connection is down the mirror is
/// not trusted (``isLive`` is false, and every message takes the store's path); once it is back,
/// the mirror is read again in full before it is trusted again, so a change told while nobody
/// listened is not missed.
///
/// On SQLite one process has the database to itself: nothing is announced and memory is always
/// the truth.
public final class StoreChanges: Sendable {
    /// What changed for a member.
    public enum Kind: String, Sendable {
        /// Their conversation (form in progress) was written or removed.
        case conversation = "c"
        /// A notice for them was held (outside the 48-hour window).
        case held = "h"
        /// Their held notices were delivered.
        case taken = "t"
        /// Not a member's change: an instance says it is serving (its id instead of openids).
        case presence = "p"
    }

    /// The channel every instance listens on.
    static let channel = "uniongate_changes"
    /// How long a writer waits for its own announcement to come back before it answers.
    static let settleLimit = Duration.milliseconds(250)

    private let connect: (@Sendable () async throws -> PostgresConnection)?
    private let logger: Logger
    /// This instance's id in presence announcements.
    let instance = UUID().uuidString
    /// Time since some fixed moment (a monotonic clock; tests pass their own).
    private let uptime: @Sendable () -> Duration
    /// How often a listening instance announces that it serves (and at once when it hears an
    /// instance it did not know: a new instance hears every other within moments).
    static let presenceEvery = Duration.seconds(10)
    /// How long an instance counts as serving after it was last heard (three announcements).
    static let presenceWindow = Duration.seconds(30)
    /// How long after it begins to listen an instance assumes others serve, while their
    /// answers to its first announcement come back.
    static let listeningWindow = Duration.seconds(2)
    private let state = Mutex(State())
    private let running = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        var live: Bool
        /// Tokens of this instance's announcements waiting to come back, with who waits.
        var waiting: [String: CheckedContinuation<Void, Never>] = [:]
        /// Tokens that came back before anyone waited for them (a few, most recent).
        var arrived: [String] = []
        var handlers: Handlers?
        /// When another instance was last heard to say it serves.
        var othersHeard: Duration?
        /// The other instances heard so far.
        var known: Set<String> = []
        /// Whether to announce this instance at the next look (one it did not know was heard).
        var announceNow = false
        /// When this instance last began to listen.
        var liveSince: Duration = .zero
        init(live: Bool = false) { self.live = live }
    }

    /// What an instance does with changes it is told about.
    public struct Handlers: Sendable {
        /// A change for these members.
        public var changed: @Sendable (Kind, [String]) -> Void
        /// Reads the mirror again in full (after the listening connection was down).
        public var resync: @Sendable () async throws -> Void

        /// Creates the handlers.
        public init(
            changed: @escaping @Sendable (Kind, [String]) -> Void, resync: @escaping @Sendable () async throws -> Void
        ) {
            self.changed = changed
            self.resync = resync
        }
    }

    /// Changes for a database no other process writes: nothing to announce or hear.
    init() {
        connect = nil
        logger = Logger(label: "uniongate.changes")
        uptime = Self.monotonic
        state.withLock { $0.live = true }
    }

    /// Changes told through the PostgreSQL server that `connect` reaches.
    init(
        connect: @escaping @Sendable () async throws -> PostgresConnection, logger: Logger,
        uptime: @escaping @Sendable () -> Duration = StoreChanges.monotonic
    ) {
        self.connect = connect
        self.logger = logger
        self.uptime = uptime
    }

    /// The time since this process's first look at the clock.
    static let monotonic: @Sendable () -> Duration = {
        let origin = ContinuousClock.now
        return { ContinuousClock.now - origin }
    }()

    /// Whether another instance may be serving the same database now: never on SQLite; on
    /// PostgreSQL, when another was heard within ``presenceWindow``, and whenever this one
    /// cannot tell (not listening, or listening for less than ``listeningWindow``: the others
    /// answer its first announcement with theirs).
    public var othersMayServe: Bool {
        guard connect != nil else { return false }
        let now = uptime()
        return state.withLock { state in
            if !state.live || now - state.liveSince < Self.listeningWindow { return true }
            return state.othersHeard.map { now - $0 < Self.presenceWindow } ?? false
        }
    }

    /// Whether memory follows the database: always on SQLite; on PostgreSQL, while this
    /// instance listens and has read its mirror since it began to.
    public var isLive: Bool { state.withLock { $0.live } }

    /// Begins listening (PostgreSQL only; once): `handlers` hear every change from now on, and
    /// `resync` runs each time listening (re)starts, before the mirror is trusted.
    public func follow(_ handlers: Handlers) {
        guard let connect else { return }
        let alreadyRunning = running.withLock { running -> Bool in
            if running != nil { return true }
            state.withLock { $0.handlers = handlers }
            running = Task { [self] in await listen(connect) }
            return false
        }
        if alreadyRunning { logger.warning("store changes already followed; the second follower is ignored") }
    }

    /// Stops listening.
    func stop() async {
        let task = running.withLock { $0 }
        task?.cancel()
        await task?.value
        state.withLock { $0.live = false }
    }

    private func listen(_ connect: @Sendable () async throws -> PostgresConnection) async {
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            var connection: PostgresConnection?
            do {
                let opened = try await connect()
                connection = opened
                try await opened.listen(on: Self.channel) { notifications in
                    // Listening now: whatever commits from here on is heard. What committed
                    // before is read again, then memory is trusted.
                    try await state.withLock { $0.handlers }?.resync()
                    let now = uptime()
                    state.withLock {
                        $0.live = true
                        $0.liveSince = now
                    }
                    pause = .milliseconds(200)
                    logger.debug("following the other instances' changes")
                    // Says every few seconds that this instance serves (on the same connection).
                    let payload =
                        "\(String(UInt64.random(in: 0...UInt64.max), radix: 36)) \(Kind.presence.rawValue) \(instance)"
                    let presence = Task {
                        var last: Duration?
                        while !Task.isCancelled {
                            let now = uptime()
                            let due = state.withLock { state in
                                defer { state.announceNow = false }
                                return state.announceNow || last.map { now - $0 >= Self.presenceEvery } ?? true
                            }
                            if due {
                                last = now
                                _ = try? await opened.query(
                                    "SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
                            }
                            try? await Task.sleep(for: .milliseconds(250))
                        }
                    }
                    defer { presence.cancel() }
                    for try await notification in notifications {
                        hear(notification.payload)
                    }
                }
            } catch {
                if !Task.isCancelled {
                    logger.warning(
                        "not hearing the other instances' changes; messages take the store's path meanwhile",
                        metadata: ["error": "\(String(describing: error))"])
                }
            }
            markNotLive()
            try? await connection?.close()
            if Task.isCancelled { break }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
        markNotLive()
    }

    /// Marks the mirror trusted without a listening connection (tests of what is heard).
    func markLiveForTests() {
        let now = uptime()
        state.withLock {
            $0.live = true
            $0.liveSince = now
        }
    }

    /// Whether this instance will announce itself at its next look (tests).
    var willAnnounce: Bool { state.withLock { $0.announceNow } }

    private func markNotLive() {
        let waiting = state.withLock { state in
            state.live = false
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Applies one announcement: `<token> <kind> <openid> …`.
    func hear(_ payload: String) {
        let words = payload.split(separator: " ").map(String.init)
        guard words.count >= 2, let kind = Kind(rawValue: words[1]) else {
            logger.warning("an unknown change announcement was ignored")
            return
        }
        if kind == .presence {
            if words.count >= 3, words[2] != instance {
                let now = uptime()
                state.withLock { state in
                    state.othersHeard = now
                    // A new instance: it learns of this one at once, not in ten seconds.
                    if state.known.insert(words[2]).inserted { state.announceNow = true }
                }
            }
            return
        }
        let token = words[0]
        let (handlers, waiter) = state.withLock { state in
            let waiter = state.waiting.removeValue(forKey: token)
            if waiter == nil {
                state.arrived.append(token)
                if state.arrived.count > 64 { state.arrived.removeFirst(state.arrived.count - 64) }
            }
            return (state.handlers, waiter)
        }
        handlers?.changed(kind, Array(words.dropFirst(2)))
        waiter?.resume()
    }

    /// Announces a change for `openids` inside the transaction on `database`; returns a token
    /// for ``settle(_:)``, or nil when nothing is announced (SQLite).
    @discardableResult
    func announce(_ kind: Kind, _ openids: [String], in database: any SQLDatabase) async throws -> String? {
        guard connect != nil, !openids.isEmpty else { return nil }
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        // A payload stays well under PostgreSQL's 8,000 bytes: many members go in several.
        var chunk: [String] = []
        var length = 0
        for openid in openids {
            chunk.append(openid)
            length += openid.utf8.count + 1
            if length > 6000 {
                try await notify(token, kind, chunk, in: database)
                chunk = []
                length = 0
            }
        }
        if !chunk.isEmpty { try await notify(token, kind, chunk, in: database) }
        return token
    }

    private func notify(_ token: String, _ kind: Kind, _ openids: [String], in database: any SQLDatabase)
        async throws
    {
        let payload = ([token, kind.rawValue] + openids).joined(separator: " ")
        try await database.raw("SELECT pg_notify(\(bind: Self.channel), \(bind: payload))").run()
    }

    /// Waits (briefly) until this instance has heard its own committed announcement: the
    /// server sends each notification to every listener at once, so the other instances have
    /// it too before the member reads the reply and writes again.
    func settle(_ token: String?) async {
        guard let token else { return }
        let deadline = Self.settleLimit
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if !state.live { return true }
                if let index = state.arrived.firstIndex(of: token) {
                    state.arrived.remove(at: index)
                    return true
                }
                state.waiting[token] = continuation
                return false
            }
            if resumeNow {
                continuation.resume()
                return
            }
            Task { [self] in
                try? await Task.sleep(for: deadline)
                state.withLock { $0.waiting.removeValue(forKey: token) }?.resume()
            }
        }
    }
}
