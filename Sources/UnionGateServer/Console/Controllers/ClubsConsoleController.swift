import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 俱乐部: the clubs and volunteer teams of the staff member's part of the tree (a club leader's
/// account sees its own club only); declaring and changing one; its requests to approve or refuse
/// (with a reason) and its members to remove; giving a staff account to its leader; and the
/// volunteer service hours per member and per unit, with a CSV for Excel.
struct ClubsConsoleController: ConsoleController {
    let shared: ConsoleShared

    struct ListView: Encodable {
        struct Row: Encodable {
            let id: Int
            let name: String
            let kind: String
            let unit: String
            let leader: String
            let members: Int
            let waiting: Int
            let closed: Bool
        }
        let rows: [Row]
        let form: FormView?
    }

    struct FormView: Encodable {
        let action: String
        let name: String
        let description: String
        let leader: String
        let units: [UnitOption]
        let volunteer: Bool
        let closed: Bool
        let button: String
    }

    struct DetailView: Encodable {
        struct Row: Encodable {
            let name: String
            let unit: String
            let openid: String
            let asked: String
            let pending: Bool
        }
        let id: Int
        let kind: String
        let unit: String
        let leader: String
        let clubDescription: String
        let waiting: [Row]
        let members: [Row]
        let canDecide: Bool
        let form: FormView?
        /// Whether the actor may give a staff account to the leader (admins of the whole tree).
        let canAssignLeader: Bool
        let leaderAccounts: [String]
    }

    struct HoursView: Encodable {
        struct Row: Encodable {
            let rank: Int
            let name: String
            let unit: String
            let hours: String
            let activities: Int
        }
        struct UnitRow: Encodable {
            let unit: String
            let hours: String
            let people: Int
        }
        let from: String
        let to: String
        let rows: [Row]
        let units: [UnitRow]
        let total: String
        let csv: String
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("clubs", use: list)
        pages.post("clubs", use: create)
        pages.get("clubs/:id", use: detail)
        pages.post("clubs/:id", use: update)
        pages.post("clubs/:id/decide", use: decide)
        pages.post("clubs/:id/remove", use: remove)
        pages.post("clubs/:id/leader", use: assignLeader)
        pages.get("volunteer-hours", use: hours)
    }

    private var clubs: Clubs { Clubs(store: store) }

    private static func mayManage(_ actor: Principal) -> Bool {
        actor.club == nil && (actor.may(.decide) || actor.may(.editRules))
    }

    private func form(_ club: Club?, action: String, button: String, actor: Principal) -> FormView {
        FormView(
            action: action, name: club?.name ?? "", description: club?.description ?? "", leader: club?.leader ?? "",
            units: unitOptions(for: actor, selected: club?.unitCode ?? actor.unit), volunteer: club?.volunteer ?? false,
            closed: club?.status == .closed, button: button)
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let list = try await clubs.list(for: actor, organisation: organisation)
        let view = ListView(
            rows: list.map { club, members, waiting in
                ListView.Row(
                    id: club.id, name: club.name, kind: club.kind,
                    unit: club.unitCode.isEmpty ? "全部" : unitName(club.unitCode),
                    leader: club.leader, members: members, waiting: waiting, closed: club.status == .closed)
            },
            form: Self.mayManage(actor) ? form(nil, action: "/admin/clubs", button: "设立", actor: actor) : nil)
        return try pages.render("clubs", title: "俱乐部", view, context: context)
    }

