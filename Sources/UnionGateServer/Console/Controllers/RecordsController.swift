import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 合理化建议 and 申请/表单: what members sent, each with its status and the union's reply, on
/// one page shape (`console/records`), answered and exported the same way.
struct RecordsController: ConsoleController {
    let shared: ConsoleShared

    enum Kind {
        case suggestions, forms

        var path: String { self == .suggestions ? "/admin/suggestions" : "/admin/forms" }
        var title: String { self == .suggestions ? "合理化建议" : "申请/表单" }
    }

    struct View: Encodable {
        struct FormChoice: Encodable {
            let name: String
            let title: String
            let selected: Bool
        }
        struct Field: Encodable {
            let label: String
            let value: String
        }
        struct Row: Encodable {
            let id: Int
            let number: String
            let unit: String
            let createdAt: String
            let status: String
            let statusName: String
            var fields: [Field] = []
            var content: String?
            let reply: String?
            let actionPath: String
            let choices: [Option]
            /// The photos sent with a form on the member pages, by their address.
            var photos: [String] = []
        }
        let listPath: String
        let forms: [FormChoice]
        let statuses: [Option]
        let units: [UnitOption]
        let q: String
        let exportPath: String?
        let canDecide: Bool
        let rows: [Row]
        let pager: Pager
    }

    struct AnswerForm: Decodable {
        var status: String?
        var reply: String?
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        for kind in [Kind.suggestions, .forms] {
            let path = String(kind.path.dropFirst("/admin/".count))
            pages.get(RouterPath(path)) { request, context in try await list(kind, request, context) }
            if kind == .forms {
                pages.get("photos/:token") { _, context in
                    AdminRoutes.mediaResponse(
                        try await FormPhotos(store: store, directory: shared.mediaDirectory).photo(
                            context.parameters.get("token") ?? "", for: try context.actor()))
                }
            }
            pages.post(RouterPath(path + "/:id")) { request, context in try await answer(kind, request, context) }
            pages.get(RouterPath(path + "/export")) { request, context in try await export(kind, request, context) }
        }
    }

    private func list(_ kind: Kind, _ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = try ConsoleQuery(request)
        let status = query.status ?? "all"
        let (scope, unit) = try scope(for: actor, unit: query.unit)
        let pageRequest = try ConsoleLinks.pageRequest(query)
        let rows: [View.Row]
        let pager: Pager
        var forms: [View.FormChoice] = []
        var statusPairs: [(String, String)]
        var form: String?
        switch kind {
        case .suggestions:
            statusPairs = Suggestion.Status.allCases.map { ($0.rawValue, $0.chinese) }
            let page = try await SuggestionBox(store: store).page(
                RecordFilter(scope: scope, status: Suggestion.Status(rawValue: status)?.rawValue, search: query.q),
                request: pageRequest)
            rows = page.items.map { suggestion in
                var row = View.Row(
                    id: suggestion.id, number: suggestion.number, unit: unitName(suggestion.unitCode),
                    createdAt: local(suggestion.createdAt), status: suggestion.status.rawValue,
                    statusName: suggestion.status.chinese, reply: suggestion.reply,
                    actionPath: "/admin/suggestions/\(suggestion.id)",
                    choices: Option.list(statusPairs, selected: suggestion.status.rawValue))
                row.content = suggestion.content
                return row
            }
            pager = ConsoleLinks.pager(page, request)
        case .forms:
            statusPairs = FormSubmission.Status.allCases.map { ($0.rawValue, $0.chinese) }
            let sorted = book.forms.sorted { $0.key < $1.key }
            let name = query.form.flatMap { book.forms[$0] == nil ? nil : $0 } ?? sorted.first?.key ?? ""
            form = name
            forms = sorted.map { View.FormChoice(name: $0.key, title: $0.value.title, selected: $0.key == name) }
            let page = try await FormSubmissions(store: store).page(
                form: name,
                RecordFilter(
                    scope: scope, status: FormSubmission.Status(rawValue: status)?.rawValue, search: query.q),
                request: pageRequest)
            let definition = book.forms[name]
            let labels = Dictionary(
                (definition?.fields ?? []).map { ($0.key, $0.label) }, uniquingKeysWith: { first, _ in first })
            let order = (definition?.fields ?? []).map(\.key)
            let photos = try await FormPhotos(store: store, directory: shared.mediaDirectory)
                .photos(ofSubmissions: page.items.map(\.id))
            rows = page.items.map { submission in
                let keys =
                    order.filter { submission.answers[$0] != nil }
                    + submission.answers.keys.filter { !order.contains($0) }.sorted()
                var row = View.Row(
                    id: submission.id, number: submission.number, unit: unitName(submission.unitCode),
                    createdAt: local(submission.createdAt), status: submission.status.rawValue,
                    statusName: submission.status.chinese, reply: submission.reply,
                    actionPath: "/admin/forms/\(submission.id)",
                    choices: Option.list(statusPairs, selected: submission.status.rawValue))
                row.fields = keys.map { View.Field(label: labels[$0] ?? $0, value: submission.answers[$0] ?? "") }
                row.photos = (photos[submission.id] ?? []).map { "/admin/photos/" + $0.token }
                return row
            }
            pager = ConsoleLinks.pager(page, request)
        }
        let view = View(
            listPath: kind.path, forms: forms, statuses: Option.list([("all", "全部")] + statusPairs, selected: status),
            units: unitOptions(for: actor, selected: unit), q: query.q ?? "",
            exportPath: actor.may(.export)
                ? ConsoleLinks.exportLink(kind.path + "/export", status: status, query, form: form) : nil,
            canDecide: actor.may(.decide), rows: rows, pager: pager)
        return try pages.render("records", title: kind.title, view, context: context)
    }

