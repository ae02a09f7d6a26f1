import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 帮扶审批: the workflows' applications (困难帮扶, 金秋助学, 法律援助 …). Each unit's queue (what
/// waits for it, overdue first), the levels below it that are overdue, an application with its
/// photos and timeline, and the level's decision: pass it up (recording what the level
/// records), send it back for more, or refuse it with a reason. Statistics by unit, level and
/// month, as CSV for the finance office.
struct AidController: ConsoleController {
    let shared: ConsoleShared

    struct ListView: Encodable {
        struct Row: Encodable {
            let id: Int
            let number: String
            let title: String
            let unit: String
            let level: String
            let status: String
            let statusName: String
            let overdue: Bool
            let escalated: Bool
            let dueAt: String
            let created: String
        }
        let queues: [Option]
        let workflows: [Option]
        let rows: [Row]
        let pager: Pager
        let empty: String
        /// The export of the chosen workflow, for roles that export.
        let export: String?
    }

    struct DetailView: Encodable {
        struct Field: Encodable {
            let label: String
            let value: String
            let hidden: Bool
        }
        struct Event: Encodable {
            let at: String
            let who: String
            let text: String
        }
        struct Level: Encodable {
            let name: String
            let unit: String
            let current: Bool
            let done: Bool
        }
        struct RecordField: Encodable {
            let name: String
            let label: String
            let input: String?
            let inputMode: String?
            let choice: Choice?
            let optional: Bool
        }
        struct Choice: Encodable {
            let options: [Option]
        }
        let id: Int
        let number: String
        let title: String
        let status: String
        let statusName: String
        let member: String
        let unit: String
        let overdue: Bool
        let dueAt: String?
        let escalatedTo: String?
        let asked: String?
        let reason: String?
        let levels: [Level]
        let fields: [Field]
        let recorded: [Field]
        let photos: [String]
        let timeline: [Event]
        /// The decision form, when the staff member may act now.
        let canAct: Bool
        let refusal: String?
        let stop: Int
        let levelName: String
        let last: Bool
        let record: [RecordField]
    }

    struct StatsView: Encodable {
        struct Row: Encodable {
            let month: String
            let workflow: String
            let unit: String
            let level: String
            let submitted: Int
            let passed: Int
            let sentBack: Int
            let approved: Int
            let refused: Int
            let granted: String
        }
        let from: String
        let to: String
        let rows: [Row]
        let csv: String
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("aid", use: list)
        pages.get("aid/stats", use: stats)
        pages.get("aid/export", use: export)
        pages.get("aid/:id", use: detail)
        pages.post("aid/:id/decide", use: decide)
    }

    private var applications: AidApplications { AidApplications(store: store) }

    private func title(_ workflow: String) -> String { book.workflows[workflow]?.title ?? workflow }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let queue = AidApplications.Queue(rawValue: query.status ?? "") ?? .waiting
        let workflow = query.form.flatMap { book.workflows[$0] != nil ? $0 : nil }
        let now = clock()
        let page = try await applications.page(
            queue, workflow: workflow, for: actor, at: now, request: try ConsoleLinks.pageRequest(query))
        let names = book.workflows.values.sorted { $0.name < $1.name }
        let view = ListView(
            queues: Option.list(
                AidApplications.Queue.allCases.map { ($0.rawValue, $0.chinese) }, selected: queue.rawValue),
            workflows: Option.list(
                [("", "全部事项")] + names.map { ($0.name, $0.title) }, selected: workflow ?? ""),
            rows: page.items.map { application in
                let level = book.workflows[application.workflow]?.levels[safe: application.currentLevel]?.name ?? ""
                return ListView.Row(
                    id: application.id, number: application.number, title: title(application.workflow),
                    unit: unitName(application.unitCode),
                    level: application.isDecided ? "" : "\(level) · \(unitName(application.currentUnit))",
                    status: application.status.rawValue, statusName: application.status.chinese,
                    overdue: application.isOverdue(at: now), escalated: application.escalatedTo != nil,
                    dueAt: application.isDecided ? "" : local(application.dueAt), created: local(application.createdAt))
            },
            pager: ConsoleLinks.pager(page, request),
            empty: queue == .waiting ? "没有等待本单位审批的申请。" : "没有符合条件的申请。",
            export: actor.may(.export) ? workflow.map { "/admin/aid/export?form=" + ConsoleLinks.encoded($0) } : nil)
        return try pages.render("aid", title: "帮扶审批", view, context: context)
    }

    @Sendable func detail(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let now = clock()
        let (application, steps) = try await applications.application(id, for: actor, book: book)
        let workflow = book.workflows[application.workflow]
        let member = try await MembershipRegistry(store: store).latest(for: application.openid)
        let photos =
            try await FormPhotos(store: store, directory: shared.mediaDirectory)
            .photos(ofApplications: [id])[id] ?? []
        func field(_ definition: FormField, _ values: [String: String]) -> DetailView.Field? {
            guard let value = values[definition.key] else { return nil }
            return DetailView.Field(
                label: definition.label, value: AidApplications.display(value, of: definition),
                hidden: value == AidApplications.hidden)
        }
        let fields = (workflow?.fields ?? []).filter { !$0.isPhoto }.compactMap { field($0, application.answers) }
        let recorded = (workflow?.levels.flatMap(\.record) ?? []).compactMap { field($0, application.recorded) }
        let refusal: String? =
            application.status == .pending
            ? workflow.flatMap {
                AidApplications.refusal(actor, on: application, workflow: $0, organisation: organisation, at: now)
            } ?? (workflow == nil ? "申请事项已从 workflows.yaml 删除" : nil) : nil
        let level = workflow?.levels[safe: application.currentLevel]
        let timeline = AidApplications.timeline(steps, workflow: workflow, organisation: organisation)
        let view = DetailView(
            id: application.id, number: application.number, title: title(application.workflow),
            status: application.status.rawValue, statusName: application.status.chinese,
            member: member?.name ?? "（未入会）", unit: unitName(application.unitCode),
            overdue: application.isOverdue(at: now), dueAt: application.isDecided ? nil : local(application.dueAt),
            escalatedTo: application.escalatedTo.map(unitName), asked: application.asked, reason: application.reason,
            levels: application.chain.enumerated().map { index, stop in
                DetailView.Level(
                    name: workflow?.levels[safe: stop.level]?.name ?? "第 \(index + 1) 级",
                    unit: stop.unit.isEmpty ? (organisation.root.map(unitName) ?? "总工会") : unitName(stop.unit),
                    current: index == application.stop && !application.isDecided,
                    done: index < application.stop || application.status == .approved)
            },
            fields: fields, recorded: recorded, photos: photos.map { "/admin/photos/" + $0.token },
            timeline: zip(steps, timeline).map { step, line in
                DetailView.Event(
                    at: local(line.at), who: step.actor.hasPrefix("member:") ? "会员" : step.actor, text: line.text)
            },
            canAct: application.status == .pending && refusal == nil, refusal: refusal, stop: application.stop,
            levelName: level?.name ?? "", last: application.stop == application.chain.count - 1,
            record: (level?.record ?? []).map { definition in
                var input: String?
                var mode: String?
                var choices: [Option]?
                switch definition.kind {
                case .choice(let options):
                    choices = Option.list([("", "请选择")] + options.map { ($0, $0) }, selected: "")
                case .money: (input, mode) = ("text", "decimal")
                case .number: input = "number"
                case .date: input = "date"
                case .phone: input = "tel"
                default: input = "text"
                }
                return DetailView.RecordField(
                    name: "record." + definition.key, label: definition.label, input: choices == nil ? input : nil,
                    inputMode: mode, choice: choices.map { DetailView.Choice(options: $0) },
                    optional: definition.optional)
            })
        return try pages.render("aidApplication", title: "\(view.title) \(application.number)", view, context: context)
    }

    @Sendable func decide(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: [String: String].self, context: context)
        guard let stop = form["stop"].flatMap({ Int($0) }) else { throw AdminActionError(.invalid, "缺少审批层级") }
        let note = form["note"]
        let decision: AidDecision
        switch form["decision"] {
        case "pass":
            var recorded: [String: String] = [:]
            for (name, value) in form where name.hasPrefix("record.") { recorded[String(name.dropFirst(7))] = value }
            decision = .pass(recorded: recorded, remark: note)
        case "back": decision = .sendBack(asked: note ?? "")
        case "refuse": decision = .refuse(reason: note ?? "")
        default: throw AdminActionError(.invalid, "请选择审批意见")
        }
        let application = try await applications.decide(id, decision, atStop: stop, by: actor, book: book, at: clock())
        let said: String
        switch (decision, application.status) {
        case (_, .approved): said = "已批准，已通知会员。"
        case (.pass, _):
            let next = book.workflows[application.workflow]?.levels[safe: application.currentLevel]?.name ?? "上一级"
            said = "已通过，报\(next)（\(unitName(application.currentUnit))）。"
        case (.sendBack, _): said = "已退回会员补充材料。"
        case (.refuse, _): said = "已不予通过，已通知会员原因。"
        }
        return pages.redirect("/admin/aid/\(application.id)", flash: "\(application.number)：\(said)")
    }

    /// One workflow's applications as CSV (sensitive answers masked unless the role acts on it).
    @Sendable func export(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        guard let name = query.form, let workflow = book.workflows[name] else {
            throw AdminActionError(.invalid, "请先选择申请事项再导出")
        }
        let text = try await applications.csv(workflow, for: actor, book: book)
        try await auditExport(actor, action: "aid.export", record: "workflow:\(name)", unit: nil, query: ["form": name])
        return AdminRoutes.csv(text, name: "aid-\(name).csv")
    }

    @Sendable func stats(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let parameters = request.uri.queryParameters
        let now = LocalTime(unixSeconds: clock(), utcOffsetMinutes: offset)
        let defaultFrom = String(format: "%04d-01-01", now.year)
        let fromText = parameters.get("from").flatMap { FormAnswer.date($0) } ?? defaultFrom
        let toText = parameters.get("to").flatMap { FormAnswer.date($0) } ?? now.isoDate
        guard let from = LocalTime.unixSeconds(ofDate: fromText, utcOffsetMinutes: offset),
            let toStart = LocalTime.unixSeconds(ofDate: toText, utcOffsetMinutes: offset)
        else { throw AdminActionError(.invalid, "日期看不懂") }
        let lines = try await applications.statistics(for: actor, book: book, from: from, to: toStart + 86_400)
        if parameters.get("format") == "csv" {
            try await auditExport(
                actor, action: "aid.stats.export", record: "aid:stats", unit: nil,
                query: ["from": fromText, "to": toText])
            return AdminRoutes.csv(
                AidApplications.csv(lines, organisation: organisation), name: "aid-\(fromText)-\(toText).csv")
        }
        let view = StatsView(
            from: fromText, to: toText,
            rows: lines.map { line in
                StatsView.Row(
                    month: line.month, workflow: title(line.workflow), unit: unitName(line.unitCode), level: line.level,
                    submitted: line.submitted, passed: line.passed, sentBack: line.sentBack, approved: line.approved,
                    refused: line.refused, granted: FormAnswer.yuan(line.grantedCents))
            },
            csv: "/admin/aid/stats?from=\(fromText)&to=\(toText)&format=csv")
        return try pages.render("aidStats", title: "帮扶审批统计", view, context: context)
    }
}
