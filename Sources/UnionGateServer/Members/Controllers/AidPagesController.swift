import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// The workflows' applications (困难帮扶, 金秋助学, 法律援助 …) as pages: one step at a time, each
/// saved as a draft as the member goes on (or back), household members as rows added one by
/// one, photos of proof with the last step, and one application however often it is sent. An
/// application sent back is completed on one page with what was asked at its top.
struct AidPagesController: MemberController {
    let shared: MemberShared

    struct View: Encodable {
        struct Step: Encodable {
            let title: String
            let current: Bool
        }
        struct Progress: Encodable {
            let number: Int
            let count: Int
            let title: String
            let hint: String?
            let steps: [Step]
        }
        let intro: String?
        let refusal: String?
        /// What a level asked the member to add.
        let asked: String?
        let progress: Progress?
        let form: FormPageView?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("aid/:name", use: show)
        pages.post("aid/:name", use: post)
        pages.get("aid/applications/:id/more", use: showMore)
        pages.post("aid/applications/:id/more", use: postMore)
    }

    private var drafts: AidDrafts { AidDrafts(store: shared.store) }
    private var applications: AidApplications { AidApplications(store: shared.store) }
    private var photos: FormPhotos { FormPhotos(store: shared.store, directory: shared.mediaDirectory) }

    private func workflow(_ context: GatewayRequestContext) throws -> Workflow {
        guard let name = context.parameters.get("name")?.removingPercentEncoding, let workflow = book.workflows[name]
        else { throw HTTPError(.notFound) }
        return workflow
    }

    static func address(_ workflow: Workflow, step: Int? = nil) -> String {
        "/m/aid/" + ConsoleLinks.encoded(workflow.name) + (step.map { "?step=\($0)" } ?? "")
    }

    /// A step's questions as a form, for reading and drawing them.
    static func form(_ workflow: Workflow, fields: [FormField]) -> FormDefinition {
        FormDefinition(
            name: workflow.name, title: workflow.title, fields: fields, prefix: workflow.prefix, done: workflow.done,
            source: workflow.source)
    }

    /// The page that refuses `workflow` to a non-member, if it is for members only.
    private func refused(_ workflow: Workflow, _ openid: String, _ context: GatewayRequestContext) async throws
        -> Response?
    {
        guard workflow.applicants == .members, try await !shared.desk.isMember(openid) else { return nil }
        let refusal = "「\(workflow.title)」仅限工会会员申请。已是会员请先绑定会员身份，还不是会员可以申请入会。"
        return try pages.render(
            "aid", title: workflow.title,
            View(intro: nil, refusal: refusal, asked: nil, progress: nil, form: nil), status: .forbidden,
            context: context, back: "/m/forms")
    }

    private func page(
        _ workflow: Workflow, step index: Int, values: [String: String], problems: [String: String] = [:],
        submission: String, status: HTTPResponse.Status = .ok, notice: String? = nil, error: String? = nil,
        context: GatewayRequestContext
    ) throws -> Response {
        let step = workflow.steps[index]
        let last = index == workflow.steps.count - 1
        var buttons: [FormPageView.Button] = []
        if index > 0 {
            buttons.append(.init(action: "back", label: "上一步", id: "back", primary: false, skipsChecks: true))
        }
        buttons.append(
            last
                ? .init(action: "submit", label: "提交申请", id: "submit", primary: true, skipsChecks: false)
                : .init(action: "next", label: "下一步", id: "next", primary: true, skipsChecks: false))
        buttons.append(.init(action: "save", label: "暂存", id: "save", primary: false, skipsChecks: true))
        let form = FormPageView(
            form: Self.form(workflow, fields: step.fields), organisation: book.join.organisation, values: values,
            problems: problems, unitSearch: "", action: Self.address(workflow, step: index), submission: submission,
            buttons: buttons)
        let progress = View.Progress(
            number: index + 1, count: workflow.steps.count, title: step.title, hint: step.hint,
            steps: workflow.steps.enumerated().map { View.Step(title: $0.element.title, current: $0.offset == index) })
        return try pages.render(
            "aid", title: workflow.title,
            View(intro: index == 0 ? workflow.intro : nil, refusal: nil, asked: nil, progress: progress, form: form),
            status: status, context: context, back: "/m/forms", error: error, notice: notice)
    }

    @Sendable func show(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let workflow = try workflow(context)
        if let refused = try await refused(workflow, member.openid, context) { return refused }
        let draft = try await drafts.load(openid: member.openid, workflow: workflow.name)
        let reached = min(draft?.step ?? 0, workflow.steps.count - 1)
        let asked = request.uri.queryParameters.get("step").flatMap { Int($0) } ?? reached
        // The page of a step not reached yet is that of the furthest reached.
        let index = max(0, min(asked, reached))
        return try page(
            workflow, step: index, values: draft?.answers ?? [:], submission: ConsoleSession.newToken(),
            notice: draft != nil && request.uri.queryParameters.get("step") == nil ? "已带入您暂存的内容，可以接着填写。" : nil,
            context: context)
    }