    /// A new status and reply; the member is notified by the service.
    private func answer(_ kind: Kind, _ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let form = try await request.decode(as: AnswerForm.self, context: context)
        let reply = (form.reply ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        switch kind {
        case .suggestions:
            guard let status = Suggestion.Status(rawValue: form.status ?? "") else {
                throw AdminActionError(.invalid, "请选择状态。")
            }
            let suggestion = try await SuggestionBox(store: store).update(
                id, status: status, reply: reply.isEmpty ? nil : reply, by: actor, at: clock())
            return pages.redirect(
                "/admin/suggestions#record-\(suggestion.id)",
                flash: "建议 \(suggestion.number) 已改为「\(suggestion.status.chinese)」，已通知会员。")
        case .forms:
            guard let status = FormSubmission.Status(rawValue: form.status ?? "") else {
                throw AdminActionError(.invalid, "请选择状态。")
            }
            let submission = try await FormSubmissions(store: store).update(
                id, status: status, reply: reply.isEmpty ? nil : reply, title: nil, by: actor, at: clock())
            let title = book.forms[submission.form]?.title ?? submission.form
            return pages.redirect(
                "/admin/forms?form=\(ConsoleLinks.encoded(submission.form))#record-\(submission.id)",
                flash: "「\(title)」\(submission.number) 已改为「\(submission.status.chinese)」，已通知会员。")
        }
    }

    /// The list as filtered, as CSV (UTF-8 with BOM, for Excel), for roles that may export
    /// personal data; audited, as the API's exports are.
    private func export(_ kind: Kind, _ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        try actor.require(.export)
        let query = try ConsoleQuery(request)
        let (scope, unit) = try scope(for: actor, unit: query.unit)
        let filter = RecordFilter(
            scope: scope, status: query.status.flatMap { $0 == "all" ? nil : $0 }, search: query.q)
        let (text, name, action): (String, String, String)
        switch kind {
        case .suggestions:
            let list = try await SuggestionBox(store: store).page(filter, request: .all).items
            (text, name, action) = (
                CSVExport.suggestions(list, utcOffsetMinutes: offset), "suggestions", "suggestions.export"
            )
        case .forms:
            let form = query.form ?? ""
            let list = try await FormSubmissions(store: store).page(form: form, filter, request: .all).items
            (text, name, action) = (
                CSVExport.submissions(list, form: book.forms[form], utcOffsetMinutes: offset), "form-\(form)",
                "form.export"
            )
        }
        try await auditExport(actor, action: action, record: name, unit: unit, query: ExportQuery.values(of: query))
        return AdminRoutes.csv(text, name: name)
    }
}
