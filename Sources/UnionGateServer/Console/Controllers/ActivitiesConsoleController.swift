import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 活动: the activities of the staff member's part of the tree with their places; publishing and
/// changing one (a change of time or place is told to everyone signed up; more places promote
/// from the waitlist); its attendance list — signed up, waitlisted, cancelled — with removal by
/// staff (the next one waiting comes in) and a CSV for Excel.
struct ActivitiesConsoleController: ConsoleController {
    let shared: ConsoleShared

    struct ListView: Encodable {
        struct Row: Encodable {
            let id: Int
            let title: String
            let when: String
            let unit: String
            let places: String
            let waiting: Int
            let state: String
        }
        let rows: [Row]
        let pager: Pager
        let canManage: Bool
    }

    struct FormView: Encodable {
        let action: String
        let title: String
        let description: String
        let picture: String
        let place: String
        let units: [UnitOption]
        let sharing: [Option]
        let sharedUnits: String
        let membersOnly: Bool
        let startsAt: String
        let endsAt: String
        let opensAt: String
        let closesAt: String
        let capacity: Int
        let waitlist: Bool
        let maxPeople: Int
        let walkIns: Bool
        /// The clubs the activity may belong to (its members only); empty when there are none.
        let clubs: [Option]
        let recordsHours: Bool
        let questions: String
        let button: String
    }

    struct DetailView: Encodable {
        struct Row: Encodable {
            let number: Int
            let name: String
            let unit: String
            let people: Int
            let status: String
            let statusName: String
            let at: String
            let openid: String
            let active: Bool
            let checkedIn: String?
            let served: String?
            /// The answers to the activity's questions, 「衣服尺码：L；…」.
            let answered: String?
        }
        struct QR: Encodable {
            let path: String
            let side: Int
        }
        let id: Int
        let when: String
        let place: String
        let places: String
        let counts: String
        let rows: [Row]
        let canManage: Bool
        let form: FormView?
        let csv: String
        /// The check-in code, once made; whether one can be made (WeChat's API configured).
        let checkInQR: QR?
        let canMakeCode: Bool
        let checkedInCount: Int
        /// For an activity that records service hours: its check-out code, and whether one can be made.
        let recordsHours: Bool
        let checkOutQR: QR?
        let canMakeCheckOutCode: Bool
        let club: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("activities", use: list)
        pages.get("activities/new", use: new)
        pages.post("activities", use: create)
        pages.get("activities/:id", use: detail)
        pages.post("activities/:id", use: update)
        pages.post("activities/:id/remove", use: remove)
        pages.post("activities/:id/checkin-code", use: makeCheckInCode)
        pages.post("activities/:id/checkout-code", use: makeCheckOutCode)
        pages.post("activities/:id/checkin", use: checkInByCard)
    }

    private var activities: Activities { Activities(store: store) }

    private static func mayManage(_ actor: Principal) -> Bool { actor.may(.decide) || actor.may(.editRules) }

    /// The clubs an activity may belong to, for the form: none, or one the actor sees.
    private func clubOptions(for actor: Principal, selected: Int?) async throws -> [Option] {
        let clubs = try await Clubs(store: store).list(for: actor, organisation: organisation).map(\.0)
        guard !clubs.isEmpty else { return [] }
        let none: [(String, String)] = actor.club == nil ? [("", "不限（不属于俱乐部）")] : []
        return Option.list(
            none + clubs.map { (String($0.id), "\($0.name)（\($0.kind)成员）") }, selected: selected.map(String.init) ?? "")
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let page = try await activities.page(for: actor, request: try ConsoleLinks.pageRequest(query))
        let now = clock()
        let view = ListView(
            rows: page.items.map { activity, taken, waiting in
                ListView.Row(
                    id: activity.id, title: activity.title, when: Activities.when(activity, utcOffsetMinutes: offset),
                    unit: activity.unitCode.isEmpty ? "全部" : unitName(activity.unitCode),
                    places: "\(taken) / \(activity.capacity)", waiting: waiting,
                    state: activity.status == .cancelled
                        ? "已取消"
                        : activity.isTakingSignUps(at: now)
                            ? "报名中" : now < activity.opensAt ? "未开始报名" : now < activity.endsAt ? "报名截止" : "已结束")
            },
            pager: ConsoleLinks.pager(page, request), canManage: Self.mayManage(actor))
        return try pages.render("activities", title: "活动", view, context: context)
    }

