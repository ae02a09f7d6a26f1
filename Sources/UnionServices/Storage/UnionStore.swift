import Foundation
import Logging
import NIOSSL
import PostgresKit
import SQLKit
import SQLiteKit
import Synchronization

/// The gateway's data: one SQLite file by default (WAL mode, fully synchronous commits), or a
/// PostgreSQL database shared by several gateway instances.
///
/// Every write runs through ``transaction(_:)``, and returns only after its commit, so a reply
/// that promises something is sent only after its data is committed. On SQLite, reads and
/// writes take turns on one connection; on PostgreSQL, writes are committed in groups on one
/// pooled connection at a time and reads use the pool. Queries are written with SQLKit's
/// builders and `Codable` rows; what differs between databases is in ``StoreDialect``.
public final class UnionStore: Sendable {
    /// The file, `:memory:`, or the PostgreSQL URL without its password.
    public let path: String
    /// Where the data is.
    public let location: DatabaseLocation
    let dialect: StoreDialect
    /// What the services remember about members, in front of this store (nothing when several
    /// instances share the database).
    let facts: MemberFacts
    /// What other instances change in what this one mirrors in memory (PostgreSQL only).
    public let changes: StoreChanges
    /// The activities members may sign up for, as 「活动」 lists them, read at most every second.
    let activityBoard = ActivityBoard()
    /// The database's change counter when it was last looked at.
    private let lastSeenVersion = Mutex<Int?>(nil)
    private let backend: Backend
    /// An SQLite file's `<file>.lock`, held shared while the store is open (``StoreBackup``).
    private let fileLock: FileLock?
    private let mutex = AsyncMutex()
    /// How many commits wrote callers' transactions, how many transactions they held, and how
    /// many groups ran again with a savepoint for each body (because one of them failed).
    let groupCounts = Mutex<(commits: Int, transactions: Int, isolated: Int)>((0, 0, 0))
    /// How many statements ran batchable writes together, how many writes they held, and how
    /// many of them were their group's only statement (no `BEGIN`, no `COMMIT`).
    let batchCounts = Mutex<(batches: Int, writes: Int, alone: Int)>((0, 0, 0))
    /// Whether the last group failed because the database could not write (cleared by the next
    /// commit): `/healthz` is not ready meanwhile.
    private let failing = Mutex(false)
    /// Transactions waiting to be written, and whether a caller is writing them.
    private let writes = Mutex<(pending: [PendingWrite], writing: Bool)>(([], false))

    /// The connections: SQLite's one, or PostgreSQL's pool and the task that runs it.
    private enum Backend: Sendable {
        case sqlite(SQLiteConnection, any SQLDatabase)
        case postgres(PostgresClient, Task<Void, Never>)
    }

    private init(
        location: DatabaseLocation, backend: Backend, changes: StoreChanges = StoreChanges(),
        fileLock: FileLock? = nil
    ) {
        self.changes = changes
        self.fileLock = fileLock
        self.location = location
        self.path = location.description
        self.backend = backend
        switch backend {
        case .sqlite: dialect = .sqlite(inMemory: location == .sqlite(path: ":memory:"))
        case .postgres: dialect = .postgres
        }
        facts = MemberFacts(enabled: !dialect.sharedByInstances)
    }