    /// The draft's values with this step's replaced by what the page sent (a group's cells
    /// included).
    static func merged(_ draft: [String: String], step: WorkflowStep, inputs: [String: String]) -> [String: String] {
        let keys = Set(step.fields.filter { !$0.isPhoto }.map(\.key))
        let groups = step.fields.filter(\.isGroup).map { $0.key + "." }
        func ofStep(_ name: String) -> Bool { keys.contains(name) || groups.contains { name.hasPrefix($0) } }
        var values = draft.filter { !ofStep($0.key) }
        for (name, value) in inputs where ofStep(name) && value.count <= 2_000 { values[name] = value }
        return values
    }

    @Sendable func post(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let workflow = try workflow(context)
        if let refused = try await refused(workflow, member.openid, context) { return refused }
        let body = try await MemberFormInput.read(request, context: context)
        let submission = try body.submission()
        // The second tap of 提交申请 (the first has removed the draft): the same answer.
        if body.inputs["_action"] == "submit",
            let stored = try await applications.application(forKey: Self.key(member.openid, submission))
        {
            return try done(workflow, stored, context: context)
        }
        let draft = try await drafts.load(openid: member.openid, workflow: workflow.name)
        let reached = min(draft?.step ?? 0, workflow.steps.count - 1)
        let index = request.uri.queryParameters.get("step").flatMap { Int($0) } ?? 0
        // A step not reached yet (an old page, a draft submitted meanwhile): nothing is merged,
        // the member goes to the furthest step their draft has.
        guard (0...reached).contains(index) else {
            return Response(status: .seeOther, headers: [.location: Self.address(workflow, step: reached)])
        }
        let step = workflow.steps[index]
        let values = Self.merged(draft?.answers ?? [:], step: step, inputs: body.inputs)
        let now = shared.clock()
        let action = body.inputs["_action"] ?? "next"
        /// Keeps the values and the furthest step reached (going back does not forget it).
        func save(step: Int) async throws {
            try await drafts.save(
                openid: member.openid, workflow: workflow.name, answers: values, step: max(step, reached), at: now)
        }
        switch action {
        case "back":
            try await save(step: index)
            return Response(status: .seeOther, headers: [.location: Self.address(workflow, step: max(index - 1, 0))])
        case "save":
            try await save(step: index)
            return try page(
                workflow, step: index, values: values, submission: submission,
                notice: "已暂存。可以稍后从会员中心回到这里接着填写（照片在提交时选择）。", context: context)
        case let add where add.hasPrefix("add:"):
            try await save(step: index)
            return try page(workflow, step: index, values: values, submission: submission, context: context)
        case "next" where index < workflow.steps.count - 1:
            let (_, problems) = PageAnswers.read(
                values, form: Self.form(workflow, fields: step.fields), organisation: book.join.organisation)
            guard problems.isEmpty else {
                try await save(step: index)
                return try page(
                    workflow, step: index, values: values, problems: problems, submission: submission,
                    status: .unprocessableContent, error: "还有 \(problems.count) 项需要修改，请看标红的地方。",
                    context: context)
            }
            try await save(step: index + 1)
            return Response(status: .seeOther, headers: [.location: Self.address(workflow, step: index + 1)])
        default:
            return try await submit(
                workflow, values: values, body: body, submission: submission, at: index, member: member.openid,
                context: context)
        }
    }

    /// Checks every step (showing the first with something wrong) and the photos, then stores
    /// the application once for this page's token.
    private func submit(
        _ workflow: Workflow, values: [String: String], body: MemberFormInput, submission: String, at index: Int,
        member openid: String, context: GatewayRequestContext
    ) async throws -> Response {
        var answers: [String: String] = [:]
        for (number, step) in workflow.steps.enumerated() {
            let (stepAnswers, problems) = PageAnswers.read(
                values, form: Self.form(workflow, fields: step.fields), organisation: book.join.organisation)
            let photoProblems =
                number == index ? body.photos(of: step.fields, requireRequired: true).problems : [:]
            let all = problems.merging(photoProblems) { first, _ in first }
            guard all.isEmpty else {
                try await drafts.save(
                    openid: openid, workflow: workflow.name, answers: values, step: index, at: shared.clock())
                return try page(
                    workflow, step: number, values: values, problems: all, submission: submission,
                    status: .unprocessableContent, error: "还有 \(all.count) 项需要修改，请看标红的地方。", context: context)
            }
            answers.merge(stepAnswers) { _, new in new }
        }
        guard index == workflow.steps.count - 1 else {
            return Response(status: .seeOther, headers: [.location: Self.address(workflow, step: index)])
        }
        let photoCheck = body.photos(of: workflow.steps[index].fields, requireRequired: true)
        answers.merge(photoCheck.answers) { _, new in new }
        let submitted = answers
        let application = try await photos.keeping(photoCheck.checked) { staged in
            try await applications.submit(
                workflow, answers: submitted, photos: staged, for: openid, key: Self.key(openid, submission),
                book: book, at: shared.clock())
        }
        shared.logger.info(
            "aid application submitted",
            metadata: ["workflow": "\(workflow.name)", "number": "\(application.number)"])
        return try done(workflow, application, context: context)
    }