    private func form(_ draft: Activities.Draft?, action: String, button: String, actor: Principal) async throws
        -> FormView
    {
        let now = clock()
        let start = draft?.startsAt ?? LocalTime.dayStart(now + 14 * 86_400, utcOffsetMinutes: offset) + 9 * 3600
        var shared = ""
        var sharing = "own"
        switch draft?.sharing {
        case .everyone: sharing = "everyone"
        case .units(let codes):
            sharing = "units"
            shared = codes.joined(separator: ",")
        case .own, nil: break
        }
        return FormView(
            action: action, title: draft?.title ?? "", description: draft?.description ?? "",
            picture: draft?.picture ?? "", place: draft?.place ?? "",
            units: unitOptions(for: actor, selected: draft?.unitCode ?? actor.unit),
            sharing: Option.list(
                [("own", "本单位及下级单位"), ("units", "另外共享给下列单位"), ("everyone", "全部单位")], selected: sharing),
            sharedUnits: shared, membersOnly: draft?.membersOnly ?? true,
            startsAt: Activities.localInput(start, utcOffsetMinutes: offset),
            endsAt: Activities.localInput(draft?.endsAt ?? start + 3 * 3600, utcOffsetMinutes: offset),
            opensAt: Activities.localInput(draft?.opensAt ?? now, utcOffsetMinutes: offset),
            closesAt: Activities.localInput(draft?.closesAt ?? start - 86_400, utcOffsetMinutes: offset),
            capacity: draft?.capacity ?? 50, waitlist: draft?.waitlist ?? true, maxPeople: draft?.maxPeople ?? 1,
            walkIns: draft?.walkIns ?? false,
            clubs: try await clubOptions(for: actor, selected: draft?.clubId ?? actor.club),
            recordsHours: draft?.recordsHours ?? false, questions: draft?.questions ?? "", button: button)
    }

    @Sendable func new(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard Self.mayManage(actor) else { throw AdminActionError(.forbidden, "只读账号不能发布活动") }
        var view = try await form(nil, action: "/admin/activities", button: "发布", actor: actor)
        // 「发布本俱乐部的活动」 comes with the club chosen, and a volunteer team's records hours.
        if let club = request.uri.queryParameters.get("club").flatMap({ Int($0) }),
            let found = try await Clubs(store: store).club(club)
        {
            let now = clock()
            let day = LocalTime.dayStart(now + 14 * 86_400, utcOffsetMinutes: offset)
            view = try await form(
                Activities.Draft(
                    title: "", place: "", unitCode: found.unitCode, startsAt: day + 9 * 3600, endsAt: day + 12 * 3600,
                    opensAt: now, closesAt: day - 86_400 + 9 * 3600, capacity: 50, clubId: club,
                    recordsHours: found.volunteer),
                action: "/admin/activities", button: "发布", actor: actor)
        }
        return try pages.render("activityForm", title: "发布活动", view, context: context)
    }

