import Foundation
import ReplyRules
import SQLKit

/// Applications that climb the union tree: a member submits once (however often the page is
/// sent), each level from the member's union upwards passes it up, sends it back for more or
/// refuses it, and the last one approves it with what it grants. Every step is written with its
/// audit entry and the member's notice in one transaction; a stale decision (two staff at once, a
/// double tap) is refused, never applied twice.
public struct AidApplications: Sendable {
    let store: UnionStore

    public init(store: UnionStore) {
        self.store = store
    }

    /// How a sensitive answer is shown to staff who may not see it.
    public static let hidden = "（仅经办人员可见）"
    /// The longest note (what is asked, a reason, a remark).
    public static let maxNote = 500

    // MARK: Rows

    struct Row: Codable, Sendable {
        var id: Int?
        var workflow: String
        var number: String
        var openid: String
        var unitCode: String
        var answers: String
        var status: AidApplication.Status
        var stop: Int
        var chain: String
        var levelUnit: String
        var dueAt: Int64
        var escalatedTo: String?
        var asked: String?
        var recorded: String
        var amountCents: Int64?
        var reason: String?
        var messageKey: String
        var createdAt: Int64
        var updatedAt: Int64
        var decidedAt: Int64?

        var application: AidApplication {
            get throws {
                AidApplication(
                    id: id ?? 0, workflow: workflow, number: number, openid: openid, unitCode: unitCode,
                    answers: try JSONDecoder().decode([String: String].self, from: Data(answers.utf8)), status: status,
                    stop: stop, chain: try JSONDecoder().decode([AidApplication.Stop].self, from: Data(chain.utf8)),
                    dueAt: dueAt, escalatedTo: escalatedTo, asked: asked,
                    recorded: try JSONDecoder().decode([String: String].self, from: Data(recorded.utf8)),
                    amountCents: amountCents, reason: reason, createdAt: createdAt, updatedAt: updatedAt,
                    decidedAt: decidedAt)
            }
        }
    }

    struct StepRow: Codable, Sendable {
        var id: Int
        var applicationId: Int
        var stop: Int
        var level: Int
        var unitCode: String
        var actor: String
        var action: AidStep.Action
        var note: String?
        var recorded: String?
        var at: Int64

        var step: AidStep {
            AidStep(
                id: id, applicationId: applicationId, stop: stop, level: level, unitCode: unitCode, actor: actor,
                action: action, note: note,
                recorded: recorded.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
                    ?? [:], at: at)
        }
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("aid_applications")
    }

    static func find(_ id: Int, in database: any SQLDatabase) async throws -> AidApplication? {
        try await select(in: database).where("id", .equal, id)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application
    }

    /// The member's unit of application `id`, for its photos.
    static func unitCode(ofApplication id: Int, in database: any SQLDatabase) async throws -> String? {
        try await database.select().column("unit_code").from("aid_applications").where("id", .equal, id)
            .first(decodingColumn: "unit_code", as: String.self)
    }

    /// Writes the application's changing columns.
    static func save(_ application: AidApplication, at now: Int64, in database: any SQLDatabase) async throws {
        try await database.update("aid_applications")
            .set("answers", to: try JSONEncoder.sortedText(application.answers))
            .set("status", to: application.status.rawValue)
            .set("stop", to: application.stop)
            .set("level_unit", to: application.currentUnit)
            .set("due_at", to: application.dueAt)
            .set("escalated_to", to: application.escalatedTo)
            .set("asked", to: application.asked)
            .set("recorded", to: try JSONEncoder.sortedText(application.recorded))
            .set("amount_cents", to: application.amountCents)
            .set("reason", to: application.reason)
            .set("updated_at", to: now)
            .set("decided_at", to: application.decidedAt)
            .where("id", .equal, application.id)
            .run()
    }

