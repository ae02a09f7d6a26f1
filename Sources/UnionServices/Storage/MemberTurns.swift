import PostgresKit
import SQLKit

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
        let turn = try await take(account: account, openid: openid)
        defer {
            // The member's answer does not wait for it; the next turn does (it polls).
            Task { try? await end(turn) }
        }
        return try await body()
    }

    /// Takes a turn and returns its number once no earlier turn of the member's is held.
    func take(account: String, openid: String) async throws -> Int64 {
        let now = clock()
        let taken = try await store.read { database in
            try await Self.run(
                TakeTurn(account: account, openid: openid, now: now, since: now - Self.patience), on: database)
        }
        guard let (id, first) = taken.first else { throw StoreError("a member's turn was not taken") }
        var earlier = first
        while earlier > 0 {
            try await Task.sleep(for: Self.lookEvery)
            let since = clock() - Self.patience
            earlier = try await store.read { database in
                try await database.raw(
                    """
                    SELECT count(*) AS earlier FROM member_turns WHERE account = \(bind: account)
                    AND openid = \(bind: openid) AND id < \(bind: id) AND taken_at > \(bind: since)
                    """
                ).first()?.decode(column: "earlier", as: Int.self) ?? 0
            }
        }
        return id
    }

    /// Ends turn `id` (and removes turns whose instance is long gone).
    func end(_ id: Int64) async throws {
        let stale = clock() - 3 * Self.patience
        _ = try await store.read { database in try await Self.run(EndTurn(id: id, stale: stale), on: database) }
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
            AND earlier.openid = $2 AND earlier.id < member_turns.id AND earlier.taken_at > $4)
        """
    typealias Row = (Int64, Int)

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
        let (id, earlier) = try row.decode((Int64, Int64).self)
        return (id, Int(earlier))
    }
}

/// Ends a turn, and removes turns whose instance is long gone.
private struct EndTurn: PostgresPreparedStatement {
    static let name = "uniongate_end_turn"
    static let sql = "DELETE FROM member_turns WHERE id = $1 OR taken_at < $2"
    typealias Row = Int

    var id: Int64
    var stale: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(id)
        bindings.append(stale)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { 0 }
}
