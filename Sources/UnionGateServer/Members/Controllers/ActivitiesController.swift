import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 活动报名: the activities a member may sign up for, one with its places and the member's own
/// sign-up (a place, or the waitlist with its position), signing up once per page however often
/// it is sent, and cancelling (which promotes the next one waiting).
struct ActivitiesController: MemberController {
    let shared: MemberShared

    struct ListView: Encodable {
        struct Item: Encodable {
            let id: Int
            let href: String
            let title: String
            let when: String
            let place: String
            let state: String
        }
        let open: [Item]
        let mine: [Item]
    }

    struct DetailView: Encodable {
        let id: Int
        let when: String
        let place: String
        let places: String
        let description: String?
        /// The member's sign-up in words, if they have one.
        let mine: String?
        let cancelLabel: String
        let refusal: String?
        let canSignUp: Bool
        let signUpLabel: String
        let peopleChoices: [Int]
        /// Whether a sign-up may bring family (more than one person).
        let choosesPeople: Bool
        let submission: String
        /// The sign-up as a form, for an activity that asks questions at sign-up.
        let questions: FormPageView?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("activities", use: list)
        pages.get("activities/:id", use: detail)
        pages.post("activities/:id/signup", use: signUp)
        pages.post("activities/:id/cancel", use: cancel)
    }

    private var activities: Activities { Activities(store: shared.store) }
    private var offset: Int { book.settings.utcOffsetMinutes }

    static func state(_ outcome: SignUpOutcome) -> String? {
        switch outcome {
        case .confirmed(let signUp): signUp.people > 1 ? "已报名（\(signUp.people) 人）" : "已报名"
        case .waitlisted(_, let position): "候补第 \(position) 位"
        case .refused: nil
        }
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let now = shared.clock()
        let unit = try await shared.desk.latestApplication(of: member.openid)?.unitCode ?? ""
        let open = try await activities.open(
            forMemberOf: unit, openid: member.openid, organisation: book.join.organisation, at: now)
        let mine = try await activities.mine(member.openid)
        func item(_ activity: Activity, _ state: String) -> ListView.Item {
            ListView.Item(
                id: activity.id, href: "/m/activities/\(activity.id)", title: activity.title,
                when: Activities.when(activity, utcOffsetMinutes: offset), place: activity.place, state: state)
        }
        var openItems: [ListView.Item] = []
        for (activity, left) in open {
            let state =
                !activity.isTakingSignUps(at: now)
                ? (now < activity.opensAt ? "未开始报名" : "已截止")
                : left > 0 ? "余 \(left) 个名额" : activity.waitlist ? "可候补" : "已满"
            openItems.append(item(activity, state))
        }
        let view = ListView(
            open: openItems,
            mine: mine.compactMap { activity, outcome in Self.state(outcome).map { item(activity, $0) } })
        return try pages.render("activities", title: "活动报名", view, context: context, back: "/m/")
    }

    /// The activity's questions at sign-up as a form definition, the people first where a
    /// sign-up may bring family; nil when it asks none.
    private func signUpForm(_ activity: Activity) -> FormDefinition? {
        let questions = ActivityQuestions.of(activity)
        guard !questions.isEmpty else { return nil }
        var fields = questions
        if activity.maxPeople > 1 {
            fields.insert(
                FormField(key: "people", label: "参加人数（含本人）", kind: .choice((1...activity.maxPeople).map { "\($0) 人" })),
                at: 0)
        }
        return FormDefinition(
            name: "activity-\(activity.id)", title: activity.title, fields: fields, prefix: "", done: "",
            source: SourceLocation(path: "activity", line: 0))
    }

