import Foundation
import Logging
import ReplyRules
import SQLKit
import Synchronization
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionServices

@Suite("The store")
struct StoreTests {
    func open(_ path: String = ":memory:") async throws -> UnionStore {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await UnionStore.open(path: path, logger: logger)
    }

    @Test func theDatabaseAndItsJournalAreReadableByTheOwnerOnly() async throws {
        let path = Scratch.folder.appendingPathComponent("mode-\(UUID().uuidString).sqlite")
            .path
        let store = try await open(path)
        try await store.setSetting("probe", value: "1")
        for file in [path, path + "-wal", path + "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func aMusicReplyKeepsItsAddressesInTheOutbox(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let music = ReplyBody.music(
            Music(
                title: "工会之歌", description: "周年", musicURL: "https://union.example/a.mp3",
                hqMusicURL: "https://union.example/a-hq.mp3", thumbMediaId: "thumb"))
        try await store.transaction { database in
            try await Outbox.enqueue([music], to: "oMusic", reason: .additionalReplies, at: 1, in: database)
        }
        let stored = try await store.read { try await Outbox.list(in: $0) }
        #expect(stored.map(\.bodies) == [[music]])
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func migrationsRunOnceAndNumbersCountPerYear(_ kind: StoreKind) async throws {
        let path = try kind.freshLocation()
        let store = try await kind.open(path)
        let numbers = try await store.transaction { database in
            [
                try await ReceiptNumbers.next(prefix: "JY", year: 2026, in: database),
                try await ReceiptNumbers.next(prefix: "JY", year: 2026, in: database),
                try await ReceiptNumbers.next(prefix: "JY", year: 2027, in: database),
                try await ReceiptNumbers.next(prefix: "RH", year: 2026, in: database),
            ]
        }
        #expect(numbers == ["JY-2026-000001", "JY-2026-000002", "JY-2027-000001", "RH-2026-000001"])
        await store.close()
        let reopened = try await kind.open(path)
        let versions = try await reopened.read { database in
            try await database.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                try $0.decode(column: "version", as: Int.self)
            }
        }
        #expect(versions == Array(1...16))
        let next = try await reopened.transaction { try await ReceiptNumbers.next(prefix: "JY", year: 2026, in: $0) }
        #expect(next == "JY-2026-000003")
        await reopened.close()
    }