    /// The activity a submitted form describes (400 with the reason in Chinese when it cannot be read).
    private func draft(_ form: [String: String], actor: Principal) throws -> Activities.Draft {
        func time(_ name: String, _ label: String) throws -> Int64 {
            guard let value = form[name].flatMap({ Activities.time($0, utcOffsetMinutes: offset) }) else {
                throw AdminActionError(.invalid, "\(label)看不懂，请重新选择")
            }
            return value
        }
        func number(_ name: String, _ label: String) throws -> Int {
            guard let value = form[name].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw AdminActionError(.invalid, "\(label)应为整数")
            }
            return value
        }
        let sharing: Activity.Sharing
        switch form["sharing"] {
        case "everyone": sharing = .everyone
        case "units":
            let codes = (form["shared_units"] ?? "").split(whereSeparator: { ", ，、\n".contains($0) }).map(String.init)
            guard !codes.isEmpty else { throw AdminActionError(.invalid, "请填写共享给哪些单位（单位代码，用逗号分隔）") }
            sharing = .units(codes)
        default: sharing = .own
        }
        return Activities.Draft(
            title: (form["title"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            description: (form["description"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            picture: (form["picture"] ?? "").trimmingCharacters(in: .whitespaces),
            place: (form["place"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            unitCode: form["unit"] ?? actor.unit ?? "", sharing: sharing, membersOnly: form["members_only"] == "1",
            startsAt: try time("starts_at", "活动开始时间"), endsAt: try time("ends_at", "活动结束时间"),
            opensAt: try time("opens_at", "报名开始时间"), closesAt: try time("closes_at", "报名截止时间"),
            capacity: try number("capacity", "名额"), waitlist: form["waitlist"] == "1",
            maxPeople: try number("max_people", "每份报名人数"), walkIns: form["walk_ins"] == "1",
            clubId: form["club"].flatMap { Int($0) }, recordsHours: form["records_hours"] == "1",
            questions: (form["questions"] ?? "").replacingOccurrences(of: "\r\n", with: "\n"))
    }

    @Sendable func create(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = try await request.decode(as: [String: String].self, context: context)
        let activity = try await activities.create(
            try draft(form, actor: actor), by: actor, organisation: organisation, at: clock())
        return pages.redirect("/admin/activities/\(activity.id)", flash: "活动「\(activity.title)」已发布，编号 \(activity.id)。")
    }

    @Sendable func update(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let (activity, promoted) = try await activities.update(
            id, try draft(form, actor: actor), by: actor, organisation: organisation, at: clock())
        return pages.redirect(
            "/admin/activities/\(activity.id)",
            flash: "活动已修改。" + (promoted.isEmpty ? "" : "候补的 \(promoted.count) 份报名已转为正式报名并通知本人。"))
    }

    @Sendable func remove(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let (cancelled, promoted) = try await activities.cancel(
            id, openid: form["openid"] ?? "", by: actor, at: clock())
        guard cancelled != nil else { throw AdminActionError(.conflict, "这份报名已经取消了") }
        return pages.redirect(
            "/admin/activities/\(id)",
            flash: "已取消这份报名，并通知本人。" + (promoted.isEmpty ? "" : "候补的 \(promoted.count) 份报名已补上。"))
    }

    /// Makes the activity's check-in code through WeChat: a temporary code (scene `checkin:ID`)
    /// that lives until the activity ends (WeChat keeps one at most 30 days).
    @Sendable func makeCheckInCode(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        guard let wechat = shared.wechat else {
            throw AdminActionError(.conflict, "没有配置微信接口（AppID 和 AppSecret），不能生成签到码")
        }
        let (activity, _) = try await activities.attendance(id, for: actor)
        let now = clock()
        guard now < activity.endsAt else { throw AdminActionError(.conflict, "活动已经结束") }
        let seconds = Int(min(Int64(QRCodes.maxDays) * 86_400, activity.endsAt - now + 3600))
        let ticket = try await wechat.createQRCode(scene: Activity.checkInPrefix + String(id), expireSeconds: seconds)
        _ = try await activities.setCheckInCode(id, ticket: ticket.ticket, url: ticket.url, by: actor, at: now)
        return pages.redirect("/admin/activities/\(id)", flash: "签到码已生成，可以打印或投屏，会员用微信扫一扫即可签到。")
    }

    /// Makes the check-out code of an activity that records service hours (scene `checkout:ID`),
    /// valid until two hours after it ends.
    @Sendable func makeCheckOutCode(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        guard let wechat = shared.wechat else {
            throw AdminActionError(.conflict, "没有配置微信接口（AppID 和 AppSecret），不能生成签退码")
        }
        let (activity, _) = try await activities.attendance(id, for: actor)
        let now = clock()
        guard activity.recordsHours else { throw AdminActionError(.invalid, "这个活动不记录服务时长，不需要签退码") }
        guard now < activity.endsAt + Activity.checkOutLate else { throw AdminActionError(.conflict, "活动已经结束") }
        let seconds = Int(min(Int64(QRCodes.maxDays) * 86_400, activity.endsAt + Activity.checkOutLate - now))
        let ticket = try await wechat.createQRCode(scene: Activity.checkOutPrefix + String(id), expireSeconds: seconds)
        _ = try await activities.setCheckInCode(
            id, ticket: ticket.ticket, url: ticket.url, checkOut: true, by: actor, at: now)
        return pages.redirect("/admin/activities/\(id)", flash: "签退码已生成。活动结束时请志愿者扫码签退，服务时长自动记录。")
    }

    /// Checks a member in by the code on their e-member card.
    @Sendable func checkInByCard(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        let code = (form["code"] ?? "").filter(\.isNumber)
        let now = clock()
        let said: String
        switch try await MemberCards(store: store).holder(of: String(code.prefix(32)), at: now) {
        case .unknown: said = "没有这个会员卡验证码，请核对 8 位数字。"
        case .expired: said = "这个验证码已过期（可能是截图），请会员出示正在显示的验证码。"
        case .member(let openid):
            let outcome = try await activities.checkIn(
                id, openid: openid, key: "card:\(code):\(now)", by: actor, at: now)
            let name = try await MembershipRegistry(store: store).latest(for: openid)?.name ?? "会员"
            said = "\(name)：" + outcome.text
        }
        return pages.redirect("/admin/activities/\(id)", flash: said)
    }

    @Sendable func detail(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let (activity, signUps) = try await activities.attendance(id, for: actor)
        let names = try await activities.names(of: signUps)
        if request.uri.queryParameters.get("format") == "csv" {
            try actor.require(.export)
            try await auditExport(
                actor, action: "activity.export", record: "activity:\(id)", unit: activity.unitCode, query: [:])
            return AdminRoutes.csv(
                Activities.csv(activity, signUps, names: names, organisation: organisation, utcOffsetMinutes: offset),
                name: "activity-\(id).csv")
        }
        let taken = signUps.filter { $0.status == .confirmed }.map(\.people).reduce(0, +)
        let waiting = signUps.filter { $0.status == .waitlisted }.count
        let cancelled = signUps.filter { $0.status == .cancelled }.count
        let manage = Self.mayManage(actor)
        let draft = Activities.Draft(
            title: activity.title, description: activity.description, picture: activity.picture,
            place: activity.place, unitCode: activity.unitCode, sharing: activity.sharing,
            membersOnly: activity.membersOnly, startsAt: activity.startsAt, endsAt: activity.endsAt,
            opensAt: activity.opensAt, closesAt: activity.closesAt, capacity: activity.capacity,
            waitlist: activity.waitlist, maxPeople: activity.maxPeople, walkIns: activity.walkIns,
            clubId: activity.clubId, recordsHours: activity.recordsHours, questions: activity.questions)
        var club: Club? = nil
        if let clubId = activity.clubId { club = try await Clubs(store: store).club(clubId) }
        let view = DetailView(
            id: id, when: Activities.when(activity, utcOffsetMinutes: offset), place: activity.place,
            places: "\(taken) / \(activity.capacity)",
            counts:
                "已报名 \(signUps.filter { $0.status == .confirmed }.count) 份（\(taken) 人），候补 \(waiting) 份，已取消 \(cancelled) 份",
            rows: signUps.enumerated().map { index, signUp in
                DetailView.Row(
                    number: index + 1, name: names[signUp.openid] ?? "（未入会）", unit: unitName(signUp.unitCode),
                    people: signUp.people, status: signUp.status.rawValue, statusName: signUp.status.chinese,
                    at: local(signUp.createdAt), openid: signUp.openid,
                    active: signUp.status == .confirmed || signUp.status == .waitlisted,
                    checkedIn: signUp.checkedInAt.map(local),
                    served: signUp.serviceMinutes.map { Activities.hours($0) },
                    answered: signUp.answers.isEmpty
                        ? nil
                        : ActivityQuestions.of(activity).compactMap { field in
                            signUp.answers[field.key].map { "\(field.label)：\($0)" }
                        }.joined(separator: "；"))
            },
            canManage: manage,
            form: manage
                ? try await form(draft, action: "/admin/activities/\(id)", button: "保存修改", actor: actor) : nil,
            csv: "/admin/activities/\(id)?format=csv",
            checkInQR: activity.checkInURL.flatMap { QRCode($0) }.map {
                DetailView.QR(path: $0.svgPath, side: $0.size + 8)
            },
            canMakeCode: manage && shared.wechat != nil && activity.checkInURL == nil,
            checkedInCount: signUps.filter { $0.checkedInAt != nil }.count, recordsHours: activity.recordsHours,
            checkOutQR: activity.checkOutURL.flatMap { QRCode($0) }.map {
                DetailView.QR(path: $0.svgPath, side: $0.size + 8)
            },
            canMakeCheckOutCode: manage && shared.wechat != nil && activity.recordsHours && activity.checkOutURL == nil,
            club: club.map { "\($0.name)（仅限\($0.kind)成员报名）" })
        return try pages.render("activity", title: activity.title, view, context: context)
    }
}