    /// Runs `body` with a database connection: SQLite's one, or one leased from the pool. No
    /// query is logged at any level: its binds are members' names, phone numbers and words.
    private func withDatabase<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result)
        async throws -> Result
    {
        switch backend {
        case .sqlite(_, let database):
            return try await body(database)
        case .postgres(let client, _):
            // A connection within the deadline, or the database counts as unreachable: the
            // member's message goes to the journal while WeChat still waits for the answer,
            // rather than after the pool has retried for a minute. But a pool whose connections
            // are all at work for this process is busy, not down: then the caller waits on, up
            // to ``busyPoolLimit`` (a database that hangs mid-query still counts as down then).
            let leased = Flag()
            let deadline = connectionDeadline
            let leases = self.leases
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        leased.set()
                        leases.granted()
                        defer { leases.released() }
                        return try await body(GuardedConnection(connection))
                    }
                }
                group.addTask {
                    try await Task.sleep(for: deadline)
                    if leased.isSet { return nil }
                    var waited = deadline
                    while leases.isBusy(within: deadline), waited < Self.busyPoolLimit(deadline) {
                        try await Task.sleep(for: .milliseconds(100))
                        waited += .milliseconds(100)
                        if leased.isSet { return nil }
                    }
                    guard leased.isSet else {
                        throw StoreUnavailable(
                            underlying: StoreError(
                                leases.current > 0
                                    ? "no PostgreSQL connection within \(waited) (every connection busy)"
                                    : "no PostgreSQL connection within \(deadline)"))
                    }
                    return nil
                }
                while let next = try await group.next() {
                    if let value = next {
                        group.cancelAll()
                        return value
                    }
                }
                throw StoreError("a PostgreSQL call ended without its result")  // not reached
            }
        }
    }

    /// How many pooled connections this process's callers hold now (PostgreSQL).
    private let leases = LeaseCount()

    /// How many pooled connections callers hold now (0 on SQLite).
    public var leasedConnections: Int { leases.current }

    /// How long a caller waits for a connection while the pool is at work for this process (a
    /// connection held, or handed on within the deadline: a busy pool): ten times the connection deadline, at least 15 s. Past it the database
    /// counts as unreachable even so (its connections hang).
    static func busyPoolLimit(_ deadline: Duration) -> Duration {
        max(deadline * 10, .seconds(15))
    }

    /// How long a caller waits for a PostgreSQL connection before the database counts as
    /// unreachable (the URL's `connect_timeout`).
    private var connectionDeadline: Duration {
        if case .postgres(let postgres) = location { return postgres.connectionDeadline }
        return .seconds(2)
    }

    /// Opens the store at `path`: an SQLite file (created if needed), `:memory:` for a
    /// throwaway one, or a `postgres://` URL; and brings its schema up to date.
    public static func open(path: String, logger: Logger) async throws -> UnionStore {
        try await open(DatabaseLocation(path), logger: logger)
    }

    /// Opens the store at `location` and brings its schema up to date.
    public static func open(_ location: DatabaseLocation, logger: Logger) async throws -> UnionStore {
        let store: UnionStore
        switch location {
        case .sqlite(let path): store = try await openSQLite(path: path, logger: logger)
        case .postgres(let postgres): store = try await openPostgres(postgres, logger: logger)
        }
        do {
            try await store.withDatabase { try await store.dialect.configure($0) }
            try await Migrations.apply(to: store, logger: logger)
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private static func openPostgres(_ location: PostgresLocation, logger: Logger) async throws -> UnionStore {
        let tls: (client: PostgresClient.Configuration.TLS, connection: PostgresConnection.Configuration.TLS)
        switch location.tls {
        case .disable:
            tls = (.disable, .disable)
        case .prefer, .require, .verifyCA, .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            switch location.tls {
            case .verifyFull: configuration.certificateVerification = .fullVerification
            case .verifyCA: configuration.certificateVerification = .noHostnameVerification
            default: configuration.certificateVerification = .none  // libpq's prefer and require do not check it
            }
            let context = try NIOSSLContext(configuration: configuration)
            tls =
                location.tls == .prefer
                ? (.prefer(configuration), .prefer(context)) : (.require(configuration), .require(context))
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        // One connection first, tried once: a wrong address or password is told now, with
        // PostgreSQL's own words, not after the pool has retried for a minute.
        var single = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls.connection)
        single.options.connectTimeout = .seconds(5)
        do {
            let connection = try await PostgresConnection.connect(configuration: single, id: 0, logger: quiet)
            try await connection.close()
        } catch {
            throw StoreError("PostgreSQL at \(location) cannot be used: \(Self.explain(error))")
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls.client)
        configuration.options.maximumConnections = location.poolSize
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: quiet)
        let running = Task { await client.run() }
        // The connection that hears the other instances' changes: one of its own, outside the pool.
        let listening = single
        let listeningLogger = quiet
        let changes = StoreChanges(
            connect: { try await PostgresConnection.connect(configuration: listening, id: 1, logger: listeningLogger) },
            logger: logger)
        return UnionStore(location: .postgres(location), backend: .postgres(client, running), changes: changes)
    }

    /// What went wrong connecting, for a person: PostgreSQL's message, or the network's.
    private static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        return error.underlying.map { String(describing: $0) } ?? String(reflecting: error.code)
    }

    private static func openSQLite(path: String, logger: Logger) async throws -> UnionStore {
        if path != ":memory:" {
            // Members' names and phone numbers: readable by this user only. SQLite gives the
            // -wal and -shm files the database file's mode.
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            } else {
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            }
        }
        var lock: FileLock?
        if path != ":memory:" {
            switch FileLock.take(path + ".lock", exclusive: false) {
            case .locked(let taken): lock = taken
            case .held: throw StoreError("\(path) is being restored from a backup; start again when that is done")
            case .unopenable: lock = nil  // a read-only folder: the store opens, only a restore cannot tell
            }
        }
        let storage: SQLiteConnection.Storage = path == ":memory:" ? .memory : .file(path: path)
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        return UnionStore(
            location: .sqlite(path: path), backend: .sqlite(connection, connection.sql(queryLogLevel: nil)),
            fileLock: lock)
    }

    /// Runs `body` in one transaction: all of its writes are committed together, or none are,
    /// and it returns only after the commit.
    ///
    /// Writes from several callers are committed in groups: whoever finds no group being written
    /// writes the waiting ones in one transaction, with one commit (one fsync) for all of them.
    /// A body that throws rolls back its own writes only: the group is then written again with
    /// each body in its own savepoint, so a body may run twice, and must touch nothing but the
    /// database. A failed commit fails every body of its group. Bodies run one at a time, in
    /// arrival order, and must not call the store themselves.
    public func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        do {
            return try await transactionOnce(body)
        } catch  where dialect.sharedByInstances && StoreUnavailable.isUniqueViolation(error) {
            // Another instance committed the same record meanwhile (WeChat's retry of a message
            // that instance was handling: this one waited on its locks until it committed). Run
            // again: the body now finds that record and answers as the first did.
            return try await transactionOnce(body)
        }
    }

    private func transactionOnce<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        let result = Mutex<Result?>(nil)
        try await written(
            PendingWrite { database in
                let value = try await body(database)
                result.withLock { $0 = value }
            })
        guard let value = result.withLock({ $0 }) else {
            throw StoreError("a transaction committed without its result")  // not reached
        }
        return value
    }

    /// Runs `body` in a transaction of its own, on a connection from the pool rather than in the
    /// writer's groups, on PostgreSQL; on SQLite (one connection) as ``transaction(_:)``. For a
    /// write whose row locks must not be held together with other callers' in one group's
    /// transaction, in an order no one chose.
    func separateTransaction<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result)
        async throws -> Result
    {
        guard dialect.sharedByInstances else { return try await transaction(body) }
        return try await withDatabase { [dialect] database in
            try await dialect.beginWrite(database)
            do {
                let result = try await body(database)
                try await dialect.commit(database)
                return result
            } catch {
                try? await dialect.rollback(database)
                throw error
            }
        }
    }

    /// Runs `write` in a transaction, as ``transaction(_:)`` runs a body, together with the
    /// writes of its kind that wait in the same group (``BatchableWrite``).
    func transaction<Write: BatchableWrite>(batching write: Write) async throws -> Write.Result {
        do {
            return try await batchedOnce(write)
        } catch  where dialect.sharedByInstances && StoreUnavailable.isUniqueViolation(error) {
            return try await batchedOnce(write)  // as in transaction(_:)
        }
    }

    private func batchedOnce<Write: BatchableWrite>(_ write: Write) async throws -> Write.Result {
        let slot = BatchSlot(write)
        try await written(PendingWrite(batch: WriteBatchEntry(slot)) { try await slot.run(in: $0) })
        guard let value = slot.result.withLock({ $0 }) else {
            throw StoreError("a batched write committed without its result")  // not reached
        }
        return value
    }

    /// Queues `write`, writes the waiting groups when no one else is, and returns once `write`
    /// is committed.
    private func written(_ write: PendingWrite) async throws {
        let leads = writes.withLock { queue in
            queue.pending.append(write)
            defer { queue.writing = true }
            return !queue.writing
        }
        if leads { await writeGroups(until: write) }
        try await write.committed()
    }

    /// The most transactions committed together.
    static var maxGroup: Int { 128 }

    /// Writes the waiting transactions in groups until none are left. The store's lock is taken
    /// for each group, so reads get their turn between groups.
    ///
    /// A caller who leads writes until its own write (`own`) has ended, then hands what still
    /// waits to a task of its own and returns. Under a steady stream of writes the queue is
    /// never empty, and a leader that wrote until it was kept its member waiting long after
    /// their own commit: 0.1 to 0.6 s for one message in every hundred or so, in a burst of
    /// suggestions.
    private func writeGroups(until own: PendingWrite?) async {
        while true {
            await mutex.lock()
            let group = writes.withLock { queue -> [PendingWrite] in
                let group = Array(queue.pending.prefix(Self.maxGroup))
                queue.pending.removeFirst(group.count)
                if group.isEmpty { queue.writing = false }
                return group
            }
            if group.isEmpty {
                await mutex.unlock()
                return
            }
            await commit(group)
            await mutex.unlock()
            if let own, own.hasEnded {
                let more = writes.withLock { queue -> Bool in
                    if queue.pending.isEmpty { queue.writing = false }
                    return queue.writing
                }
                if more { Task { await self.writeGroups(until: nil) } }
                return
            }
        }
    }

    /// Whether writes are failing because the database cannot write (locked past every retry,
    /// disk full, I/O error). Cleared by the next commit.
    public var writesFailing: Bool { failing.withLock { $0 } }

    /// How often, and after what pause, a busy database is tried again before a group fails.
    /// Each try also waits SQLite's own `busy_timeout` (1 s), so the whole stays inside
    /// WeChat's reply deadline.
    static let busyRetries: [Duration] = [.milliseconds(100), .milliseconds(400)]

    /// Runs `group` in one transaction and tells each write how it ended.
    private func commit(_ group: [PendingWrite]) async {
        do {
            try await withDatabase { database in await self.commit(group, on: database) }
        } catch {
            fail(group, error)  // no connection
        }
    }

    private func commit(_ group: [PendingWrite], on database: any SQLDatabase) async {
        if await committedAsOneStatement(group, on: database) { return }
        guard await begin(group, on: database) else { return }
        // First the whole group straight through, no savepoint between its bodies: two
        // statements fewer per body, the common case. Should a body throw, that attempt is rolled
        // back whole and the group runs again with each body in its own savepoint, so that the
        // failure undoes that body's writes only. (The bodies touch nothing but the database, so
        // running one again is safe.)
        if group.count > 1 {
            var allRan = false
            do {
                try await runStraightThrough(group, on: database)
                allRan = true
                try await dialect.commit(database)
                committed(group, failures: Array(repeating: nil, count: group.count), isolated: false)
                return
            } catch {
                // Nothing of this attempt stays: rolled back here, or already by SQLite itself,
                // which may end the whole transaction on a full disk (ROLLBACK then finds none
                // and fails; that failure is not the one to report). When the commit itself
                // failed, the group fails with its error; when a body threw, the group is written
                // again below, a savepoint each.
                try? await dialect.rollback(database)
                if allRan {
                    fail(group, error)
                    return
                }
                guard await begin(group, on: database) else { return }
            }
        }
        var failures: [(any Error)?] = []
        do {
            if group.count == 1 {
                try await group[0].body(database)  // on its own: the transaction is its savepoint
                failures = [nil]
            } else {
                for write in group {
                    try await dialect.savepoint(database)
                    do {
                        try await write.body(database)
                        try await dialect.releaseSavepoint(database)
                        failures.append(nil)
                    } catch let failure {
                        do {
                            try await dialect.rollbackToSavepoint(database)
                        } catch {
                            // SQLite ended the whole transaction (a full disk): the group fails
                            // with the body's own error, the database's trouble.
                            throw failure
                        }
                        failures.append(failure)
                    }
                }
            }
            try await dialect.commit(database)
        } catch {
            // A lone body failed, or the database itself did: nothing of the group stays.
            try? await dialect.rollback(database)
            fail(group, error)
            return
        }
        committed(group, failures: failures, isolated: group.count > 1)
    }

    /// Runs every body of `group` in order, except that the batchable writes of one kind and key
    /// run together where the first of them stands (a member's writes never share a group: their
    /// messages are handled one at a time).
    private func runStraightThrough(_ group: [PendingWrite], on database: any SQLDatabase) async throws {
        var ran = Array(repeating: false, count: group.count)
        for index in group.indices where !ran[index] {
            ran[index] = true
            guard let batch = group[index].batch else {
                try await group[index].body(database)
                continue
            }
            var together = [index]
            for later in group.indices.dropFirst(index + 1) where !ran[later] {
                guard let other = group[later].batch, other.key == batch.key else { continue }
                together.append(later)
                ran[later] = true
            }
            let slots = together.compactMap { group[$0].batch?.slot }
            if together.count > 1, try await batch.runTogether(slots, database) {
                batchCounts.withLock {
                    $0.batches += 1
                    $0.writes += together.count
                }
            } else {
                for member in together { try await group[member].body(database) }  // each on its own
            }
        }
    }

    /// Runs a group of batchable writes of one kind and key that are one statement together
    /// (``BatchableWrite/isOneStatement``) as that statement alone, on PostgreSQL: atomic without
    /// `BEGIN` and `COMMIT`, one round trip for the group instead of three (a group of one too).
    /// True when the group has ended so (committed, or failed on the database's trouble); false
    /// when it was not such a group, the database has no such statement, or the statement failed
    /// and left nothing: then it runs as any group does.
    private func committedAsOneStatement(_ group: [PendingWrite], on database: any SQLDatabase) async -> Bool {
        guard dialect.sharedByInstances, let batch = group[0].batch, batch.isOneStatement else {
            return false
        }
        let slots = group.compactMap { write in write.batch?.key == batch.key ? write.batch?.slot : nil }
        guard slots.count == group.count else { return false }
        do {
            guard try await batch.runTogether(slots, database) else { return false }
        } catch {
            guard StoreUnavailable.isTrouble(error) else { return false }
            fail(group, error)
            return true
        }
        batchCounts.withLock {
            $0.batches += 1
            $0.writes += group.count
            $0.alone += 1
        }
        committed(group, failures: Array(repeating: nil, count: group.count), isolated: false)
        return true
    }

    /// Begins the group's transaction, trying a busy database again; false (and the group
    /// failed) when it cannot.
    private func begin(_ group: [PendingWrite], on database: any SQLDatabase) async -> Bool {
        var retries = Self.busyRetries[...]
        while true {
            do {
                try await dialect.beginWrite(database)
                return true
            } catch {
                if StoreUnavailable.isBusy(error), let pause = retries.popFirst() {
                    try? await Task.sleep(for: pause)
                    continue
                }
                fail(group, error)
                return false
            }
        }
    }

    /// Tells each write of a committed group how it ended.
    private func committed(_ group: [PendingWrite], failures: [(any Error)?], isolated: Bool) {
        // A write that failed on the database's own trouble (the disk full, say) inside its
        // savepoint keeps the store marked failing even though the others committed.
        let troubled = failures.contains { $0.map(StoreUnavailable.isTrouble) ?? false }
        failing.withLock { $0 = troubled }
        groupCounts.withLock {
            $0.commits += 1
            $0.transactions += group.count
            if isolated { $0.isolated += 1 }
        }
        for (write, failure) in zip(group, failures) {
            write.finish(failure.map { StoreUnavailable.isTrouble($0) ? StoreUnavailable.wrapping($0) : $0 })
        }
    }

    /// Fails every write of `group` with `error`, as ``StoreUnavailable`` when the database
    /// itself could not write.
    private func fail(_ group: [PendingWrite], _ error: any Error) {
        let trouble = StoreUnavailable.isTrouble(error)
        if trouble { failing.withLock { $0 = true } }
        let reported = trouble ? StoreUnavailable.wrapping(error) : error
        for write in group { write.finish(reported) }
    }

    /// Tries a small write (a setting with the time), so that `writesFailing` clears once the
    /// database can write again even when no member writes.
    public func probeWrite(at now: Int64) async throws {
        try await transaction { database in
            try await Self.setSetting("health_probe", value: String(now), at: now, in: database)
        }
    }

    /// How many transactions are waiting for a commit.
    var waitingWrites: Int { writes.withLock { $0.pending.count } }

    /// Runs `body`, which only reads, without interleaving with a transaction.
    public func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result)
        async throws
        -> Result
    {
        if case .postgres = backend {
            do {
                return try await withDatabase(body)  // a connection of its own from the pool
            } catch {
                // The server gone is as much trouble for the next write: not ready until a
                // write (or the probe) succeeds again.
                if StoreUnavailable.isTrouble(error) { failing.withLock { $0 = true } }
                throw error
            }
        }
        await mutex.lock()
        do {
            let result = try await withDatabase(body)
            await mutex.unlock()
            return result
        } catch {
            await mutex.unlock()
            throw error
        }
    }

    /// Runs `body` while no group is written (tests hold writes back with it, so they queue).
    func exclusively(_ body: () async -> Void) async {
        await mutex.lock()
        await body()
        await mutex.unlock()
    }

    /// Looks whether another connection (another process) wrote to the database since the last
    /// look, and if so forgets what the services remember (``MemberFacts``). The server calls it
    /// every fraction of a second, so a change made with `uniongate members approve` shows within
    /// that time.
    public func noticeOutsideWrites() async throws {
        try await read { database in
            guard let version = try await self.dialect.outsideChanges(database) else { return }
            let changed = self.lastSeenVersion.withLock { seen in
                defer { seen = version }
                return seen != nil && seen != version
            }
            if changed { self.facts.forgetAll() }
        }
    }

    /// Closes the connections. The store cannot be used afterwards.
    public func close() async {
        await changes.stop()
        await mutex.lock()
        switch backend {
        case .sqlite(let connection, _):
            try? await connection.close()
            fileLock?.release()
        case .postgres(_, let running):
            running.cancel()
            await running.value
        }
        await mutex.unlock()
    }
}

