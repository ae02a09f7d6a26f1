// The organisation at scale: 10,000 units, 200,000 members and 100,000 suggestions in a real
// SQLite file; times a scoped page of 50, a search and a statistics call at several levels of
// the tree, and a member's 入会 search over the whole tree. Targets: under 50 ms each, and the
// member's search well inside WeChat's reply budget.
//
//   scripts/org-bench                 # builds release and runs
//   ORG_BENCH_RUNS=50 scripts/org-bench
//   ORG_BENCH_SEED=DIR org-benchmark   # only seeds DIR/console.sqlite (and 50,000 cases) and writes
//                                      # DIR/org.yaml, for scripts/console-bench
import Foundation
import Logging
import ReplyRules
import SQLKit
import UnionServices

@main
struct OrgBenchmark {
    static func main() async throws {
        let runs = Int(ProcessInfo.processInfo.environment["ORG_BENCH_RUNS"] ?? "") ?? 30
        let members = 200_000
        let suggestions = 100_000

        // 1 county, 9 towns, 30 enterprises each, 35 teams in each enterprise: 9,730 units.
        var yaml = "org:\n  code: county\n  name: 某某县总工会\n  children:\n"
        let streets = ["环卫", "水务", "纺织", "机械", "物流", "电力", "食品", "建筑", "化工", "医疗"]
        for town in 1...9 {
            yaml += "    - code: t\(town)\n      name: 第\(town)镇工会\n      children:\n"
            for company in 1...30 {
                let trade = streets[(town * 7 + company) % streets.count]
                yaml += "        - code: t\(town)-c\(company)\n          name: 第\(town)镇\(trade)\(company)号公司工会\n"
                yaml += "          children:\n"
                for team in 1...35 {
                    yaml +=
                        "            - { code: t\(town)-c\(company)-g\(team), name: \(trade)\(company)号公司第\(team)班组 }\n"
                }
            }
        }
        var clock = ContinuousClock.now
        let book = try RuleBookLoader().load(files: [("org.yaml", yaml)])
        let organisation = book.join.organisation
        print(
            "org.yaml: \(organisation.units.count) units, \(yaml.utf8.count / 1024) KB, loaded in \(ms(since: clock))")
        let leaves = organisation.leaves

        let seedOnly = ProcessInfo.processInfo.environment["ORG_BENCH_SEED"]
        // ORG_BENCH_DATABASE: an empty PostgreSQL database to run in instead of a new SQLite file.
        let postgres = ProcessInfo.processInfo.environment["ORG_BENCH_DATABASE"]
        let path =
            postgres ?? seedOnly.map { $0 + "/console.sqlite" }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("org-bench-\(UUID().uuidString).sqlite")
            .path
        print("database: \(postgres == nil ? "SQLite" : "PostgreSQL")")
        defer {
            for suffix in ["", "-wal", "-shm", ".journal", ".lock"] where seedOnly == nil && postgres == nil {
                try? FileManager.default.removeItem(atPath: path + suffix)
            }
        }
        if let seedOnly { try yaml.write(toFile: seedOnly + "/org.yaml", atomically: true, encoding: .utf8) }
        var logger = Logger(label: "org-bench")
        logger.logLevel = .error
        let store = try await UnionStore.open(path: path, logger: logger)

        clock = .now
        let surnames = Array("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗")
        let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂")
        for start in stride(from: 0, to: members, by: 1_000) {
            try await store.transaction { database in
                var rows: [SQLQueryString] = []
                for index in start..<min(start + 1_000, members) {
                    let unit = leaves[index % leaves.count]
                    let name =
                        "\(surnames[index % surnames.count])\(given[(index / 20) % given.count])\(given[(index / 400) % given.count])"
                    let phone = "13\(String(format: "%09d", index * 7 % 1_000_000_000))"
                    let status = index % 10 < 7 ? "approved" : (index % 10 < 9 ? "pending" : "rejected")
                    rows.append(
                        "(\(bind: "RH-2026-\(String(format: "%06d", index + 1))"), \(bind: "o\(index)"), \(bind: name), \(bind: phone), \(bind: unit.name), \(bind: unit.code), \(bind: status), \(bind: Int64(1_790_000_000 + index)))"
                    )
                }
                try await database.raw(
                    "INSERT INTO membership_applications (number, openid, name, phone, unit, unit_code, status, created_at) VALUES \(rows.joined(separator: ", "))"
                ).run()
            }
        }
        for start in stride(from: 0, to: suggestions, by: 1_000) {
            try await store.transaction { database in
                var rows: [SQLQueryString] = []
                for index in start..<min(start + 1_000, suggestions) {
                    let member = index * 2 % members
                    let unit = leaves[member % leaves.count]
                    let status = ["received", "under_review", "adopted", "not_adopted", "rewarded"][index % 5]
                    rows.append(
                        "(\(bind: "JY-2026-\(String(format: "%06d", index + 1))"), \(bind: "o\(member)"), \(bind: unit.code), \(bind: "建议第\(index)条：食堂增加夜班供餐，车间通风设备更换"), \(bind: status), \(bind: Int64(1_790_000_000 + index)), \(bind: Int64(1_790_000_000 + index)))"
                    )
                }
                try await database.raw(
                    "INSERT INTO suggestions (number, openid, unit_code, content, status, created_at, updated_at) VALUES \(rows.joined(separator: ", "))"
                ).run()
            }
        }
        print("seeded \(members) members and \(suggestions) suggestions in \(ms(since: clock))")
        if postgres != nil {
            // PostgreSQL plans from statistics its autovacuum gathers some time after a bulk load;
            // a database in service has them, so they are gathered here before anything is timed.
            clock = .now
            try await store.transaction { database in try await database.raw("ANALYZE").run() }
            print("analysed in \(ms(since: clock))")
        }
        if seedOnly != nil {
            // 50,000 cases (留言), each opened by a member's message, a fifth of them open and a
            // tenth of those past their due time; then nothing is measured here.
            clock = .now
            let cases = 50_000
            let now = Int64(Date().timeIntervalSince1970)
            let questions = ["食堂几点开门", "工资条怎么查", "夜班补贴什么时候发", "工会卡丢了怎么办", "体检安排在哪天"]
            for start in stride(from: 0, to: cases, by: 1_000) {
                try await store.transaction { database in
                    var rows: [SQLQueryString] = []
                    var messages: [SQLQueryString] = []
                    for index in start..<min(start + 1_000, cases) {
                        let member = index * 3 % members
                        let unit = leaves[member % leaves.count]
                        let status = index % 5 == 0 ? "open" : (index % 5 < 3 ? "answered" : "closed")
                        let created = now - Int64(cases - index) * 50
                        let due = index % 50 == 0 ? now - 3_600 : now + 86_400
                        rows.append(
                            "(\(bind: "LY-2026-\(String(format: "%06d", index + 1))"), \(bind: "o\(member)"), \(bind: unit.code), \(bind: status), \(bind: due), \(bind: created), \(bind: created), \(bind: created))"
                        )
                        messages.append(
                            "(\(bind: index + 1), 'member', 'text', \(bind: questions[index % questions.count]), \(bind: created))"
                        )
                    }
                    try await database.raw(
                        "INSERT INTO cases (number, openid, unit_code, status, due_at, created_at, updated_at, last_member_at) VALUES \(rows.joined(separator: ", "))"
                    ).run()
                    try await database.raw(
                        "INSERT INTO case_messages (case_id, direction, kind, content, created_at) VALUES \(messages.joined(separator: ", "))"
                    ).run()
                }
            }
            print("seeded \(cases) cases in \(ms(since: clock)); the database is \(path)")
            await store.close()
            return
        }

        let registry = MembershipRegistry(store: store)
        let box = SuggestionBox(store: store)
        func staff(_ unit: String) -> Principal {
            .staff(
                StaffMember(
                    id: 0, name: "bench", unitCode: unit, role: .admin, mustChangePassword: false, disabled: false,
                    createdAt: 0), in: organisation)
        }
        let levels: [(String, Principal)] = [
            ("county (all)", staff("county")), ("town (1,081 units)", staff("t3")),
            ("enterprise (36 units)", staff("t3-c7")),
        ]
        var results: [(String, [Duration])] = []
        func measure(_ name: String, _ body: () async throws -> Void) async throws {
            try await body()  // warm
            var times: [Duration] = []
            for _ in 0..<runs {
                let start = ContinuousClock.now
                try await body()
                times.append(ContinuousClock.now - start)
            }
            results.append((name, times.sorted()))
        }
        let page = try PageRequest()
        for (level, actor) in levels {
            try await measure("members page 1 of 50, \(level)") {
                let found = try await registry.page(RecordFilter(scope: actor.scope), request: page)
                precondition(found.items.count == 50)
            }
            try await measure("members page 40 of 50, \(level)") {
                _ = try await registry.page(RecordFilter(scope: actor.scope), request: try PageRequest(page: 40))
            }
            try await measure("pending members, \(level)") {
                _ = try await registry.page(RecordFilter(scope: actor.scope, status: "pending"), request: page)
            }
            try await measure("search by name 王芳, \(level)") {
                _ = try await registry.page(RecordFilter(scope: actor.scope, search: "王芳"), request: page)
            }
            try await measure("search by phone, \(level)") {
                _ = try await registry.page(RecordFilter(scope: actor.scope, search: "130000700"), request: page)
            }
            try await measure("suggestions page of 50, \(level)") {
                _ = try await box.page(RecordFilter(scope: actor.scope), request: page)
            }
            try await measure("stats, \(level)") {
                _ = try await UnitStatistics.of(unit: nil, organisation: organisation, for: actor, in: store)
            }
        }
        let join = FormConversation(form: book.join.form, organisation: organisation)
        try await measure("入会 search 环卫 over \(organisation.units.count) units") {
            guard
                case .ask(_, let reply) = join.respond(
                    to: "环卫", progress: FormProgress(form: "join", step: 2, updatedAt: 0), at: 1)
            else { fatalError() }
            precondition(reply.contains("找到"))
        }
        try await measure("入会 search 纺织12号公司第3班 (one match)") {
            guard
                case .submit = join.respond(
                    to: "纺织12号公司第3班组", progress: FormProgress(form: "join", step: 2, answers: [:], updatedAt: 0), at: 1)
            else { return }
        }

        print("")
        print(
            "what (\(runs) runs)".padding(toLength: 52, withPad: " ", startingAt: 0)
                + "    p50       p95    target 50 ms")
        var failed = false
        for (name, times) in results {
            let p50 = times[times.count / 2]
            let p95 = times[min(times.count - 1, times.count * 95 / 100)]
            let ok = p95 < .milliseconds(50)
            failed = failed || !ok
            print(
                pad(name, 52) + String(format: "%7.2f ms %7.2f ms  %@", millis(p50), millis(p95), ok ? "ok" : "OVER"))
        }
        await store.close()
        if failed { exit(1) }
    }

    static func millis(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func ms(since start: ContinuousClock.Instant) -> String {
        String(format: "%.0f ms", millis(ContinuousClock.now - start))
    }

    static func pad(_ text: String, _ width: Int) -> String {
        // CJK characters take two columns.
        let columns = text.reduce(0) { $0 + ($1.unicodeScalars.first!.value > 0x2E80 ? 2 : 1) }
        return text + String(repeating: " ", count: max(1, width - columns))
    }
}