    static func step(
        _ application: AidApplication, _ action: AidStep.Action, actor: String, unit: String, note: String? = nil,
        recorded: [String: String] = [:], key: String? = nil, at now: Int64, in database: any SQLDatabase
    ) async throws {
        try await database.insert(into: "aid_steps")
            .columns(
                "application_id", "stop", "level", "unit_code", "actor", "action", "note", "recorded", "message_key",
                "at"
            )
            .values(
                SQLBind(application.id), SQLBind(application.stop), SQLBind(application.currentLevel), SQLBind(unit),
                SQLBind(actor), SQLBind(action.rawValue), SQLBind(note),
                SQLBind(recorded.isEmpty ? nil : try JSONEncoder.sortedText(recorded)), SQLBind(key), SQLBind(now)
            )
            .run()
    }

    static func steps(of id: Int, in database: any SQLDatabase) async throws -> [AidStep] {
        try await database.select().columns("*").from("aid_steps").where("application_id", .equal, id)
            .orderBy("id", .ascending)
            .all(decoding: StepRow.self, keyDecodingStrategy: .convertFromSnakeCase).map(\.step)
    }

    // MARK: The member's side

    /// Stores a submitted application once per `key` (a double tap returns the first), with its
    /// chain of deciding units fixed from the member's unit, its photos and its audit entry, and
    /// removes the member's draft.
    public func submit(
        _ workflow: Workflow, answers: [String: String], photos: [FormPhotos.Staged] = [], for openid: String,
        key: String, book: RuleBook, at now: Int64
    ) async throws -> AidApplication {
        let offset = book.settings.utcOffsetMinutes
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).year
        let organisation = book.join.organisation
        let calendar = book.cases
        return try await store.transaction { database in
            if let existing = try await Self.select(in: database).where("message_key", .equal, key)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            {
                return try existing.application
            }
            let unit = try await MembershipRegistry.unitCode(of: openid, in: database)
            let chain = workflow.chain(forMemberOf: unit, in: organisation).map {
                AidApplication.Stop(level: $0.level, unit: $0.unit)
            }
            guard let first = chain.first else { throw StoreError("workflow \(workflow.name) has no levels") }
            let due = calendar.dueTime(
                from: now, workingDays: workflow.levels[first.level].days, utcOffsetMinutes: offset)
            let row = Row(
                workflow: workflow.name,
                number: try await ReceiptNumbers.next(prefix: workflow.prefix, year: year, in: database),
                openid: openid, unitCode: unit, answers: try JSONEncoder.sortedText(answers), status: .pending, stop: 0,
                chain: try JSONEncoder.sortedText(chain), levelUnit: first.unit, dueAt: due, recorded: "{}",
                messageKey: key,
                createdAt: now, updatedAt: now)
            guard
                let application = try await database.insert(into: "aid_applications")
                    .model(row, keyEncodingStrategy: .convertToSnakeCase)
                    .returning("*")
                    .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application
            else { throw StoreError("application \(row.number) vanished after it was written") }
            let member = Principal.member(openid)
            try await Self.step(application, .submit, actor: member.name, unit: unit, at: now, in: database)
            try await FormPhotos.attach(photos, toApplication: application.id, openid: openid, at: now, in: database)
            try await AidDrafts.remove(openid: openid, workflow: workflow.name, in: database)
            try await AuditLog.record(
                member, action: "aid.submit", record: "aid:\(application.number)", unit: unit, before: nil,
                after: ["workflow": workflow.name, "level_unit": first.unit], at: now, in: database)
            return application
        }
    }

    /// The member's application sent back, with what they added, to the level that asked: once
    /// per `key`; refused (409) when it is not waiting for them.
    public func resubmit(
        _ id: Int, answers: [String: String], photos: [FormPhotos.Staged] = [], for openid: String, key: String,
        book: RuleBook, at now: Int64
    ) async throws -> AidApplication {
        let offset = book.settings.utcOffsetMinutes
        let calendar = book.cases
        let workflows = book.workflows
        return try await store.transaction { database in
            guard var application = try await Self.find(id, in: database), application.openid == openid else {
                throw AdminActionError(.notFound, "no application \(id)")
            }
            let done =
                try await database.select().column("id").from("aid_steps").where("message_key", .equal, key).first()
                != nil
            if done { return application }
            guard application.status == .returned else {
                throw AdminActionError(.conflict, "这份申请现在不需要补充材料（\(application.status.chinese)）")
            }
            let days = workflows[application.workflow]?.levels[safe: application.currentLevel]?.days ?? 5
            let asked = application.asked
            application.answers = answers
            application.status = .pending
            application.asked = nil
            application.escalatedTo = nil
            application.dueAt = calendar.dueTime(from: now, workingDays: days, utcOffsetMinutes: offset)
            try await Self.save(application, at: now, in: database)
            let member = Principal.member(openid)
            try await Self.step(
                application, .resubmit, actor: member.name, unit: application.unitCode, note: asked, key: key, at: now,
                in: database)
            try await FormPhotos.attach(photos, toApplication: application.id, openid: openid, at: now, in: database)
            try await AuditLog.record(
                member, action: "aid.resubmit", record: "aid:\(application.number)", unit: application.unitCode,
                before: ["status": AidApplication.Status.returned.rawValue],
                after: ["status": application.status.rawValue], at: now, in: database)
            return application
        }
    }

    /// The application stored for `key` (a page's submission), if any: a second tap finds it.
    public func application(forKey key: String) async throws -> AidApplication? {
        try await store.read { database in
            try await Self.select(in: database).where("message_key", .equal, key)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.application
        }
    }

    /// The member's applications, newest first.
    public func mine(_ openid: String, limit: Int = 50) async throws -> [AidApplication] {
        try await store.read { database in try await Self.recent(for: openid, limit: limit, in: database) }
    }

    static func recent(for openid: String, limit: Int, in database: any SQLDatabase) async throws -> [AidApplication] {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending).limit(limit)
            .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map { try $0.application }
    }

    /// The member's application `id` and its steps; nil when it is someone else's.
    public func application(_ id: Int, of openid: String) async throws -> (AidApplication, [AidStep])? {
        try await store.read { database in try await Self.application(id, of: openid, in: database) }
    }

    static func application(_ id: Int, of openid: String, in database: any SQLDatabase) async throws
        -> (AidApplication, [AidStep])?
    {
        guard let application = try await find(id, in: database), application.openid == openid else { return nil }
        return (application, try await steps(of: id, in: database))
    }

    // MARK: Staff

    /// Which applications a staff list shows.
    public enum Queue: String, Sendable, Hashable, CaseIterable {
        /// Waiting for the staff member's own unit (overdue first).
        case waiting
        /// Overdue at the units below theirs.
        case overdueBelow = "overdue"
        /// Sent back, waiting for the member.
        case returned
        /// Everything of their part of the tree, newest first.
        case all

        public var chinese: String {
            switch self {
            case .waiting: "待我处理"
            case .overdueBelow: "下级超期"
            case .returned: "待补充"
            case .all: "全部"
            }
        }
    }

    /// A page of `queue` for `actor`, of one workflow or all.
    public func page(
        _ queue: Queue, workflow: String? = nil, for actor: Principal, at now: Int64, request: PageRequest
    ) async throws -> Page<AidApplication> {
        try actor.require(.read)
        let filter: @Sendable (SQLSelectBuilder) -> SQLSelectBuilder = { query in
            var query = actor.scope.restrict(query)
            if let workflow { query = query.where("workflow", .equal, workflow) }
            switch queue {
            case .waiting:
                query = query.where("status", .equal, AidApplication.Status.pending.rawValue)
                if let unit = actor.unit {
                    if actor.scope == .everything {
                        query = query.where(
                            SQLGroupExpression(
                                SQLBinaryExpression(
                                    SQLBinaryExpression(SQLColumn("level_unit"), .equal, SQLBind(unit)), .or,
                                    SQLBinaryExpression(SQLColumn("level_unit"), .equal, SQLBind("")))))
                    } else {
                        query = query.where("level_unit", .equal, unit)
                    }
                }
            case .overdueBelow:
                query = query.where("status", .equal, AidApplication.Status.pending.rawValue)
                    .where("due_at", .lessThan, now)
                if let unit = actor.unit { query = query.where("level_unit", .notEqual, unit) }
            case .returned:
                query = query.where("status", .equal, AidApplication.Status.returned.rawValue)
            case .all:
                break
            }
            return query
        }
        return try await store.read { database in
            let total = try await database.count("aid_applications", where: filter)
            var query = filter(Self.select(in: database))
            query =
                queue == .all
                ? query.orderBy("id", .descending) : query.orderBy("due_at", .ascending).orderBy("id", .ascending)
            let rows = try await query.limit(request.perPage).offset(request.offset)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            return Page(items: try rows.map { try $0.application }, total: total, request: request)
        }
    }

    /// Application `id` and its steps, for staff of its member's part of the tree (404 outside it),
    /// sensitive answers hidden from those who may not see them.
    public func application(_ id: Int, for actor: Principal, book: RuleBook) async throws -> (
        AidApplication, [AidStep]
    ) {
        try actor.require(.read)
        let found = try await store.read { database -> (AidApplication, [AidStep])? in
            guard let application = try await Self.find(id, in: database), actor.scope.contains(application.unitCode)
            else { return nil }
            return (application, try await Self.steps(of: id, in: database))
        }
        guard let (application, steps) = found else { throw AdminActionError(.notFound, "no application \(id)") }
        return (Self.masked(application, workflow: book.workflows[application.workflow], for: actor), steps)
    }

    /// Whether `actor` sees the sensitive answers of `application`: the roles that act on the
    /// workflow, in the member's branch of the tree.
    public static func seesSensitive(_ actor: Principal, workflow: Workflow?, application: AidApplication) -> Bool {
        guard actor.may(.decide), actor.scope.contains(application.unitCode) else { return false }
        guard let workflow else { return actor.role == .admin }
        return workflow.actingRoles.contains(actor.role.rawValue)
    }

    /// `application` with the sensitive answers hidden unless `actor` sees them.
    public static func masked(_ application: AidApplication, workflow: Workflow?, for actor: Principal)
        -> AidApplication
    {
        guard !seesSensitive(actor, workflow: workflow, application: application) else { return application }
        var masked = application
        let keys = workflow?.sensitiveKeys ?? Set(application.answers.keys).union(application.recorded.keys)
        for key in keys {
            if masked.answers[key] != nil { masked.answers[key] = hidden }
            if masked.recorded[key] != nil { masked.recorded[key] = hidden }
        }
        return masked
    }

    /// Why `actor` may not act on `application` now, or nil when they may: the level's roles,
    /// at the level's own unit; a unit above it once the level is overdue; the root token and the
    /// command line anywhere.
    public static func refusal(
        _ actor: Principal, on application: AidApplication, workflow: Workflow, organisation: Organisation,
        at now: Int64
    ) -> String? {
        guard actor.may(.decide) else { return "您的角色（\(actor.role.chinese)）不能审批" }
        guard let level = workflow.levels[safe: application.currentLevel] else {
            return "申请事项的审批层级已修改，这一级已不存在"
        }
        guard level.roles.contains(actor.role.rawValue) else {
            let names = level.roles.compactMap { StaffRole(rawValue: $0)?.chinese }.joined(separator: "、")
            return "「\(level.name)」由\(names)办理"
        }
        guard let unit = actor.unit else { return nil }
        if unit == application.currentUnit { return nil }
        if application.currentUnit.isEmpty, actor.scope == .everything { return nil }
        if application.isOverdue(at: now), actor.scope.contains(application.currentUnit) { return nil }
        let name = organisation.units[application.currentUnit]?.name ?? "总工会"
        return "「\(level.name)」由「\(name)」办理" + (actor.scope.contains(application.currentUnit) ? "（超期后上级可以代办）" : "")
    }

    /// Applies a decision of the current level (checked against `stop`, the level the staff
    /// member saw): passes it up or approves it at the last level with what the level records,
    /// sends it back for more, or refuses it; audited and notified in the same transaction.
    public func decide(
        _ id: Int, _ decision: AidDecision, atStop expected: Int, by actor: Principal, book: RuleBook, at now: Int64
    ) async throws -> AidApplication {
        try actor.require(.decide)
        let organisation = book.join.organisation
        let offset = book.settings.utcOffsetMinutes
        let calendar = book.cases
        let workflows = book.workflows
        return try await store.transaction { database in
            guard var application = try await Self.find(id, in: database), actor.scope.contains(application.unitCode)
            else { throw AdminActionError(.notFound, "no application \(id)") }
            guard let workflow = workflows[application.workflow] else {
                throw AdminActionError(.conflict, "申请事项「\(application.workflow)」已从 workflows.yaml 删除，不能再审批")
            }
            guard application.status == .pending, application.stop == expected else {
                throw AdminActionError(.conflict, "这份申请已经处理过了（现在：\(application.status.chinese)）")
            }
            if let refusal = Self.refusal(
                actor, on: application, workflow: workflow, organisation: organisation, at: now)
            {
                throw AdminActionError(.forbidden, refusal)
            }
            guard let level = workflow.levels[safe: application.currentLevel] else {
                throw AdminActionError(.conflict, "申请事项「\(workflow.name)」的审批层级已修改，这一级已不存在")
            }
            let actingUnit = application.currentUnit
            let before = ["status": application.status.rawValue, "stop": String(application.stop)]
            let action: AidStep.Action
            var note: String?
            var recorded: [String: String] = [:]
            switch decision {
            case .pass(let given, let remark):
                recorded = try Self.validated(given, for: level.record)
                note = try Self.note(remark, required: false)
                application.recorded.merge(recorded) { _, new in new }
                if application.stop == application.chain.count - 1 {
                    action = .approve
                    application.status = .approved
                    application.decidedAt = now
                    if let money = level.record.first(where: { if case .money = $0.kind { true } else { false } }),
                        let value = recorded[money.key]
                    {
                        application.amountCents = FormAnswer.money(value)
                    }
                } else {
                    action = .pass
                    application.stop += 1
                    application.escalatedTo = nil
                    application.dueAt = calendar.dueTime(
                        from: now, workingDays: workflow.levels[safe: application.currentLevel]?.days ?? level.days,
                        utcOffsetMinutes: offset
                    )
                }
            case .sendBack(let asked):
                action = .sendBack
                note = try Self.note(asked, required: true)
                application.status = .returned
                application.asked = note
            case .refuse(let reason):
                action = .refuse
                note = try Self.note(reason, required: true)
                application.status = .refused
                application.reason = note
                application.decidedAt = now
            }
            try await Self.save(application, at: now, in: database)
            var stepped = application
            stepped.stop = expected
            try await Self.step(
                stepped, action, actor: actor.name, unit: actingUnit, note: note, recorded: recorded, at: now,
                in: database)
            var after = ["status": application.status.rawValue, "stop": String(application.stop)]
            for (key, value) in recorded { after[key] = workflow.sensitiveKeys.contains(key) ? "***" : value }
            if let note { after["note"] = note }
            try await AuditLog.record(
                actor, action: "aid.\(action.rawValue)", record: "aid:\(application.number)",
                unit: application.unitCode, before: before, after: after, at: now, in: database)
            try await Outbox.enqueue(
                Self.notice(
                    application, action: action, level: level, workflow: workflow, note: note,
                    organisation: organisation),
                to: application.openid, at: now, in: database)
            return application
        }
    }

    /// The values a level records, checked as a form's answers are (400 with the reason).
    static func validated(_ given: [String: String], for fields: [FormField]) throws -> [String: String] {
        switch FormAnswer.answers(given, for: fields) {
        case .success(let values): return values
        case .failure(let problem): throw AdminActionError(.invalid, problem.message)
        }
    }

    static func note(_ text: String?, required: Bool) throws -> String? {
        let text = (text ?? "").trimmingWhiteSpace()
        if text.isEmpty {
            if required { throw AdminActionError(.invalid, "请写明意见（要补充什么，或不予通过的原因）") }
            return nil
        }
        guard text.count <= maxNote else { throw AdminActionError(.invalid, "意见最多 \(maxNote) 个字") }
        return text
    }

    /// What the member is told of a step.
    static func notice(
        _ application: AidApplication, action: AidStep.Action, level: WorkflowLevel, workflow: Workflow,
        note: String?, organisation: Organisation
    ) -> Notice {
        let subject = "您的「\(workflow.title)」（编号 \(application.number)）"
        let text: String
        var status = application.status.chinese
        switch action {
        case .pass:
            let next = workflow.levels[safe: application.currentLevel]?.name ?? "上一级"
            status = "已报\(next)"
            text = "\(subject)已通过\(level.name)，已报\(next)。"
        case .approve:
            let granted = level.record.compactMap { field in
                application.recorded[field.key].map { "\(field.label)：\($0)" }
            }
            text = "\(subject)已批准。" + (granted.isEmpty ? "" : granted.joined(separator: "；") + "。")
        case .sendBack:
            text = "\(subject)需要补充材料：\(note ?? "")\n请打开会员中心「我的申请」，补充后重新提交。"
        case .refuse:
            text = "\(subject)未通过\(level.name)。原因：\(note ?? "")"
        case .submit, .resubmit, .escalate:
            text = "\(subject)\(status)。"
        }
        return Notice(
            .aid,
            fields: [
                "number": application.number, "form": workflow.title, "level": level.name, "status": status,
                "reply": note ?? "",
            ],
            text: text + (action == .sendBack ? "" : "\n回复「我的申请」可查看全部进度。"))
    }

    // MARK: Overdue levels

    /// Marks pending applications past their level's time escalated to the unit above that
    /// level's (whose staff may then act for it), each audited; returns them.
    public func escalateOverdue(organisation: Organisation, at now: Int64) async throws -> [AidApplication] {
        try await store.transaction { database in
            let due = try await Self.select(in: database)
                .where("status", .equal, AidApplication.Status.pending.rawValue)
                .where("due_at", .lessThan, now)
                .where(SQLColumn("escalated_to"), .is, SQLLiteral.null)
                .orderBy("id").limit(500)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            var escalated: [AidApplication] = []
            for row in due {
                var application = try row.application
                let unit = application.currentUnit
                let above = organisation.units[unit]?.parent ?? unit
                application.escalatedTo = above
                try await database.update("aid_applications").set("escalated_to", to: above)
                    .set("updated_at", to: now).where("id", .equal, application.id).run()
                try await Self.step(
                    application, .escalate, actor: Principal.system.name, unit: above, at: now, in: database)
                try await AuditLog.record(
                    .system, action: "aid.escalate", record: "aid:\(application.number)", unit: application.unitCode,
                    before: nil, after: ["level_unit": unit, "escalated_to": above], at: now, in: database)
                escalated.append(application)
            }
            return escalated
        }
    }

    /// How many applications wait past their level's time.
    public func overdueCount(at now: Int64) async throws -> Int {
        try await store.read { database in
            try await database.count("aid_applications") {
                $0.where("status", .equal, AidApplication.Status.pending.rawValue).where("due_at", .lessThan, now)
            }
        }
    }

    // MARK: Statistics

    /// One line of the statistics: a workflow's steps at one unit and level in one month.
    public struct Statistic: Sendable, Hashable {
        public var workflow: String
        /// `2026-12`.
        public var month: String
        /// The level's name ('提交' for submissions).
        public var level: String
        /// The unit that acted (the member's for submissions).
        public var unitCode: String
        public var submitted = 0
        public var passed = 0
        public var sentBack = 0
        public var approved = 0
        public var refused = 0
        /// What the approvals granted, in fen.
        public var grantedCents: Int64 = 0
    }

    /// Submissions and decisions by workflow, month, level and unit, of `actor`'s part of the
    /// tree, between `from` and `to` (Unix seconds, `to` excluded).
    public func statistics(for actor: Principal, book: RuleBook, from: Int64, to: Int64) async throws -> [Statistic] {
        try actor.require(.read)
        struct Joined: Decodable {
            var workflow: String
            var action: AidStep.Action
            var level: Int
            var unitCode: String
            var at: Int64
            var amountCents: Int64?
        }
        let rows = try await store.read { database in
            var query = database.select()
                .column(SQLColumn("workflow", table: "aid_applications"))
                .column(SQLColumn("action", table: "aid_steps"))
                .column(SQLColumn("level", table: "aid_steps"))
                .column(SQLColumn("unit_code", table: "aid_steps"))
                .column(SQLColumn("at", table: "aid_steps"))
                .column(SQLColumn("amount_cents", table: "aid_applications"))
                .from("aid_steps")
                .join(
                    "aid_applications", on: SQLColumn("id", table: "aid_applications"), .equal,
                    SQLColumn("application_id", table: "aid_steps")
                )
                .where(SQLColumn("at", table: "aid_steps"), .greaterThanOrEqual, SQLBind(from))
                .where(SQLColumn("at", table: "aid_steps"), .lessThan, SQLBind(to))
            if case .units(let codes) = actor.scope {
                query = query.where(
                    SQLColumn("unit_code", table: "aid_applications"), .in,
                    SQLGroupExpression(codes.sorted().map { SQLBind($0) }))
            }
            return try await query.orderBy(SQLColumn("id", table: "aid_steps"))
                .all(decoding: Joined.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let offset = book.settings.utcOffsetMinutes
        var lines: [String: Statistic] = [:]
        for row in rows where row.action != .escalate && row.action != .resubmit {
            let time = LocalTime(unixSeconds: row.at, utcOffsetMinutes: offset)
            let month = String(time.isoDate.prefix(7))
            let level =
                row.action == .submit
                ? "提交" : (book.workflows[row.workflow]?.levels[safe: row.level]?.name ?? "第 \(row.level + 1) 级")
            let key = [row.workflow, month, level, row.unitCode].joined(separator: "\u{1F}")
            var line =
                lines[key] ?? Statistic(workflow: row.workflow, month: month, level: level, unitCode: row.unitCode)
            switch row.action {
            case .submit: line.submitted += 1
            case .pass: line.passed += 1
            case .sendBack: line.sentBack += 1
            case .approve:
                line.approved += 1
                line.grantedCents += row.amountCents ?? 0
            case .refuse: line.refused += 1
            case .resubmit, .escalate: break
            }
            lines[key] = line
        }
        return lines.values.sorted {
            ($0.month, $0.workflow, $0.unitCode, $0.level) < ($1.month, $1.workflow, $1.unitCode, $1.level)
        }
    }

    /// The statistics as CSV for the finance office (UTF-8 with a byte-order mark, for Excel).
    public static func csv(_ lines: [Statistic], organisation: Organisation) -> String {
        var rows = [["月份", "申请事项", "单位代码", "单位", "环节", "提交", "通过报上级", "退回补充", "批准", "不予通过", "批准金额（元）"]]
        for line in lines {
            rows.append([
                line.month, line.workflow, line.unitCode, organisation.units[line.unitCode]?.name ?? "",
                line.level, String(line.submitted), String(line.passed), String(line.sentBack), String(line.approved),
                String(line.refused), FormAnswer.yuan(line.grantedCents),
            ])
        }
        return CSVExport.document(rows)
    }
}

extension Array {
    /// The element at `index`, or nil past the ends.
    public subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

extension AidApplications {
    /// The steps as the member (and the console's timeline) reads them: each level's decision
    /// with its unit, without staff names.
    public static func timeline(_ steps: [AidStep], workflow: Workflow?, organisation: Organisation) -> [(
        at: Int64, text: String
    )] {
        steps.map { step in
            let level = workflow?.levels[safe: step.level]
            let levelName = level?.name ?? "第 \(step.level + 1) 级审批"
            let unit = organisation.units[step.unitCode]?.name ?? (step.unitCode.isEmpty ? "工会" : step.unitCode)
            let who = "\(levelName)（\(unit)）"
            switch step.action {
            case .submit: return (step.at, "提交申请")
            case .resubmit: return (step.at, "补充材料后重新提交")
            case .pass:
                let next = workflow?.levels[safe: step.level + 1]?.name ?? "上一级"
                return (step.at, "\(who)：通过，报\(next)" + (step.note.map { "。意见：\($0)" } ?? ""))
            case .sendBack: return (step.at, "\(who)：退回补充材料——\(step.note ?? "")")
            case .approve:
                let granted = (level?.record ?? []).compactMap { field in
                    step.recorded[field.key].map { "\(field.label) \($0)" }
                }
                return (step.at, "\(who)：批准" + (granted.isEmpty ? "" : "，" + granted.joined(separator: "，")))
            case .refuse: return (step.at, "\(who)：不予通过——\(step.note ?? "")")
            case .escalate: return (step.at, "「\(levelName)」超过办理期限，已提请上级工会（\(unit)）督办")
            }
        }
    }

    /// An answer as people read it: a group's rows one per line (「张三，配偶，45，3000.00」).
    public static func display(_ value: String, of field: FormField) -> String {
        guard case .group(let columns, _, _) = field.kind, value != hidden else { return value }
        let rows = AidApplication.rows(value)
        guard !rows.isEmpty else { return value }
        return rows.enumerated().map { index, row in
            "\(index + 1). "
                + columns.compactMap { column in row[column.key].map { "\(column.label)：\($0)" } }
                .joined(separator: "，")
        }.joined(separator: "\n")
    }
}

extension AidApplications {
    /// `workflow`'s applications of `actor`'s part of the tree as CSV, newest first: sensitive
    /// answers masked unless `actor` acts on the workflow. Needs the export permission.
    public func csv(_ workflow: Workflow, for actor: Principal, book: RuleBook) async throws -> String {
        try actor.require(.export)
        let rows = try await store.read { database in
            try await actor.scope.restrict(Self.select(in: database).where("workflow", .equal, workflow.name))
                .orderBy("id", .descending)
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let organisation = book.join.organisation
        let offset = book.settings.utcOffsetMinutes
        let fields = workflow.fields.filter { !$0.isPhoto }
        let recorded = workflow.levels.flatMap(\.record)
        var lines = [
            ["编号", "单位", "状态", "当前环节"] + fields.map(\.label) + recorded.map(\.label) + ["提交时间", "办结时间"]
        ]
        for row in rows {
            let application = Self.masked(try row.application, workflow: workflow, for: actor)
            let level =
                application.isDecided
                ? "" : (workflow.levels[safe: application.currentLevel]?.name ?? "")
            var line: [String] = [
                application.number, organisation.units[application.unitCode]?.name ?? application.unitCode,
                application.status.chinese, level,
            ]
            for field in fields {
                line.append(application.answers[field.key].map { Self.display($0, of: field) } ?? "")
            }
            for field in recorded { line.append(application.recorded[field.key] ?? "") }
            line.append(CSVExport.local(application.createdAt, offset))
            line.append(application.decidedAt.map { CSVExport.local($0, offset) } ?? "")
            lines.append(line)
        }
        return CSVExport.document(lines)
    }
}