/// How many pooled connections callers hold now, and when one was last handed out or given back.
final class LeaseCount: Sendable {
    private let count = Atomic<Int>(0)
    /// `DispatchTime`'s uptime in nanoseconds at the last lease or release.
    private let lastChange = Atomic<UInt64>(0)

    func granted() {
        count.add(1, ordering: .relaxed)
        lastChange.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
    }

    func released() {
        count.subtract(1, ordering: .relaxed)
        lastChange.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
    }

    var current: Int { count.load(ordering: .relaxed) }

    /// Whether the pool is at work: a connection is held now, or one changed hands within
    /// `window` (a released connection is being handed to the next caller in line).
    func isBusy(within window: Duration) -> Bool {
        if current > 0 { return true }
        let last = lastChange.load(ordering: .relaxed)
        guard last > 0 else { return false }
        let nanoseconds =
            UInt64(window.components.seconds) * 1_000_000_000
            + UInt64(window.components.attoseconds / 1_000_000_000)
        return DispatchTime.now().uptimeNanoseconds - last < nanoseconds
    }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var isSet: Bool { state.withLock { $0 } }
}

/// One caller's transaction, waiting for its group's commit.
private final class PendingWrite: Sendable {
    let body: @Sendable (any SQLDatabase) async throws -> Void
    /// What the writer may run together with others of its kind, instead of `body`.
    let batch: WriteBatchEntry?
    private let state = Mutex<State>(.waiting(nil))

    private enum State {
        case waiting(CheckedContinuation<Void, any Error>?)
        case finished((any Error)?)
    }

    init(batch: WriteBatchEntry? = nil, _ body: @escaping @Sendable (any SQLDatabase) async throws -> Void) {
        self.batch = batch
        self.body = body
    }

    /// Whether the write has been committed or has failed.
    var hasEnded: Bool {
        state.withLock { state in
            if case .finished = state { return true }
            return false
        }
    }

    /// Reports how the write ended: nil when it is committed.
    func finish(_ failure: (any Error)?) {
        let waiting = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .finished(failure)
            return continuation
        }
        guard let waiting else { return }
        if let failure { waiting.resume(throwing: failure) } else { waiting.resume() }
    }

    /// Returns once the write is committed; throws what made it fail.
    func committed() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> (any Error)?? in
                switch state {
                case .finished(let failure): return .some(failure)
                case .waiting:
                    state = .waiting(continuation)
                    return nil
                }
            }
            switch outcome {
            case .some(nil): continuation.resume()
            case .some(let failure?): continuation.resume(throwing: failure)
            case nil: break
            }
        }
    }
}
