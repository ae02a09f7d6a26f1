import Foundation
import ReplyRules
import SQLKit
import Synchronization

/// The console's overview (概览) of one staff member's part of the tree: today and the last 30
/// days, the days as a chart, and the questions nobody answered.
public struct ConsoleOverview: Sendable, Hashable {
    /// A count today and over the last 30 days (today included).
    public struct Figure: Sendable, Hashable {
        public var today = 0
        public var month = 0
    }

    /// One day of the chart: its date (`11-23`) and its counts.
    public struct Day: Sendable, Hashable {
        public var date: String
        public var applications: Int
        public var suggestions: Int
        public var cases: Int
    }

    /// Participation in activities over a month or in a unit: sign-ups kept (not cancelled) and
    /// the people who checked in.
    public struct Participation: Sendable, Hashable {
        /// `3月` for a month, the unit's code for a unit.
        public var label: String
        public var signUps: Int
        public var checkedIn: Int
    }

    /// A text that fell to the inbox (no rule answered it), and how often members sent it.
    public struct Question: Sendable, Hashable {
        public var content: String
        public var times: Int
    }

    public var applications = Figure()
    public var approved = Figure()
    public var suggestions = Figure()
    public var cases = Figure()
    public var casesOpen = 0
    public var casesOverdue = 0
    public var pendingApplications = 0
    /// Notices WeChat would not take (需电话通知), whole tree only; nil when not shown.
    public var noticesHeld: Int?
    /// Members' messages and menu taps, whole tree only (a message has no unit); nil when not
    /// shown. Counted as they are answered and written every few seconds (``DailyCounts``).
    public var messages: Figure?
    /// New followers (subscribe events), whole tree only; nil when not shown.
    public var followers: Figure?
    public var days: [Day] = []
    public var unanswered: [Question] = []
    /// This year's participation in activities, by month (January to this month) and by the
    /// members' units (most first, at most 20), of the actor's part of the tree.
    public var participationByMonth: [Participation] = []
    public var participationByUnit: [Participation] = []

    /// How many of the latest inbox texts the unanswered questions are counted over.
    public static let unansweredSample = 5_000

