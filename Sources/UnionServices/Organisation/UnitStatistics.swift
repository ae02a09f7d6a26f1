import ReplyRules
import SQLKit

/// Counts for one unit, each summed over the units below it.
public struct UnitStatistics: Sendable, Hashable, Codable {
    /// The unit's code and name.
    public var unit: String
    public var name: String
    /// How many units the counts cover (the unit and those below it).
    public var units: Int
    /// Approved members.
    public var members = 0
    /// Applications waiting for a decision.
    public var pendingApplications = 0
    /// Suggestions by status (`received`, `under_review`, …), every status present.
    public var suggestions: [String: Int] = [:]
    /// Submissions by form name.
    public var submissions: [String: Int] = [:]
    /// The funnel of the unit's QR codes.
    public var qr = QRFunnel()
    /// Cases (留言) by status, and how many wait past their due time.
    public var cases: [String: Int] = [:]
    public var overdueCases = 0
    /// The members' ratings of closed cases: how many, their average, and both by month
    /// (`2026-11`).
    public var ratings = Ratings()

    /// Ratings of answers.
    public struct Ratings: Sendable, Hashable, Codable {
        public var count = 0
        public var average: Double?
        public var byMonth: [String: MonthRatings] = [:]
    }

    /// One month's ratings.
    public struct MonthRatings: Sendable, Hashable, Codable {
        public var count = 0
        public var average: Double
    }

    /// Counts `unit` (and below) for `actor`: 404 when the unit is outside their part of the
    /// tree or not in it at all. The top unit's counts include records of units no longer in
    /// org.yaml.
    public static func of(
        unit code: String?, organisation: Organisation, for actor: Principal, in store: UnionStore,
        at now: Int64 = UnixTime.now(), utcOffsetMinutes: Int = 480
    ) async throws -> UnitStatistics {
        try actor.require(.read)
        guard let code = code ?? actor.unit ?? organisation.root else {
            throw AdminActionError(.notFound, "the union has no organisation (org.yaml)")
        }
        guard let scope = actor.scope.narrowed(to: code, in: organisation), let unit = organisation.units[code] else {
            throw AdminActionError(.notFound, "no unit \(code)")
        }
        let counted: UnitScope = code == organisation.root ? .everything : scope
        let empty = UnitStatistics(
            unit: code, name: unit.name, units: organisation.subtree(of: code).count,
            suggestions: Dictionary(uniqueKeysWithValues: Suggestion.Status.allCases.map { ($0.rawValue, 0) }))
        @Sendable func counts(_ table: String, by column: String, in database: any SQLDatabase) async throws -> [Count]
        {
            try await counted.restrict(
                database.select().column(SQLColumn(column), as: "key")
                    .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)
            ).groupBy(column).all(decoding: Count.self)
        }
        // The two largest tables are counted on connections of their own while the rest is read
        // (PostgreSQL: 157 ms for a county one after another; SQLite reads them in turn anyway).
        async let memberCounts = store.read { try await counts("membership_applications", by: "status", in: $0) }
        async let suggestionCounts = store.read { try await counts("suggestions", by: "status", in: $0) }
        var statistics = try await store.read { database in
            var statistics = empty
            for count in try await counts("form_submissions", by: "form", in: database) {
                statistics.submissions[count.key, default: 0] += count.n
            }
            let tickets = try await counted.restrict(database.select().column("ticket").from("qr_codes"))
                .all(decodingColumn: "ticket", as: String.self)
            let funnels = try await QRCodes.funnels(in: database)
            statistics.qr = tickets.reduce(QRFunnel()) { $0 + (funnels[$1] ?? QRFunnel()) }
            for status in MemberCase.Status.allCases { statistics.cases[status.rawValue] = 0 }
            for count in try await counts("cases", by: "status", in: database) {
                statistics.cases[count.key, default: 0] += count.n
            }
            statistics.overdueCases = try await database.count("cases") {
                Inbox.overdue(counted.restrict($0), at: now)
            }
            struct Rated: Decodable {
                var rating: Int
                var ratedAt: Int64
            }
            let rated = try await counted.restrict(
                database.select().column("rating").column("rated_at").from("cases")
            ).where(SQLColumn("rating"), .isNot, SQLLiteral.null)
                .all(decoding: Rated.self, keyDecodingStrategy: .convertFromSnakeCase)
            var months: [String: (count: Int, sum: Int)] = [:]
            for rating in rated {
                let time = LocalTime(unixSeconds: rating.ratedAt, utcOffsetMinutes: utcOffsetMinutes)
                let month = "\(time.year)-\(time.month < 10 ? "0" : "")\(time.month)"
                months[month, default: (0, 0)].count += 1
                months[month, default: (0, 0)].sum += rating.rating
            }
            if !rated.isEmpty {
                statistics.ratings.count = rated.count
                statistics.ratings.average = Double(rated.map(\.rating).reduce(0, +)) / Double(rated.count)
                statistics.ratings.byMonth = months.mapValues {
                    MonthRatings(count: $0.count, average: Double($0.sum) / Double($0.count))
                }
            }
            return statistics
        }
        for count in try await memberCounts {
            switch MembershipApplication.Status(rawValue: count.key) {
            case .approved: statistics.members += count.n
            case .pending: statistics.pendingApplications += count.n
            default: break
            }
        }
        for count in try await suggestionCounts {
            statistics.suggestions[count.key, default: 0] += count.n
        }
        return statistics
    }

    /// A grouped count's row.
    private struct Count: Decodable, Sendable {
        var key: String
        var n: Int
    }
}

/// The statistics are a read model: each count is summed up the tree in one query per table.
extension UnitStatistics: ReadModel {
    static let tablesRead = ["membership_applications", "suggestions", "form_submissions", "cases", "qr_codes"]
}
