import PostgresKit
import SQLKit
import Synchronization

/// One member's messages are applied in the order they reached the gateway, whichever instance
/// each reached (PostgreSQL, several instances). Within one process the server's own line per
/// member keeps that order; across instances each message takes a turn in `member_turns`, a
/// PostgreSQL table that is not written to the WAL (a turn lives for the length of a message),
/// and waits while an earlier turn of the member's is held.
///
/// A turn's number comes from the table's identity, so turns are ordered as they were taken.
/// A turn older than ``patience`` is taken for one whose instance stopped mid-message and is
/// not waited for. What a turn cannot order is two messages whose turns are taken within the
/// same instant on two instances: WeChat sends a member's messages one after another, so
/// those are not a member's.
public struct MemberTurns: Sendable {
    let store: UnionStore
    let clock: @Sendable () -> Int64
    /// Turns ended and not yet removed.
    private let endings = TurnEndings()

    /// How long a turn is waited for at most: past it, its instance is taken for gone.
    public static let patience: Int64 = 20
    /// How often a waiting message looks again.
    static let lookEvery: Duration = .milliseconds(10)

    /// Turns for the instances sharing `store`; nil when it is not shared (one process's own
    /// line is enough).
    public init?(store: UnionStore, clock: @escaping @Sendable () -> Int64 = UnixTime.now) {
        guard store.dialect.sharedByInstances else { return nil }
        self.store = store
        self.clock = clock
    }

    /// Runs `body` in the member's turn: after every earlier turn of theirs is over. While no
    /// other instance serves (``StoreChanges/othersMayServe``), the process's own line is
    /// enough and no turn is taken: a turn is two statements, and cost one instance on
    /// PostgreSQL 45 % of its stored suggestions a second.
    public func inTurn<Result: Sendable>(
        account: String, openid: String, _ body: () async throws -> Result
    ) async throws -> Result {
        guard store.changes.othersMayServe else { return try await body() }
        let (turn, conversation) = try await take(account: account, openid: openid)
        defer {
            // The member's answer does not wait for it; the next turn does (it polls).
            Task { try? await end(turn) }
        }
        return try await Self.$conversationAtTurn.withValue(ConversationAtTurn(version: conversation)) {
            try await body()
        }
    }

    /// The version of the member's stored conversation (nil: none) when their turn came, read
    /// by the statement that granted it: every earlier message of theirs, on any instance, had
    /// committed by then. A form's step read from memory is current when memory holds this
    /// version, and is not read again (``ConversationStore/holds(_:version:)``). Nil outside a
    /// turn.
    @TaskLocal static var conversationAtTurn: ConversationAtTurn?

    /// The version of a member's conversation when their turn came.
    struct ConversationAtTurn: Sendable {
        /// Nil when no conversation was stored.
        var version: Int64?
    }

    /// Takes a turn and returns its number once no earlier turn of the member's is held, with
    /// the version of their stored conversation then.
    func take(account: String, openid: String) async throws -> (turn: Int64, conversation: Int64?) {
        let now = clock()
        let taken = try await store.read { database in
            try await Self.run(
                TakeTurn(account: account, openid: openid, now: now, since: now - Self.patience), on: database)
        }
        guard var (id, earlier, conversation) = taken.first else { throw StoreError("a member's turn was not taken") }
        while earlier > 0 {
            try await Task.sleep(for: Self.lookEvery)
            let since = clock() - Self.patience
            (earlier, conversation) = try await store.read { [id] database in
                let row = try await database.raw(
                    """
                    SELECT count(*) AS earlier,
                        (SELECT version FROM conversations WHERE openid = \(bind: openid)) AS version
                    FROM member_turns WHERE account = \(bind: account)
                    AND openid = \(bind: openid) AND id < \(bind: id) AND taken_at > \(bind: since)
                    """
                ).first()
                return (
                    try row?.decode(column: "earlier", as: Int.self) ?? 0,
                    try row?.decode(column: "version", as: Int64?.self)
                )
            }
        }
        return (id, conversation)
    }