    /// The overview for `actor` at `now`, days cut at the union's local midnight.
    public static func of(
        for actor: Principal, at now: Int64, utcOffsetMinutes: Int, in store: UnionStore
    ) async throws -> ConsoleOverview {
        try actor.require(.read)
        let today = LocalTime.dayStart(now, utcOffsetMinutes: utcOffsetMinutes)
        let start = today - 29 * 86_400
        let scope = actor.scope
        return try await store.read { database in
            var overview = ConsoleOverview()
            // Every created_at of the last 30 days, by day: few rows even for a busy union.
            func perDay(_ table: String, column: String = "created_at", status: String? = nil) async throws -> [Int] {
                struct Row: Decodable { var day: Int64; var n: Int }
                var query = scope.restrict(
                    database.select()
                        .column(SQLRaw("(\(column) - \(start)) / 86400"), as: "day")
                        .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
                        .from(table)
                        .where(SQLColumn(column), .greaterThanOrEqual, SQLBind(start)))
                if let status { query = query.where("status", .equal, status) }
                let rows = try await query.groupBy(SQLRaw("(\(column) - \(start)) / 86400")).all(decoding: Row.self)
                var days = Array(repeating: 0, count: 30)
                for row in rows where (0..<30).contains(row.day) { days[Int(row.day)] += row.n }
                return days
            }
            let applications = try await perDay("membership_applications")
            let approved = try await perDay("membership_applications", column: "decided_at", status: "approved")
            let suggestions = try await perDay("suggestions")
            let cases = try await perDay("cases")
            func figure(_ days: [Int]) -> Figure { Figure(today: days[29], month: days.reduce(0, +)) }
            overview.applications = figure(applications)
            overview.approved = figure(approved)
            overview.suggestions = figure(suggestions)
            overview.cases = figure(cases)
            overview.days = (0..<30).map { index in
                let local = LocalTime(unixSeconds: start + Int64(index) * 86_400, utcOffsetMinutes: utcOffsetMinutes)
                return Day(
                    date: String(format: "%02d-%02d", local.month, local.day), applications: applications[index],
                    suggestions: suggestions[index], cases: cases[index])
            }
            overview.pendingApplications = try await database.count("membership_applications") {
                scope.restrict($0).where("status", .equal, "pending")
            }
            overview.casesOpen = try await database.count("cases") {
                scope.restrict($0).where("status", .equal, "open")
            }
            overview.casesOverdue = try await database.count("cases") {
                scope.restrict($0).where("status", .equal, "open").where("due_at", .lessThan, now)
            }
            if scope == .everything {
                overview.noticesHeld = try await database.count("outbox") { $0.where("status", .equal, "held") }
                overview.messages = figure(try await DailyCounts.last30Days(.messages, from: start, in: database))
                overview.followers = figure(try await DailyCounts.last30Days(.followers, from: start, in: database))
            }
            try await participation(into: &overview, scope: scope, now: now, offset: utcOffsetMinutes, database)
            // The members' own words that went to the inbox in the last 30 days, most frequent
            // first: counted over the latest 5,000 (a busy month has far more; the frequent ones
            // are frequent in any recent sample), so the page costs the same however busy.
            struct Said: Decodable { var content: String }
            let said = try await scope.restrict(
                database.select()
                    .column(SQLColumn("content", table: "case_messages"), as: "content")
                    .from("case_messages")
                    .join(
                        "cases", on: SQLColumn("id", table: "cases"), .equal,
                        SQLColumn("case_id", table: "case_messages")
                    )
                    .where(SQLColumn("direction", table: "case_messages"), .equal, SQLBind("member"))
                    .where(SQLColumn("kind", table: "case_messages"), .equal, SQLBind("text"))
                    .where(SQLColumn("created_at", table: "case_messages"), .greaterThanOrEqual, SQLBind(start))
            )  // unit_code is the case's: case_messages has none
            .orderBy(SQLColumn("id", table: "case_messages"), SQLDirection.descending)
            .limit(Self.unansweredSample)
            .all(decoding: Said.self)
            var times: [String: Int] = [:]
            for entry in said { times[entry.content.trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += 1 }
            overview.unanswered = times.filter { !$0.key.isEmpty }
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(10).map { Question(content: $0.key, times: $0.value) }
            return overview
        }
    }
}

extension ConsoleOverview {
    /// This year's sign-ups (by the day they were made) and check-ins (by the day), grouped by
    /// day in the database and summed into months here; and both by the members' units.
    static func participation(
        into overview: inout ConsoleOverview, scope: UnitScope, now: Int64, offset: Int, _ database: any SQLDatabase
    ) async throws {
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).year
        let months = (1...12).compactMap {
            LocalTime.unixSeconds(ofDate: String(format: "%04d-%02d-01", year, $0), utcOffsetMinutes: offset)
        }
        guard let start = months.first else { return }
        let thisMonth = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).month
        struct Row: Decodable {
            var day: Int64
            var n: Int
        }
        func perDay(_ column: String, kept: Bool) async throws -> [Row] {
            var query = scope.restrict(
                database.select().column(SQLRaw("(\(column) - \(start)) / 86400"), as: "day")
                    .column(SQLRaw("CAST(SUM(people) AS BIGINT)"), as: "n").from("activity_signups")
                    .where(SQLColumn(column), .greaterThanOrEqual, SQLBind(start)))
            if kept { query = query.where("status", .notEqual, ActivitySignUp.Status.cancelled.rawValue) }
            return try await query.groupBy(SQLRaw("(\(column) - \(start)) / 86400")).all(decoding: Row.self)
        }
        func month(of day: Int64) -> Int {
            let at = start + day * 86_400
            return months.lastIndex { $0 <= at } ?? 0
        }
        var byMonth = (1...thisMonth).map { Participation(label: "\($0)月", signUps: 0, checkedIn: 0) }
        for row in try await perDay("created_at", kept: true) where month(of: row.day) < byMonth.count {
            byMonth[month(of: row.day)].signUps += row.n
        }
        for row in try await perDay("checked_in_at", kept: false) where month(of: row.day) < byMonth.count {
            byMonth[month(of: row.day)].checkedIn += row.n
        }
        overview.participationByMonth = byMonth
        struct UnitRow: Decodable {
            var unitCode: String
            var signUps: Int
            var checkedIn: Int
        }
        let units = try await scope.restrict(
            database.select().column("unit_code")
                .column(
                    SQLRaw("CAST(SUM(CASE WHEN status <> 'cancelled' THEN people ELSE 0 END) AS BIGINT)"),
                    as: "sign_ups"
                )
                .column(
                    SQLRaw("CAST(SUM(CASE WHEN checked_in_at IS NOT NULL THEN people ELSE 0 END) AS BIGINT)"),
                    as: "checked_in"
                )
                .from("activity_signups").where("created_at", .greaterThanOrEqual, start)
        ).groupBy("unit_code").all(decoding: UnitRow.self, keyDecodingStrategy: .convertFromSnakeCase)
        overview.participationByUnit = units.filter { $0.signUps > 0 || $0.checkedIn > 0 }
            .sorted { ($0.signUps, $1.unitCode) > ($1.signUps, $0.unitCode) }.prefix(20)
            .map { Participation(label: $0.unitCode, signUps: $0.signUps, checkedIn: $0.checkedIn) }
    }
}

/// The overview as last computed for each part of the tree, reused for a few seconds: a page
/// that several staff keep open, and reload, costs one computation per part per `lifetime`,
/// whatever the webhook is doing meanwhile.
public final class OverviewCache: Sendable {
    private struct Key: Hashable {
        var scope: UnitScope
        var day: Int64
        var utcOffsetMinutes: Int
    }

    private let entries = Mutex<[Key: (computed: ContinuousClock.Instant, overview: ConsoleOverview)]>([:])
    /// How long a computed overview is shown.
    public let lifetime: Duration

    /// Creates an empty cache.
    public init(lifetime: Duration = .seconds(10)) {
        self.lifetime = lifetime
    }

    /// The overview for `actor`: the one computed within `lifetime` for the same part of the
    /// tree and day, or a new one.
    public func overview(for actor: Principal, at now: Int64, utcOffsetMinutes: Int, in store: UnionStore)
        async throws -> ConsoleOverview
    {
        try actor.require(.read)
        let key = Key(
            scope: actor.scope, day: LocalTime.dayStart(now, utcOffsetMinutes: utcOffsetMinutes),
            utcOffsetMinutes: utcOffsetMinutes)
        let started = ContinuousClock.now
        if let entry = entries.withLock({ $0[key] }), started - entry.computed < lifetime {
            return entry.overview
        }
        let overview = try await ConsoleOverview.of(
            for: actor, at: now, utcOffsetMinutes: utcOffsetMinutes, in: store)
        entries.withLock { entries in
            if entries.count > 1_000 { entries.removeAll() }  // a handful of parts in practice
            entries[key] = (started, overview)
        }
        return overview
    }
}

/// The overview is a read model: its counts cross the owners' tables in one query each.
extension ConsoleOverview: ReadModel {
    static let tablesRead = [
        "membership_applications", "suggestions", "cases", "case_messages", "outbox", "activity_signups",
    ]
}
