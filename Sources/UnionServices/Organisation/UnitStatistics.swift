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

    /// Counts `unit` (and below) for `actor`: 404 when the unit is outside their part of the
    /// tree or not in it at all. The top unit's counts include records of units no longer in
    /// org.yaml.
    public static func of(
        unit code: String?, organisation: Organisation, for actor: Principal, in store: UnionStore
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
        struct Count: Decodable {
            var key: String
            var n: Int
        }
        return try await store.read { database in
            var statistics = empty
            func counts(
                _ table: String, by column: String, where extra: (SQLSelectBuilder) -> SQLSelectBuilder = { $0 }
            )
                async throws -> [Count]
            {
                try await extra(
                    counted.restrict(
                        database.select().column(SQLColumn(column), as: "key")
                            .column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table))
                ).groupBy(column).all(decoding: Count.self)
            }
            for count in try await counts("membership_applications", by: "status") {
                switch MembershipApplication.Status(rawValue: count.key) {
                case .approved: statistics.members += count.n
                case .pending: statistics.pendingApplications += count.n
                default: break
                }
            }
            for count in try await counts("suggestions", by: "status") {
                statistics.suggestions[count.key, default: 0] += count.n
            }
            for count in try await counts("form_submissions", by: "form") {
                statistics.submissions[count.key, default: 0] += count.n
            }
            let tickets = try await counted.restrict(database.select().column("ticket").from("qr_codes"))
                .all(decodingColumn: "ticket", as: String.self)
            let funnels = try await QRCodes.funnels(in: database)
            statistics.qr = tickets.reduce(QRFunnel()) { $0 + (funnels[$1] ?? QRFunnel()) }
            return statistics
        }
    }
}
