import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// The union's own forms (`Replies/forms.yaml`: 法律援助 and the others) as pages: the chat's
/// fields and checks, photos where the form asks for them (JPEG or PNG, checked by content, at
/// most 5 MB each), a draft shared with the chat, and one submission however often it is sent.
struct FormsController: MemberController {
    let shared: MemberShared

    struct ListView: Encodable {
        struct Item: Encodable {
            let href: String
            let title: String
            let intro: String?
            let membersOnly: Bool
        }
        let forms: [Item]
    }

    struct View: Encodable {
        let intro: String?
        /// Why the member cannot fill it (members only).
        let refusal: String?
        let form: FormPageView?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("forms", use: list)
        pages.get("forms/:name", use: show)
        pages.post("forms/:name", use: submit)
        pages.get("photos/:token", use: photo)
    }

    private var photos: FormPhotos { FormPhotos(store: shared.store, directory: shared.mediaDirectory) }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        _ = try member(context)
        let forms = book.forms.values.sorted {
            $0.source.path == $1.source.path ? $0.source.line < $1.source.line : $0.source.path < $1.source.path
        }
        let workflows = book.workflows.values.sorted {
            $0.source.path == $1.source.path ? $0.source.line < $1.source.line : $0.source.path < $1.source.path
        }
        let view = ListView(
            forms: workflows.map { workflow in
                ListView.Item(
                    href: AidPagesController.address(workflow), title: workflow.title, intro: workflow.intro,
                    membersOnly: workflow.applicants == .members)
            }
                + forms.map { form in
                    ListView.Item(
                        href: "/m/forms/" + ConsoleLinks.encoded(form.name), title: form.title, intro: form.intro,
                        membersOnly: form.membersOnly)
                })
        return try pages.render("forms", title: "办理服务", view, context: context, back: "/m/")
    }

    private func definition(_ context: GatewayRequestContext) throws -> FormDefinition {
        guard let name = context.parameters.get("name")?.removingPercentEncoding, let form = book.forms[name] else {
            throw HTTPError(.notFound)
        }
        return form
    }

    /// Why `openid` may not fill `form`, if they may not.
    /// The page that refuses `form` to `openid` (members only), if it is refused.
    private func refused(_ form: FormDefinition, _ openid: String, _ context: GatewayRequestContext) async throws
        -> Response?
    {
        guard form.membersOnly, try await !shared.desk.isMember(openid) else { return nil }
        let refusal = "「\(form.title)」仅限工会会员办理。已是会员请先绑定会员身份，还不是会员可以申请入会。"
        return try pages.render(
            "form", title: form.title, View(intro: nil, refusal: refusal, form: nil), status: .forbidden,
            context: context, back: "/m/forms")
    }

    @Sendable func show(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let form = try definition(context)
        if let refused = try await refused(form, member.openid, context) { return refused }
        let draft = shared.desk.pageDraft(of: form, for: member.openid)
        let view = FormPageView(
            form: form, organisation: book.join.organisation, values: draft, problems: [:], unitSearch: "",
            action: "/m/forms/" + ConsoleLinks.encoded(form.name), submission: ConsoleSession.newToken(),
            note: draft.isEmpty ? nil : "已带入您在对话框中填写的内容，请核对后提交。")
        return try pages.render(
            "form", title: form.title, View(intro: form.intro, refusal: nil, form: view), context: context,
            back: "/m/forms")
    }

    @Sendable func submit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let form = try definition(context)
        if let refused = try await refused(form, member.openid, context) { return refused }
        let body = try await MemberFormInput.read(request, context: context)
        let inputs = body.inputs
        let submission = try body.submission()
        var (answers, problems) = PageAnswers.read(inputs, form: form, organisation: book.join.organisation)
        // Photos: by content, size and count; a required photo field needs one.
        let photoCheck = body.photos(
            of: form.fields, requireRequired: inputs["_action"] != "save" && inputs["_action"] != "search")
        let checked = photoCheck.checked
        problems.merge(photoCheck.problems) { first, _ in first }
        answers.merge(photoCheck.answers) { _, photo in photo }
        let action = "/m/forms/" + ConsoleLinks.encoded(form.name)
        func page(
            problems: [String: String], notice: String? = nil, error: String? = nil, status: HTTPResponse.Status
        ) throws -> Response {
            let view = FormPageView(
                form: form, organisation: book.join.organisation, values: inputs, problems: problems,
                unitSearch: inputs["unit_q"] ?? "", action: action, submission: submission)
            return try pages.render(
                "form", title: form.title, View(intro: form.intro, refusal: nil, form: view), status: status,
                context: context, back: "/m/forms", error: error, notice: notice)
        }
        switch inputs["_action"] {
        case "search":
            return try page(problems: [:], status: .ok)
        case "save":
            let typed = answers.filter { key, _ in !form.fields.contains { $0.key == key && $0.isPhoto } }
            try await shared.desk.savePageDraft(form, answers: typed, for: member.openid, at: shared.clock())
            return try page(
                problems: [:], notice: "已暂存（照片需要提交时再选择）。可以稍后回到这里继续，也可以在公众号对话框接着填写。", status: .ok)
        default:
            guard problems.isEmpty else {
                return try page(
                    problems: problems, error: "还有 \(problems.count) 项需要修改，请看标红的地方。", status: .unprocessableContent)
            }
            let reply = try await photos.keeping(checked) { staged in
                try await shared.desk.submitPage(
                    form, answers: answers, photos: staged, for: member.openid,
                    key: "page:\(member.openid):\(submission)", book: book, at: shared.clock())
            }
            return try pages.render("done", title: "已提交", DoneView(text: reply), context: context, back: "/m/forms")
        }
    }

    /// A photo the member sent, shown back to them only.
    @Sendable func photo(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        do {
            return AdminRoutes.mediaResponse(
                try await photos.photo(context.parameters.get("token") ?? "", member: member.openid))
        } catch is AdminActionError {
            throw HTTPError(.notFound)
        }
    }
}