    private func draft(_ form: [String: String], actor: Principal) -> Clubs.Draft {
        Clubs.Draft(
            name: (form["name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            unitCode: form["unit"] ?? actor.unit ?? "",
            description: (form["description"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            leader: (form["leader"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            volunteer: form["volunteer"] == "1", status: form["closed"] == "1" ? .closed : .open)
    }

    @Sendable func create(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = try await request.decode(as: [String: String].self, context: context)
        let club = try await clubs.create(draft(form, actor: actor), by: actor, organisation: organisation, at: clock())
        return pages.redirect(
            "/admin/clubs/\(club.id)", flash: "「\(club.name)」已设立，编号 \(club.id)。会员回复「加入俱乐部 \(club.id)」即可申请加入。")
    }

    @Sendable func update(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let club = try await clubs.update(
            id, draft(form, actor: actor), by: actor, organisation: organisation, at: clock())
        return pages.redirect("/admin/clubs/\(club.id)", flash: "「\(club.name)」已修改。")
    }

    @Sendable func decide(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let approve = form["decision"] == "approve"
        _ = try await clubs.decide(
            id, openid: form["openid"] ?? "", approve: approve, reason: form["reason"], by: actor,
            organisation: organisation, at: clock())
        return pages.redirect("/admin/clubs/\(id)", flash: approve ? "已通过，并通知本人。" : "已不通过，原因已告知本人。")
    }

    @Sendable func remove(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let removed = try await clubs.leave(
            id, openid: form["openid"] ?? "", by: actor, organisation: organisation, at: clock())
        guard removed else { throw AdminActionError(.conflict, "这位会员已经不在俱乐部里了") }
        return pages.redirect("/admin/clubs/\(id)", flash: "已移出俱乐部。")
    }

    /// Makes a staff account the club leader's: it then sees this club's members and activities
    /// only. An empty name gives the current leader accounts back their units.
    @Sendable func assignLeader(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let (club, _) = try await clubs.members(id, for: actor, organisation: organisation)
        let name = (form["account"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw AdminActionError(.invalid, "请填写负责人的账号名") }
        _ = try await staff.lead(name, club: form["release"] == "1" ? nil : club.id, by: actor, at: clock())
        return pages.redirect(
            "/admin/clubs/\(id)",
            flash: form["release"] == "1"
                ? "账号 \(name) 已不再是「\(club.name)」的负责人账号。" : "账号 \(name) 现在是「\(club.name)」的负责人账号，只能看到本俱乐部的成员和活动。")
    }

    @Sendable func detail(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let (club, memberships) = try await clubs.members(id, for: actor, organisation: organisation)
        let names = try await MembershipRegistry(store: store).names(of: memberships.map(\.openid))
        func row(_ membership: ClubMembership) -> DetailView.Row {
            DetailView.Row(
                name: names[membership.openid] ?? "（未登记姓名）", unit: unitName(membership.unitCode),
                openid: membership.openid, asked: local(membership.createdAt), pending: membership.status == .pending)
        }
        let wholeTreeAdmin = actor.may(.administer) && actor.scope == .everything
        let view = DetailView(
            id: id, kind: club.kind, unit: club.unitCode.isEmpty ? "全部" : unitName(club.unitCode),
            leader: club.leader, clubDescription: club.description,
            waiting: memberships.filter { $0.status == .pending }.map(row),
            members: memberships.filter { $0.status == .approved }.map(row), canDecide: actor.may(.decide),
            form: Self.mayManage(actor)
                ? form(club, action: "/admin/clubs/\(id)", button: "保存修改", actor: actor) : nil,
            canAssignLeader: wholeTreeAdmin,
            leaderAccounts: wholeTreeAdmin ? try await staff.list().filter { $0.clubId == id }.map(\.name) : [])
        return try pages.render("club", title: club.name, view, context: context)
    }

    /// The volunteer hours of the activities the actor sees that ended in a period (this year by
    /// default): per member, most first, and per unit; `?format=csv` for Excel (audited).
    @Sendable func hours(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        let now = clock()
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).year
        let fromText = query.get("from").flatMap { $0.isEmpty ? nil : $0 } ?? "\(year)-01-01"
        let toText = query.get("to").flatMap { $0.isEmpty ? nil : $0 } ?? "\(year)-12-31"
        guard let from = LocalTime.unixSeconds(ofDate: fromText, utcOffsetMinutes: offset),
            let to = LocalTime.unixSeconds(ofDate: toText, utcOffsetMinutes: offset), from <= to
        else { throw AdminActionError(.invalid, "日期应为 2026-01-01 这样的格式，且开始不晚于结束") }
        let totals = try await Activities(store: store).serviceTotals(for: actor, from: from, to: to + 86_400)
        let names = try await MembershipRegistry(store: store).names(of: totals.map(\.openid))
        if query.get("format") == "csv" {
            try actor.require(.export)
            try await auditExport(
                actor, action: "volunteer.export", record: "volunteer-hours", unit: nil,
                query: ["from": fromText, "to": toText])
            return AdminRoutes.csv(
                Activities.serviceCSV(totals, names: names, organisation: organisation),
                name: "volunteer-hours-\(fromText)-\(toText).csv")
        }
        var byUnit: [String: (minutes: Int, people: Int)] = [:]
        for total in totals { byUnit[total.unitCode, default: (0, 0)].minutes += total.minutes }
        for total in totals { byUnit[total.unitCode, default: (0, 0)].people += 1 }
        let view = HoursView(
            from: fromText, to: toText,
            rows: totals.enumerated().map { index, total in
                HoursView.Row(
                    rank: index + 1, name: names[total.openid] ?? "（未登记姓名）", unit: unitName(total.unitCode),
                    hours: Activities.hours(total.minutes), activities: total.activities)
            },
            units: byUnit.sorted { ($0.value.minutes, $1.key) > ($1.value.minutes, $0.key) }.map {
                HoursView.UnitRow(
                    unit: $0.key.isEmpty ? "（未填单位）" : unitName($0.key), hours: Activities.hours($0.value.minutes),
                    people: $0.value.people)
            },
            total: Activities.hours(totals.reduce(0) { $0 + $1.minutes }),
            csv: "/admin/volunteer-hours?format=csv&from=\(fromText)&to=\(toText)")
        return try pages.render("volunteerHours", title: "志愿服务时长", view, context: context)
    }
}