    /// Ends turn `id` (and removes turns whose instance is long gone). Turns ended while another
    /// caller removes some are removed together after, by that caller: one statement for all
    /// that ended meanwhile (under a burst, a statement for each was a tenth of the messages'
    /// statements). Returns once `id` is removed.
    func end(_ id: Int64) async throws {
        let (store, clock) = (store, clock)
        try await endings.end(id) { ids in
            let stale = clock() - 3 * Self.patience
            _ = try await store.read { database in try await Self.run(EndTurns(ids: ids, stale: stale), on: database) }
        }
    }

    /// Runs `statement` prepared (PostgreSQL, the only database turns are taken on): every
    /// message of a member pays for its turn, so it is not planned again each time.
    private static func run<Statement: PostgresPreparedStatement>(_ statement: Statement, on database: any SQLDatabase)
        async throws -> [Statement.Row] where Statement.Row: Sendable
    {
        guard let rows = try await GuardedConnection.prepared(statement, on: database) else {
            throw StoreError("members' turns need a PostgreSQL connection")
        }
        return rows
    }

    /// How many turns the member holds or waits for now (tests).
    func count(account: String, openid: String) async throws -> Int {
        try await store.read { database in
            try await database.raw(
                "SELECT count(*) AS turns FROM member_turns WHERE account = \(bind: account) AND openid = \(bind: openid)"
            ).first()?.decode(column: "turns", as: Int.self) ?? 0
        }
    }
}

/// Takes a member's turn; its number, and how many earlier turns of theirs are held.
private struct TakeTurn: PostgresPreparedStatement {
    static let name = "uniongate_take_turn"
    static let sql = """
        INSERT INTO member_turns (account, openid, taken_at) VALUES ($1, $2, $3)
        RETURNING id, (SELECT count(*) FROM member_turns earlier WHERE earlier.account = $1
            AND earlier.openid = $2 AND earlier.id < member_turns.id AND earlier.taken_at > $4),
            (SELECT version FROM conversations WHERE openid = $2)
        """
    typealias Row = (Int64, Int, Int64?)

    var account: String
    var openid: String
    var now: Int64
    var since: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(account)
        bindings.append(openid)
        bindings.append(now)
        bindings.append(since)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (id, earlier, conversation) = try row.decode((Int64, Int64, Int64?).self)
        return (id, Int(earlier), conversation)
    }
}

/// Ends turns, and removes turns whose instance is long gone.
private struct EndTurns: PostgresPreparedStatement {
    static let name = "uniongate_end_turns"
    static let sql = "DELETE FROM member_turns WHERE id = ANY($1) OR taken_at < $2"
    typealias Row = Int

    var ids: [Int64]
    var stale: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(ids)
        bindings.append(stale)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { 0 }
}

/// Turns waiting to be removed, and whether a caller is removing some: whoever finds no one
/// removing removes what waits, again until nothing does, as the store's writer commits groups;
/// the others wait until theirs is removed. A removal that fails leaves its turns to be taken for
/// stale (``MemberTurns/patience``).
private final class TurnEndings: Sendable {
    /// A turn to remove, and its caller waiting for that (resumed with false: it does not lead).
    private typealias Waiting = (id: Int64, removed: CheckedContinuation<Bool, Never>?)
    private let state = Mutex<(waiting: [Waiting], removing: Bool)>(([], false))

    /// Returns once `id` is removed, or its removal failed (then the caller that removed it
    /// throws what made it fail).
    func end(_ id: Int64, remove: @Sendable ([Int64]) async throws -> Void) async throws {
        let leads = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let leads = state.withLock { state in
                if state.removing {
                    state.waiting.append((id, continuation))
                    return false
                }
                state.removing = true
                return true
            }
            if leads { continuation.resume(returning: true) }
        }
        guard leads else { return }
        var batch: [Waiting] = [(id, nil)]
        var failure: (any Error)?
        while !batch.isEmpty {
            do {
                try await remove(batch.map(\.id))
                failure = nil
            } catch {
                failure = error
            }
            for waiting in batch { waiting.removed?.resume(returning: false) }
            batch = state.withLock { state in
                let next = state.waiting
                state.waiting = []
                if next.isEmpty { state.removing = false }
                return next
            }
        }
        if let failure { throw failure }
    }
}