    /// A suggestion's number, taken by the statement that stores it on PostgreSQL (prepared) and
    /// by two on SQLite, reads the same on both: six digits at least, more past 999,999, the
    /// member's unit, and a retry of the message gets the first suggestion without a number.
    @Test(arguments: StoreKind.allCases)
    func aSuggestionsNumberIsTheSameOnBothDatabases(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        func submit(_ key: String, openid: String = "oNumbered") async throws -> Suggestion {
            try await store.transaction { database in
                try await SuggestionBox.submit(
                    openid: openid, content: "食堂晚上增加一个窗口", messageKey: key, at: 5, year: 2026, in: database)
            }
        }
        let first = try await submit("k1")
        #expect(first.number == "JY-2026-000001" && first.unitCode == "" && first.status == .received)
        #expect(try await submit("k1") == first)  // the retry
        #expect(try await submit("k2").number == "JY-2026-000002")
        try await store.transaction { database in
            try await database.update("receipt_counters").set("last", to: 999_998)
                .where("prefix", .equal, "JY").where("year", .equal, 2026).run()
        }
        #expect(try await submit("k3").number == "JY-2026-999999")
        #expect(try await submit("k4").number == "JY-2026-1000000")
        let stored = try await SuggestionBox(store: store).list()
        #expect(Set(stored.map(\.number)).count == 4 && stored.count == 4)
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func aFailedTransactionLeavesNothingBehind(_ kind: StoreKind) async throws {
        struct Boom: Error {}
        let store = try await kind.open()
        await #expect(throws: Boom.self) {
            try await store.transaction { database in
                _ = try await SuggestionBox.submit(
                    openid: "o", content: "一条建议内容", messageKey: "k1", at: 1, year: 2026, in: database)
                throw Boom()
            }
        }
        #expect(try await SuggestionBox(store: store).list().isEmpty)
        // The counter rolled back too: the next number is still 1.
        let suggestion = try await store.transaction { database in
            try await SuggestionBox.submit(
                openid: "o", content: "一条建议内容", messageKey: "k2", at: 1, year: 2026, in: database)
        }
        #expect(suggestion.number == "JY-2026-000001")
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func noBindValueIsLoggedAtAnyLevel(_ kind: StoreKind) async throws {
        let logs = LogCapture()
        let store = try await kind.open(logger: logs.logger())
        _ = try await store.transaction { database in
            try await SuggestionBox.submit(
                openid: "oSecretMember", content: "请联系我 13912345678", messageKey: "k-secret", at: 1, year: 2026,
                in: database)
        }
        #expect(try await SuggestionBox(store: store).list().count == 1)
        await store.close()
        // The capture hears the store's logger (at trace level), so a query line would be here.
        if kind == .sqlite { #expect(logs.lines.contains { $0.message.contains("Connected to sqlite database") }) }
        for line in logs.lines {
            #expect(!line.text.contains("13912345678"), "\(line.text)")
            #expect(!line.text.contains("oSecretMember"), "\(line.text)")
        }
    }

    /// A kept statement is serialised once per kind of database, and each run puts its own
    /// binds in their places, however the statement orders or repeats them.
    @Test(arguments: StoreKind.allCases)
    func aKeptStatementIsBuiltOnceAndRunsWithEachCallsBinds(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let builds = Mutex(0)
        let name = "test statement \(UUID().uuidString)"
        var values: [Int] = []
        for (first, second) in [(2, 3), (5, 7), (1, 0)] {
            values.append(
                try await store.read { database in
                    let statement = CachedStatements.statement(name, binds: [first, second], on: database) {
                        database, bind in
                        builds.withLock { $0 += 1 }
                        // second × 10 + first − second: the binds out of order, one twice.
                        let sum = SQLBinaryExpression(
                            SQLBinaryExpression(bind[1], .multiply, SQLLiteral.numeric("10")), .add, bind[0])
                        return database.select().column(
                            SQLAlias(SQLBinaryExpression(sum, .subtract, bind[1]), as: SQLIdentifier("v"))
                        ).select
                    }
                    return try await statement.first(decodingColumn: "v", as: Int.self) ?? -1
                })
        }
        #expect(values == [29, 68, 1])
        #expect(builds.withLock { $0 } == 1)
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentSubmissionsGetDistinctNumbers(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let numbers = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await store.transaction { database in
                        try await SuggestionBox.submit(
                            openid: "o\(index)", content: "建议内容第\(index)条", messageKey: "key\(index)", at: 1,
                            year: 2026, in: database
                        ).number
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(numbers).count == 40)
        #expect(try await SuggestionBox(store: store).list().count == 40)
        await store.close()
    }

    /// Holds the store with a read until `release` is called, so that writes queue up behind it.
    final class Gate: Sendable {
        let opened: AsyncStream<Void>
        private let open: AsyncStream<Void>.Continuation
        init() { (opened, open) = AsyncStream.makeStream() }
        func release() { open.finish() }
        func wait() async { for await _ in opened {} }
    }

    @Test(arguments: StoreKind.allCases)
    func waitingTransactionsCommitTogetherAndAFailureRollsBackOnlyItsOwn(_ kind: StoreKind) async throws {
        struct Refused: Error {}
        let store = try await kind.open()
        let gate = Gate()
        let holder = Task { await store.exclusively { await gate.wait() } }
        let before = store.groupCounts.withLock { $0 }
        let writes = (0..<4).map { index in
            Task {
                try await store.transaction { database in
                    let suggestion = try await SuggestionBox.submit(
                        openid: "o\(index)", content: "分组提交第\(index)条", messageKey: "group\(index)", at: 1,
                        year: 2026, in: database)
                    if index == 1 { throw Refused() }
                    return suggestion.number
                }
            }
        }
        while store.waitingWrites < 4 { await Task.yield() }
        gate.release()
        await holder.value
        var numbers: [String] = []
        for (index, write) in writes.enumerated() {
            if index == 1 {
                await #expect(throws: Refused.self) { try await write.value }
            } else {
                numbers.append(try await write.value)
            }
        }
        let after = store.groupCounts.withLock { $0 }
        #expect(after.commits - before.commits == 1, "the four waiting transactions share one commit")
        #expect(after.transactions - before.transactions == 4)
        #expect(after.isolated - before.isolated == 1, "the failure made the group run again, a savepoint each")
        // The refused one left nothing, not even its receipt number: the numbers run on.
        #expect(Set(numbers) == ["JY-2026-000001", "JY-2026-000002", "JY-2026-000003"])
        let stored = try await SuggestionBox(store: store).list()
        #expect(Set(stored.map(\.openid)) == ["o0", "o2", "o3"])
        await store.close()
    }

    /// Whoever leads the writing gets its answer after its own group's commit, not once the
    /// queue is empty: under a steady stream of writes it never is.
    @Test(arguments: StoreKind.allCases)
    func theLeaderIsAnsweredAfterItsOwnCommitNotAfterTheWholeQueue(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let gate = Gate()
        let holder = Task { await store.exclusively { await gate.wait() } }
        let leaderAnswered = Flag()
        let leader = Task {
            try await store.transaction { database in
                try await UnionStore.setSetting("leader", value: "1", at: 1, in: database)
            }
            leaderAnswered.set()
        }
        while store.waitingWrites < 1 { await Task.yield() }
        // A full group behind the leader's, and one more: that one is written in a second
        // group, and waits there (ten seconds at most) for the leader to have its answer.
        let behind = (0...UnionStore.maxGroup).map { index in
            Task {
                try await store.transaction { database -> Bool in
                    try await UnionStore.setSetting("behind-\(index)", value: "1", at: 1, in: database)
                    guard index == UnionStore.maxGroup else { return true }
                    let deadline = ContinuousClock.now + .seconds(10)
                    while !leaderAnswered.isSet, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    return leaderAnswered.isSet
                }
            }
        }
        while store.waitingWrites < UnionStore.maxGroup + 2 { await Task.yield() }
        gate.release()
        await holder.value
        try await leader.value
        var sawTheLeaderAnswered: [Bool] = []
        for write in behind { sawTheLeaderAnswered.append(try await write.value) }
        #expect(sawTheLeaderAnswered.last == true, "the leader waited for a group after its own")
        #expect(sawTheLeaderAnswered.allSatisfy { $0 })
        let stored = try await store.read { try await $0.count("settings") }
        #expect(stored >= UnionStore.maxGroup + 2)
        await store.close()
    }

    /// Suggestions that wait in one group are stored by one statement on PostgreSQL, numbered in
    /// the order they arrived, as SQLite numbers them one by one: a message already stored and
    /// a retry within the group take no number, and a member's unit comes with theirs.
    @Test(arguments: StoreKind.allCases)
    func suggestionsWaitingInOneGroupAreNumberedInOrderOnce(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        func submission(_ key: String, openid: String = "oBatch", year: Int = 2026) -> SuggestionSubmission {
            SuggestionSubmission(openid: openid, content: "食堂的菜\(key)", messageKey: key, now: 7, year: year)
        }
        let earlier = try await store.transaction(batching: submission("before"))
        #expect(earlier.number == "JY-2026-000001")
        try await store.transaction { database in
            try await database.insert(into: "membership_applications")
                .columns("number", "openid", "name", "phone", "unit", "status", "created_at", "unit_code")
                .values(
                    SQLBind("RH-2026-000001"), SQLBind("oMember"), SQLBind("王芳"), SQLBind("13800000000"),
                    SQLBind("一厂"), SQLBind("approved"), SQLBind(1), SQLBind("U01")
                ).run()
        }
        let gate = Gate()
        let holder = Task { await store.exclusively { await gate.wait() } }
        let waiting: [SuggestionSubmission] = [
            submission("m1"), submission("before"), submission("m2", openid: "oMember"), submission("m1"),
            submission("m3"), submission("m4", year: 2027), submission("m5"),
        ]
        var writes: [Task<Suggestion, any Error>] = []
        for (index, write) in waiting.enumerated() {
            writes.append(Task { try await store.transaction(batching: write) })
            while store.waitingWrites < index + 1 { await Task.yield() }
        }
        let before = store.batchCounts.withLock { $0 }
        gate.release()
        await holder.value
        var numbers: [String] = []
        for write in writes { numbers.append(try await write.value.number) }
        #expect(
            numbers == [
                "JY-2026-000002", "JY-2026-000001", "JY-2026-000003", "JY-2026-000002", "JY-2026-000004",
                "JY-2027-000001", "JY-2026-000005",
            ])
        #expect(try await writes[2].value.unitCode == "U01")
        let stored = try await SuggestionBox(store: store).list()
        #expect(stored.count == 6)
        #expect(stored.first { $0.openid == "oMember" }?.unitCode == "U01")
        let after = store.batchCounts.withLock { $0 }
        if kind == .postgres {
            #expect(after.batches - before.batches == 1, "the 2026 suggestions went in one statement")
            #expect(after.writes - before.writes == 6)
            #expect(after.alone == before.alone, "the 2027 one shared their group: BEGIN and COMMIT")
        } else {
            #expect(after == before, "SQLite writes them one by one")
        }

        // A group of nothing but suggestions of one year is that one statement, with a retry of
        // a stored message and a retry within the group.
        let second = Gate()
        let holderAgain = Task { await store.exclusively { await second.wait() } }
        let more = [submission("m6"), submission("m2", openid: "oMember"), submission("m7"), submission("m7")]
        var moreWrites: [Task<Suggestion, any Error>] = []
        for (index, write) in more.enumerated() {
            moreWrites.append(Task { try await store.transaction(batching: write) })
            while store.waitingWrites < index + 1 { await Task.yield() }
        }
        second.release()
        await holderAgain.value
        var moreNumbers: [String] = []
        for write in moreWrites { moreNumbers.append(try await write.value.number) }
        #expect(moreNumbers == ["JY-2026-000006", "JY-2026-000003", "JY-2026-000007", "JY-2026-000007"])
        #expect(try await SuggestionBox(store: store).list().count == 8)
        let last = store.batchCounts.withLock { $0 }
        if kind == .postgres {
            #expect(last.alone - after.alone == 1 && last.writes - after.writes == 4, "\(last)")
        }
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func aRetryInTheSameGroupStoresOnce(_ kind: StoreKind) async throws {
        let store = try await kind.open()
        let gate = Gate()
        let holder = Task { await store.exclusively { await gate.wait() } }
        let before = store.groupCounts.withLock { $0 }
        let writes = (0..<3).map { _ in
            Task {
                try await store.transaction { database in
                    try await SuggestionBox.submit(
                        openid: "oRetry", content: "同一条消息的重试", messageKey: "same-message", at: 1, year: 2026,
                        in: database
                    ).number
                }
            }
        }
        while store.waitingWrites < 3 { await Task.yield() }
        gate.release()
        await holder.value
        var numbers: Set<String> = []
        for write in writes { numbers.insert(try await write.value) }
        #expect(numbers == ["JY-2026-000001"])
        #expect(try await SuggestionBox(store: store).list().count == 1)
        let after = store.groupCounts.withLock { $0 }
        #expect(after.commits - before.commits == 1)
        #expect(after.isolated == before.isolated, "nothing failed: the group ran straight through, once")
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func conversationsSurviveReopening(_ kind: StoreKind) async throws {
        let path = try kind.freshLocation()
        let store = try await kind.open(path)
        let conversations = try await ConversationStore.load(from: store)
        let progress = FormProgress(
            form: "join", step: 2, answers: ["name": "张三", "phone": "13812345678"], updatedAt: 99)
        try await conversations.save(progress, for: "oA")
        try await conversations.save(FormProgress(form: "join", updatedAt: 5), for: "oB")
        try await conversations.clear("oB")
        await store.close()
        let reopened = try await kind.open(path)
        let loaded = try await ConversationStore.load(from: reopened)
        #expect(loaded.entry(for: "oA")?.progress == progress)
        #expect(loaded.entry(for: "oB") == nil)
        await reopened.close()
    }

    /// Instances starting at once on one PostgreSQL database migrate it once, in turn.
    @Test func instancesStartingTogetherMigrateOnce() async throws {
        let url = try StoreKind.postgres.freshLocation()
        let stores = try await withThrowingTaskGroup(of: UnionStore.self) { group in
            for _ in 0..<4 { group.addTask { try await StoreKind.postgres.open(url) } }
            return try await group.reduce(into: [UnionStore]()) { $0.append($1) }
        }
        let versions = try await stores[0].read { database in
            try await database.select().column("version").from("schema_migrations").orderBy("version").all(
                decodingColumn: "version", as: Int.self)
        }
        #expect(versions == Array(1...Migrations.all.count))
        // All four write to it, and numbers stay distinct across them.
        let numbers = try await withThrowingTaskGroup(of: String.self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    try await store.transaction { database in
                        try await SuggestionBox.submit(
                            openid: "o\(index)", content: "实例\(index)的建议", messageKey: "instance\(index)", at: 1,
                            year: 2026, in: database
                        ).number
                    }
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(numbers.count == 4)
        for store in stores { await store.close() }
    }

    /// Instances on one PostgreSQL database asking for the token's refresh lease at once: one
    /// gets it.
    @Test func oneInstanceAtATimeRefreshesTheAccessToken() async throws {
        let url = try StoreKind.postgres.freshLocation()
        var stores: [UnionStore] = []
        for _ in 0..<3 { stores.append(try await StoreKind.postgres.open(url)) }
        for round in 0..<5 {
            let now = Int64(1_000 + round * 100)
            let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        try await StoreTokenCache(store: store).acquireRefreshLease(
                            holder: "instance-\(index)", until: now + 30, now: now)
                    }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(granted == 1, "round \(round): \(granted) instances were granted the lease")
        }
        for store in stores { await store.close() }
    }

    @Test func databaseLocationsAreReadAsPostgreSQLUsersWriteThem() throws {
        let url = try DatabaseLocation(
            "postgresql://union%40ops:p%2Fss@db.example.cn:6432/gh%20union?sslmode=verify-full&pool_size=16")
        guard case .postgres(let postgres) = url else {
            Issue.record("expected PostgreSQL, got \(url)")
            return
        }
        #expect(postgres.user == "union@ops" && postgres.password == "p/ss")
        #expect(postgres.host == "db.example.cn" && postgres.port == 6432 && postgres.database == "gh union")
        #expect(postgres.tls == .verifyFull && postgres.poolSize == 16)
        #expect(postgres.connectionDeadline == .seconds(2), "a connection is waited for 2 s by default")
        let patient = try PostgresLocation(url: "postgres://u@h/db?connect_timeout=30")
        #expect(patient.connectionDeadline == .seconds(30))
        #expect(!url.description.contains("p/ss") && !url.description.contains("p%2Fss"))
        let defaults = try DatabaseLocation("postgres://union@localhost")
        #expect(
            defaults == .postgres(try PostgresLocation(url: "postgres://union@localhost:5432/union?sslmode=prefer")))
        #expect(try DatabaseLocation("./uniongate.sqlite") == .sqlite(path: "./uniongate.sqlite"))
        #expect(try DatabaseLocation(":memory:") == .sqlite(path: ":memory:"))
        for bad in [
            "postgres://localhost/db", "postgres://u@/db", "postgres://u@h/db?sslmode=sometimes",
            "postgres://u@h/db?pool_size=0", "postgres://u@h/db?colour=red", "postgres://u@h/db?connect_timeout=0",
            "postgres://u@h/db?connect_timeout=soon",
        ] {
            #expect(throws: StoreError.self, "\(bad)") { try DatabaseLocation(bad) }
        }
    }

    @Test func rememberedFactsAreBounded() {
        let facts = MemberFacts(capacity: 3)
        for index in 0..<10 { facts.remember(application: nil, for: "o\(index)") }
        #expect(facts.count <= 6)
        #expect(facts.application(for: "o9") != nil)
        #expect(facts.application(for: "o0") == nil)
    }
}
