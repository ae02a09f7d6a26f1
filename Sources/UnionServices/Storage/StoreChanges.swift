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
    }

    /// The channel every instance listens on.
    static let channel = "uniongate_changes"
    /// How long a writer waits for its own announcement to come back before it answers.
    static let settleLimit = Duration.milliseconds(250)

    private let connect: (@Sendable () async throws -> PostgresConnection)?
    private let logger: Logger
    private let state = Mutex(State())
    private let running = Mutex<Task<Void, Never>?>(nil)

    private struct State {
        var live: Bool
        /// Tokens of this instance's announcements waiting to come back, with who waits.
        var waiting: [String: CheckedContinuation<Void, Never>] = [:]
        /// Tokens that came back before anyone waited for them (a few, most recent).
        var arrived: [String] = []
        var handlers: Handlers?
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
        state.withLock { $0.live = true }
    }

    /// Changes told through the PostgreSQL server that `connect` reaches.
    init(connect: @escaping @Sendable () async throws -> PostgresConnection, logger: Logger) {
        self.connect = connect
        self.logger = logger
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
                    state.withLock { $0.live = true }
                    pause = .milliseconds(200)
                    logger.debug("following the other instances' changes")
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
