import Foundation
import Hummingbird
import Logging
import ReplyRules
import UnionServices
import WeChatAPI

/// What every section of the console works with: the store and rules, the staff directory,
/// the pages, the clock.
struct ConsoleShared: Sendable {
    let store: UnionStore
    let rules: LiveRules
    let secrets: GatewaySecrets
    let staff: StaffDirectory
    let attempts: AdminAttempts
    let metrics: GatewayMetrics
    let clock: @Sendable () -> Int64
    let pause: @Sendable (Duration) async -> Void
    let secureCookie: Bool
    /// Seconds without a request after which a session ends.
    let idle: Int64
    let logger: Logger
    let pages: ConsolePages
    /// WeChat's API, when the gateway has an AppID and AppSecret (menu publishing).
    let wechat: WeChatAPIClient?
    let publicURL: String?
    /// How members sign in to their pages (the menu's 会员中心 button follows it).
    let memberSignIn: MemberSignIn
    /// The key that seals members' identity data (the real-name roster).
    let dataKey: DataKey
    /// Where the inbox's media files are.
    let mediaDirectory: String
    /// The overview, computed at most every 10 s per part of the tree.
    let overviews = OverviewCache()
}

/// One section of the console (sign-in, overview, members, …): its routes, and the shared
/// helpers every section uses.
protocol ConsoleController: Sendable {
    var shared: ConsoleShared { get }
    /// Adds the section's routes to the console's signed-in group.
    func register(on pages: RouterGroup<GatewayRequestContext>)
}

extension ConsoleController {
    var store: UnionStore { shared.store }
    var rules: LiveRules { shared.rules }
    var pages: ConsolePages { shared.pages }
    var staff: StaffDirectory { shared.staff }
    var clock: @Sendable () -> Int64 { shared.clock }
    var book: RuleBook { shared.rules.engine.book }
    var organisation: Organisation { book.join.organisation }
    var offset: Int { book.settings.utcOffsetMinutes }

    /// The name of a unit, or its code when the tree no longer has it.
    func unitName(_ code: String) -> String { organisation.units[code]?.name ?? code }

    /// The scope a list shows: the actor's, narrowed to `?unit=` (404 outside it).
    func scope(for actor: Principal, unit: String?) throws -> (UnitScope, String?) {
        guard let unit, !unit.isEmpty else { return (actor.scope, nil) }
        guard let narrowed = actor.scope.narrowed(to: unit, in: organisation) else {
            throw AdminActionError(.notFound, "no unit \(unit)")
        }
        return (narrowed, unit)
    }

    /// The units a list can be narrowed to: the actor's own and two levels below it, indented,
    /// at most 300 (a county's tree can have thousands; a deeper one is reached with `?unit=`),
    /// and the selected one wherever it is.
    func unitOptions(for actor: Principal, selected: String?) -> [UnitOption] {
        let top = actor.unit ?? organisation.root
        var options: [UnitOption] = []
        var stack = top.map { [$0] } ?? []  // depth first, so that each unit's own follow it
        var seen = Set<String>()
        while let code = stack.popLast(), options.count < 300 {
            guard let unit = organisation.units[code], actor.scope.contains(code), seen.insert(code).inserted else {
                continue
            }
            let level = unit.depth - (top.flatMap { organisation.units[$0]?.depth } ?? 0)
            options.append(
                UnitOption(
                    code: code, name: String(repeating: "　", count: max(0, level)) + unit.name,
                    selected: code == selected))
            if level < 2 { stack += unit.children.reversed() }
        }
        if let selected, !seen.contains(selected), let unit = organisation.units[selected],
            actor.scope.contains(selected)
        {
            options.append(UnitOption(code: selected, name: unit.name, selected: true))
        }
        return options
    }

    /// A time in the union's local time: `2026-11-23 14:05`.
    func local(_ unixSeconds: Int64) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        return String(format: "%04d-%02d-%02d %02d:%02d", time.year, time.month, time.day, time.hour, time.minute)
    }

    /// Records an export of personal data: who, which list, with which filter.
    func auditExport(
        _ actor: Principal, action: String, record: String, unit: String?, query: [String: String]
    ) async throws {
        try await AuditLog.record(
            actor, action: action, record: record, unit: unit ?? actor.unit ?? "",
            details: query.merging(["via": "console"]) { $1 }, at: clock(), in: store)
    }
}

/// The query of a console page (`?status=&unit=&q=&page=…`), decoded as an HTML form's GET
/// sends it (`+` is a space).
struct ConsoleQuery: Decodable {
    var status: String?
    var unit: String?
    var q: String?
    var page: String?
    var form: String?
    var name: String?
    var file: String?
    var line: String?
    var add: String?
    var next: String?
    var action: String?
    var code: String?

    init(_ request: Request) throws {
        self = try URLEncodedFormDecoder().decode(Self.self, from: request.uri.query ?? "")
    }
}

/// Links and lists the console's pages share.
enum ConsoleLinks {
    static func pageRequest(_ query: ConsoleQuery) throws -> PageRequest {
        let page = Int(query.page ?? "") ?? 1
        return try PageRequest(page: max(1, page), perPage: 30)
    }

    /// The pager: the total, and the links to the previous and next pages with the same filters.
    static func pager<Item>(_ page: Page<Item>, _ request: Request) -> Pager {
        func link(_ number: Int) -> String {
            var items = URLComponents(string: "?" + (request.uri.query ?? ""))?.queryItems ?? []
            items.removeAll { $0.name == "page" }
            items.append(URLQueryItem(name: "page", value: String(number)))
            var components = URLComponents()
            components.path = request.uri.path
            components.queryItems = items
            return components.string ?? request.uri.path
        }
        return Pager(
            total: page.total, previous: page.request.page > 1 ? link(page.request.page - 1) : nil,
            next: page.hasNext ? link(page.request.page + 1) : nil)
    }

    /// The export of a list as it is shown: its status (the page's default included), unit,
    /// search and form.
    static func exportLink(_ path: String, status: String, _ query: ConsoleQuery, form: String? = nil) -> String {
        var components = URLComponents()
        components.path = path
        var items = [URLQueryItem(name: "status", value: status)]
        if let form { items.append(URLQueryItem(name: "form", value: form)) }
        for (key, value) in [("unit", query.unit), ("q", query.q)] {
            if let value, !value.isEmpty { items.append(URLQueryItem(name: key, value: value)) }
        }
        components.queryItems = items
        return components.string ?? path
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// A `next` that stays in the console (never another site).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/admin"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.hasPrefix("/admin/login")
        else { return "/admin/" }
        return next
    }

    /// Text for a URL's query value.
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
