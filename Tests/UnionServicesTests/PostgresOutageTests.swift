import Foundation
import Logging
import SQLKit
import Synchronization
import Testing
import WeChatTestSupport

@testable import UnionServices

/// PostgreSQL stopped at once (`pg_ctl -m immediate`) while the store is busy, again and again:
/// every call the store makes comes back, with its result or with ``StoreUnavailable``, and none
/// waits for ever on a connection the server cut.
///
/// It runs with the whole-system test, after the rest of the suite (`UNIONGATE_CLUSTER_TEST=1`,
/// as `.ci/run` does): 24 callers as fast as PostgreSQL answers, and its restarts, load both
/// cores, which is what made the suite's deadline tests fail beside the whole-system test.
@Suite(
    "The store while PostgreSQL goes away", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["UNIONGATE_CLUSTER_TEST"] == "1"))
struct PostgresOutageTests {
    /// How many times PostgreSQL is cut (`UNIONGATE_OUTAGE_CUTS` to try more).
    static let cuts = ProcessInfo.processInfo.environment["UNIONGATE_OUTAGE_CUTS"].flatMap { Int($0) } ?? 12

    @Test(.timeLimit(.minutes(5))) func everyCallComesBackWhenTheServerIsCutMidStatement() async throws {
        let server = try TestPostgres.privateServer()
        defer { server.destroy() }
        let store = try await StoreKind.postgres.open(try server.database())
        try await store.transaction { database in
            try await database.create(table: "outage_probe").column("id", type: .int, .primaryKey(autoIncrement: false))
                .run()
        }
        let calls = Calls()
        // The workers are tasks of their own, not children of this one: a call that never comes
        // back must fail the test, not hold it until its time limit.
        let workers = (0..<24).map { worker in
            Task {
                var number = worker * 1_000_000
                while !calls.stopped {
                    number += 1
                    let id = calls.begin()
                    do {
                        if worker.isMultiple(of: 4) {
                            let row = number
                            try await store.transaction { database in
                                try await database.insert(into: "outage_probe").columns("id").values(SQLBind(row))
                                    .run()
                            }
                        } else {
                            _ = try await store.read { database in
                                try await database.select().column(SQLFunction("count", args: SQLLiteral.all))
                                    .from("outage_probe").first(decodingColumn: "count", as: Int.self)
                            }
                        }
                        calls.end(id, error: nil)
                    } catch {
                        calls.end(id, error: error)
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
        }
        var cuts = 0
        do {
            for _ in 0..<Self.cuts {
                // Each cut comes once the store works again: 100 calls succeeded since the last.
                try await waitUntil(timeout: .seconds(60)) { calls.succeeded >= 100 }
                calls.resetSucceeded()
                try server.stop()
                try server.start()
                cuts += 1
            }
            try await waitUntil(timeout: .seconds(60)) { calls.succeeded >= 100 }
        } catch {
            Issue.record("after \(cuts) cuts the store stopped working: \(calls.outstanding) calls in hand")
        }
        calls.stop()
        // Every call in hand comes back (the workers then end).
        let deadline = ContinuousClock.now + .seconds(60)
        while calls.outstanding > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let hung = calls.outstanding
        #expect(hung == 0, "\(hung) store calls never came back after PostgreSQL was cut \(cuts) times")
        if hung == 0 {
            for worker in workers { await worker.value }
            await store.close()
        }
        #expect(calls.unexpected.isEmpty, "errors that are not the database's trouble: \(calls.unexpected.prefix(3))")
        print(
            "outage: \(cuts) cuts, \(calls.total) calls, \(calls.failures) told the database was unavailable, "
                + "\(GuardedConnection.lost.load(ordering: .relaxed)) of them lost with their connection")
        #expect(calls.failures > 0, "PostgreSQL was cut \(cuts) times and no call noticed")
    }
}

/// The calls in flight, and how they ended.
private final class Calls: Sendable {
    private let state = Mutex<
        (next: Int, open: Set<Int>, succeeded: Int, failures: Int, unexpected: [String], stopped: Bool)
    >((0, [], 0, 0, [], false))

    func begin() -> Int {
        state.withLock {
            $0.next += 1
            $0.open.insert($0.next)
            return $0.next
        }
    }

    func end(_ id: Int, error: (any Error)?) {
        state.withLock {
            $0.open.remove(id)
            guard let error else {
                $0.succeeded += 1
                return
            }
            $0.failures += 1
            if !StoreUnavailable.isTrouble(error) { $0.unexpected.append(String(reflecting: error)) }
        }
    }

    func stop() { state.withLock { $0.stopped = true } }
    var stopped: Bool { state.withLock { $0.stopped } }
    func resetSucceeded() { state.withLock { $0.succeeded = 0 } }
    var succeeded: Int { state.withLock { $0.succeeded } }
    var failures: Int { state.withLock { $0.failures } }
    var unexpected: [String] { state.withLock { $0.unexpected } }
    var total: Int { state.withLock { $0.next } }
    var outstanding: Int { state.withLock { $0.open.count } }
}