    private func page(
        _ id: Int, member openid: String, notice: String? = nil, error: String? = nil,
        status: HTTPResponse.Status = .ok, values: [String: String] = ["people": "1 人"],
        problems: [String: String] = [:], context: GatewayRequestContext
    ) async throws -> Response {
        guard let activity = try await activities.activity(id) else { throw HTTPError(.notFound) }
        let now = shared.clock()
        let unit = try await shared.desk.latestApplication(of: openid)?.unitCode ?? ""
        guard activity.admits(unit: unit, in: book.join.organisation) else { throw HTTPError(.notFound) }
        let mine = try await activities.mine(openid).first { $0.0.id == id }.flatMap { Self.state($0.1) }
        let left = try await activities.placesLeft(id)
        var refusal: String?
        if mine == nil {
            if activity.status == .cancelled {
                refusal = "活动已取消。"
            } else if now < activity.opensAt {
                refusal = "\(Activities.day(activity.opensAt, utcOffsetMinutes: offset))开始报名。"
            } else if !activity.isTakingSignUps(at: now) {
                refusal = "报名已截止。"
            } else if activity.membersOnly, try await !shared.desk.isMember(openid) {
                refusal = "仅限工会会员报名。已是会员请先绑定会员身份，还不是会员可以申请入会。"
            } else if let clubId = activity.clubId, try await !Clubs(store: shared.store).belongs(openid, to: clubId) {
                let name = try await Clubs(store: shared.store).club(clubId)?.name ?? "俱乐部"
                refusal = "仅限「\(name)」的成员报名。可以在「俱乐部·志愿服务」里申请加入。"
            } else if left == 0, !activity.waitlist {
                refusal = "名额已满。"
            }
        }
        let view = DetailView(
            id: id, when: Activities.when(activity, utcOffsetMinutes: offset), place: activity.place,
            places: "共 \(activity.capacity) 个，余 \(left) 个" + (activity.waitlist ? "（满员后可候补）" : ""),
            description: activity.description.isEmpty ? nil : activity.description, mine: mine,
            cancelLabel: mine?.hasPrefix("候补") == true ? "退出候补" : "取消报名", refusal: refusal,
            canSignUp: mine == nil && refusal == nil, signUpLabel: left > 0 ? "报名" : "候补报名",
            peopleChoices: Array(1...max(1, activity.maxPeople)), choosesPeople: activity.maxPeople > 1,
            submission: ConsoleSession.newToken(),
            questions: signUpForm(activity).map {
                FormPageView(
                    form: $0, organisation: book.join.organisation, values: values, problems: problems,
                    unitSearch: "", action: "/m/activities/\(id)/signup", submission: ConsoleSession.newToken(),
                    buttons: [
                        .init(
                            action: "submit", label: left > 0 ? "报名" : "候补报名", id: "sign-up", primary: true,
                            skipsChecks: false)
                    ])
            })
        return try pages.render(
            "activity", title: activity.title, view, status: status, context: context, back: "/m/activities",
            error: error, notice: notice)
    }

    @Sendable func detail(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        return try await page(
            try context.parameters.require("id", as: Int.self), member: member.openid, context: context)
    }

    @Sendable func signUp(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let id = try context.parameters.require("id", as: Int.self)
        let body = try await MemberFormInput.read(request, context: context)
        let submission = try body.submission()
        guard let activity = try await activities.activity(id) else { throw HTTPError(.notFound) }
        var people = Int(body.inputs["people"] ?? "1") ?? 1
        var answers: [String: String] = [:]
        if let form = signUpForm(activity) {
            let (read, problems) = PageAnswers.read(body.inputs, form: form, organisation: book.join.organisation)
            guard problems.isEmpty else {
                return try await page(
                    id, member: member.openid, error: "还有 \(problems.count) 项需要修改，请看标红的地方。",
                    status: .unprocessableContent, values: body.inputs, problems: problems, context: context)
            }
            people = read["people"].flatMap { Int($0.prefix { $0.isNumber }) } ?? 1
            answers = read.filter { $0.key != "people" }
        }
        let outcome = try await activities.signUp(
            id, openid: member.openid, people: people, answers: answers, key: "page:\(member.openid):\(submission)",
            isMember: try await shared.desk.isMember(member.openid), organisation: book.join.organisation,
            at: shared.clock())
        let text = Activities.describe(outcome, activity, utcOffsetMinutes: offset)
        if case .refused = outcome {
            return try await page(id, member: member.openid, error: text, status: .conflict, context: context)
        }
        return try await page(id, member: member.openid, notice: text, context: context)
    }

    @Sendable func cancel(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let id = try context.parameters.require("id", as: Int.self)
        let (cancelled, _) = try await activities.cancel(id, openid: member.openid, at: shared.clock())
        return try await page(
            id, member: member.openid, notice: cancelled == nil ? "您没有报名这个活动。" : "已取消报名。", context: context)
    }
}