    /// The application's key: the member and the page's one-time token.
    static func key(_ openid: String, _ submission: String) -> String { "aid:\(openid):\(submission)" }

    private func done(_ workflow: Workflow, _ application: AidApplication, context: GatewayRequestContext) throws
        -> Response
    {
        try pages.render(
            "done", title: "已提交",
            DoneView(text: workflow.done.replacingOccurrences(of: "{number}", with: application.number)),
            context: context, back: "/m/applications/aid/\(application.id)")
    }

    // MARK: Sent back for more

    private func returned(_ context: GatewayRequestContext, _ openid: String) async throws -> (
        AidApplication, Workflow
    ) {
        guard let id = context.parameters.get("id").flatMap({ Int($0) }),
            let (application, _) = try await applications.application(id, of: openid),
            let workflow = book.workflows[application.workflow]
        else { throw HTTPError(.notFound) }
        return (application, workflow)
    }

    /// Every question on one page, photos optional (those sent are kept).
    static func moreFields(_ workflow: Workflow) -> [FormField] {
        workflow.fields.map { field in
            var field = field
            if field.isPhoto {
                field.optional = true
                field.hint = "已上传的照片会保留；可以再补充照片。"
            }
            return field
        }
    }

    private func morePage(
        _ application: AidApplication, _ workflow: Workflow, values: [String: String], problems: [String: String],
        submission: String, status: HTTPResponse.Status = .ok, error: String? = nil, context: GatewayRequestContext
    ) throws -> Response {
        let form = FormPageView(
            form: Self.form(workflow, fields: Self.moreFields(workflow)), organisation: book.join.organisation,
            values: values, problems: problems, unitSearch: "",
            action: "/m/aid/applications/\(application.id)/more", submission: submission,
            buttons: [.init(action: "submit", label: "补充后重新提交", id: "submit", primary: true, skipsChecks: false)])
        return try pages.render(
            "aid", title: "补充材料：" + workflow.title,
            View(intro: nil, refusal: nil, asked: application.asked, progress: nil, form: form), status: status,
            context: context, back: "/m/applications/aid/\(application.id)", error: error)
    }

    @Sendable func showMore(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let (application, workflow) = try await returned(context, member.openid)
        guard application.status == .returned else {
            return pages.message(
                "这份申请现在不需要补充材料（\(application.status.chinese)）。", status: .conflict, context: context,
                action: ("/m/applications/aid/\(application.id)", "查看申请"))
        }
        return try morePage(
            application, workflow, values: PageAnswers.cells(of: application.answers, fields: workflow.fields),
            problems: [:], submission: ConsoleSession.newToken(), context: context)
    }

    @Sendable func postMore(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let (application, workflow) = try await returned(context, member.openid)
        let body = try await MemberFormInput.read(request, context: context)
        let submission = try body.submission()
        let fields = Self.moreFields(workflow)
        var (answers, problems) = PageAnswers.read(
            body.inputs, form: Self.form(workflow, fields: fields), organisation: book.join.organisation)
        let photoCheck = body.photos(of: fields, requireRequired: false)
        problems.merge(photoCheck.problems) { first, _ in first }
        guard problems.isEmpty else {
            return try morePage(
                application, workflow, values: body.inputs, problems: problems, submission: submission,
                status: .unprocessableContent, error: "还有 \(problems.count) 项需要修改，请看标红的地方。", context: context)
        }
        // Photos sent before stay; the answer counts them all.
        let before = try await photos.photos(ofApplications: [application.id])[application.id] ?? []
        for field in fields where field.isPhoto {
            let count =
                before.filter { $0.field == field.key }.count
                + photoCheck.checked.filter { $0.field == field.key }.count
            if count > 0 { answers[field.key] = "\(count) 张照片" }
        }
        let completed = answers
        let updated: AidApplication
        do {
            updated = try await photos.keeping(photoCheck.checked) { staged in
                try await applications.resubmit(
                    application.id, answers: completed, photos: staged, for: member.openid,
                    key: "more:\(member.openid):\(submission)", book: book, at: shared.clock())
            }
        } catch let error as AdminActionError where error.kind == .conflict {
            return pages.message(
                error.message, status: .conflict, context: context,
                action: ("/m/applications/aid/\(application.id)", "查看申请"))
        }
        let level = workflow.levels[safe: updated.currentLevel]?.name ?? "审批"
        return try pages.render(
            "done", title: "已重新提交",
            DoneView(text: "已补充并重新提交（编号 \(updated.number)），回到「\(level)」继续办理。进展会通知您。"),
            context: context, back: "/m/applications/aid/\(updated.id)")
    }
}
