import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 入会 on one page: the chat form's fields, checks and unit search, the same application and
/// approval. What the member began in the chat is filled in; 「暂存」 keeps the page's answers
/// where the chat goes on with them.
struct JoinPageController: MemberController {
    let shared: MemberShared

    struct View: Encodable {
        /// The live application's status, instead of the form.
        let status: String?
        let form: FormPageView?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("join", use: show)
        pages.post("join", use: submit)
    }

    /// The status of a live application (pending or approved), which the form gives way to.
    private func liveStatus(_ openid: String) async throws -> String? {
        guard let application = try await shared.desk.latestApplication(of: openid), application.status != .rejected
        else { return nil }
        return JoinPageController.status(application)
    }

    static func status(_ application: MembershipApplication) -> String {
        switch application.status {
        case .pending: "您的入会申请（编号 \(application.number)）正在审核中，审核结果会通过公众号通知您。"
        case .approved: "您已是工会会员（申请编号 \(application.number)）。"
        case .rejected: "您的入会申请（编号 \(application.number)）未通过，原因：\(application.reason ?? "未说明")。可以重新申请。"
        }
    }

    @Sendable func show(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        if let status = try await liveStatus(member.openid) {
            return try pages.render(
                "join", title: "入会申请", View(status: status, form: nil), context: context, back: "/m/")
        }
        let form = book.join.form
        let draft = shared.desk.pageDraft(of: form, for: member.openid)
        var note: String?
        if !draft.filter({ !$0.key.hasPrefix("_") }).isEmpty {
            note = "已带入您在对话框中填写的内容，请核对后提交。"
        }
        if let rejected = try await shared.desk.latestApplication(of: member.openid) {
            note = Self.status(rejected)
        }
        let view = FormPageView(
            form: form, organisation: book.join.organisation, values: draft, problems: [:], unitSearch: "",
            action: "/m/join", submission: ConsoleSession.newToken(), note: note)
        return try pages.render("join", title: "入会申请", View(status: nil, form: view), context: context, back: "/m/")
    }

    @Sendable func submit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let inputs = try await request.decode(as: [String: String].self, context: context)
        if let status = try await liveStatus(member.openid) {
            return try pages.render(
                "join", title: "入会申请", View(status: status, form: nil), context: context, back: "/m/")
        }
        let book = book
        let form = book.join.form
        let organisation = book.join.organisation
        let submission = inputs["_submission"] ?? ""
        guard submission.count == 64, submission.allSatisfy(\.isHexDigit) else { throw HTTPError(.badRequest) }
        func page(problems: [String: String], notice: String? = nil, error: String? = nil, status: HTTPResponse.Status)
            throws -> Response
        {
            let view = FormPageView(
                form: form, organisation: organisation, values: inputs, problems: problems,
                unitSearch: inputs["unit_q"] ?? "", action: "/m/join", submission: submission)
            return try pages.render(
                "join", title: "入会申请", View(status: nil, form: view), status: status, context: context, back: "/m/",
                error: error, notice: notice)
        }
        let (answers, problems) = PageAnswers.read(inputs, form: form, organisation: organisation)
        switch inputs["_action"] {
        case "search":
            return try page(problems: [:], status: .ok)
        case "save":
            try await shared.desk.savePageDraft(form, answers: answers, for: member.openid, at: shared.clock())
            return try page(
                problems: [:], notice: "已暂存。可以稍后回到这里继续，也可以在公众号对话框回复「入会」接着填写。", status: .ok)
        default:
            guard problems.isEmpty else {
                return try page(
                    problems: problems, error: "还有 \(problems.count) 项需要修改，请看标红的地方。", status: .unprocessableContent)
            }
            let reply = try await shared.desk.submitPage(
                form, answers: answers, for: member.openid, key: "page:\(member.openid):\(submission)", book: book,
                at: shared.clock())
            return try pages.render(
                "done", title: "已提交", DoneView(text: reply), context: context, back: "/m/")
        }
    }
}

/// What a page says once a form is stored: the receipt, and where to follow it.
struct DoneView: Encodable {
    let text: String
}
