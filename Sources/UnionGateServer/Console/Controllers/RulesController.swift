import Foundation
import HTTPTypes
import Hummingbird
import ReplyRules
import UnionServices

/// 自动回复: the rules and their files; a file edited with a chat preview, checked as
/// `uniongate check` checks and saved atomically with its history; one keyword rule edited in a
/// form.
struct RulesController: ConsoleController {
    let shared: ConsoleShared

    struct ListView: Encodable {
        struct File: Encodable {
            let name: String
            let id: Int
        }
        struct Row: Encodable {
            let name: String
            let trigger: String
            let mode: String
            let reply: String
            let hits: Int
            let file: String
            let line: Int
            let formable: Bool
        }
        let files: [File]
        let rows: [Row]
    }

    /// What both editors show beside the text: problems, the preview, whether saving is allowed.
    struct Check: Encodable {
        let problems: [ProblemLine]
        let `try`: String
        let previewed: Bool
        let answer: String?
        let canEdit: Bool
    }

    struct FileView: Encodable {
        struct Line: Encodable {
            let number: Int
            let text: String
            let bad: Bool
        }
        struct Version: Encodable {
            let id: Int
            let savedBy: String
            let savedAt: String
            let note: String?
        }
        let name: String
        let text: String
        let base: String
        let lines: [Line]
        let history: [Version]
        let check: Check
    }

    struct RuleView: Encodable {
        let file: String
        let line: Int
        let base: String
        let ruleName: String
        let keywords: String
        let modes: [Option]
        let reply: String
        let check: Check
    }

    struct FileForm: Decodable {
        var name: String?
        var text: String?
        var base: String?
        var note: String?
        var `try`: String?
        var action: String?
    }

    struct RuleFormFields: Decodable {
        var file: String?
        var line: Int?
        var base: String?
        var ruleName: String?
        var keywords: String?
        var match: String?
        var reply: String?
        var `try`: String?
        var action: String?
        enum CodingKeys: String, CodingKey {
            case file, line, base, keywords, match, reply, `try`, action
            case ruleName = "rule_name"
        }
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("rules", use: list)
        pages.get("rules/file", use: file)
        pages.post("rules/file", use: saveFile)
        pages.post("rules/restore/:id", use: restore)
        pages.get("rules/edit", use: ruleForm)
        pages.post("rules/edit", use: saveRuleForm)
    }

    private var editor: RulesEditor { RulesEditor(rules: rules, store: store) }
    private var folder: String { rules.directory.hasSuffix("/") ? rules.directory : rules.directory + "/" }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let hits = shared.metrics.hitsByRule
        let files = (try? editor.files()) ?? []
        let view = ListView(
            files: files.enumerated().map { ListView.File(name: $0.element, id: $0.offset) },
            rows: book.rules.map { rule in
                let (trigger, mode) = RuleDescriptions.describe(rule.trigger)
                let file =
                    rule.source.path.hasPrefix(folder)
                    ? String(rule.source.path.dropFirst(folder.count)) : rule.source.path
                // The form edits keyword rules with one text reply; the others open in the file.
                var formable = false
                if case .keywords = rule.trigger, rule.replies.count == 1, case .text = rule.replies[0] {
                    formable = !rule.source.path.isEmpty
                }
                return ListView.Row(
                    name: rule.name, trigger: trigger, mode: mode,
                    reply: String(RuleDescriptions.describe(rule.replies).prefix(80)), hits: hits[rule.name] ?? 0,
                    file: file, line: rule.source.line, formable: formable)
            })
        return try pages.render("rules", title: "自动回复", view, context: context)
    }

    @Sendable func file(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let query = try ConsoleQuery(request)
        let name = query.name ?? ""
        let saved = try editor.text(of: name)
        let add = query.add ?? ""
        return try await fileEditor(
            context, name: name, text: add.isEmpty ? saved : RuleDescriptions.appendingRule(for: add, to: saved),
            base: RulesEditor.fingerprint(saved), problems: [], try: add, answer: nil)
    }

    private func fileEditor(
        _ context: GatewayRequestContext, name: String, text: String, base: String, problems: [RuleProblem],
        try message: String, answer: String?, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let actor = try context.actor()
        let path = folder + name
        let badLines = Set(problems.filter { $0.path == path }.map(\.line))
        let history = try await editor.history(of: name)
        let view = FileView(
            name: name, text: text, base: base,
            lines: text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
                FileView.Line(number: $0.offset + 1, text: String($0.element), bad: badLines.contains($0.offset + 1))
            },
            history: history.map {
                FileView.Version(id: $0.id, savedBy: $0.savedBy, savedAt: local($0.savedAt), note: $0.note)
            },
            check: check(actor, problems: problems.map(problemLine), try: message, answer: answer))
        return try pages.render("ruleFile", title: "编辑 \(name)", view, status: status, context: context)
    }

    private func check(_ actor: Principal, problems: [ProblemLine], try message: String, answer: String?) -> Check {
        Check(
            problems: problems, try: message, previewed: answer != nil, answer: answer,
            canEdit: actor.may(.editRules) && actor.scope == .everything)
    }

    private func problemLine(_ problem: RuleProblem) -> ProblemLine {
        let file =
            problem.path.hasPrefix(rules.directory)
            ? String(problem.path.dropFirst(rules.directory.count)).trimmingCharacters(
                in: CharacterSet(charactersIn: "/")) : problem.path
        return ProblemLine(
            where: "\(file) 第 \(problem.line) 行", line: problem.line,
            message: problem.severity == .error ? problem.message : "提醒：\(problem.message)")
    }

    @Sendable func saveFile(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = try await request.decode(as: FileForm.self, context: context)
        let name = form.name ?? ""
        // Browsers send CRLF line ends from a textarea; the files keep LF.
        let text = (form.text ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        let message = (form.try ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let base = form.base ?? ""
        let now = clock()
        if form.action == "save" {
            do {
                let version = try await editor.save(
                    name, text: text, base: form.base, note: form.note.flatMap { $0.isEmpty ? nil : $0 }, by: actor,
                    at: now)
                return pages.redirect(
                    "/admin/rules/file?name=\(ConsoleLinks.encoded(name))", flash: "已保存（版本 \(version.id)），新规则已生效。")
            } catch let failed as RulesEditor.CheckFailed {
                return try await fileEditor(
                    context, name: name, text: text, base: base, problems: RuleDescriptions.problems(failed.result),
                    try: message, answer: nil, status: .unprocessableContent)
            }
        }
        // A preview: what the account would answer with the text as it is in the editor.
        var answer: String?
        var problems: [RuleProblem] = []
        if !message.isEmpty {
            switch try await editor.preview(name, text: text, messages: [message], asMember: true, at: now) {
            case .success(let answers): answer = answers.first ?? ""
            case .failure(let failed): problems = RuleDescriptions.problems(failed.result)
            }
        }
        return try await fileEditor(
            context, name: name, text: text, base: base, problems: problems, try: message, answer: answer,
            status: problems.isEmpty ? .ok : .unprocessableContent)
    }

    @Sendable func restore(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        do {
            let version = try await editor.restore(id, by: actor, at: clock())
            return pages.redirect(
                "/admin/rules/file?name=\(ConsoleLinks.encoded(version.file))",
                flash: "已恢复到版本 \(id)（保存为版本 \(version.id)），已生效。")
        } catch let failed as RulesEditor.CheckFailed {
            let version = try await editor.version(id)
            return try await fileEditor(
                context, name: version?.file ?? "", text: version?.text ?? "", base: "",
                problems: RuleDescriptions.problems(failed.result), try: "", answer: nil, status: .unprocessableContent)
        }
    }

    /// The rule form: one keyword rule's name, keywords, match mode and reply, changed in its
    /// file's text (comments and other keys kept) and saved as the file editor saves.
    @Sendable func ruleForm(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let query = try ConsoleQuery(request)
        let file = query.file ?? ""
        let line = query.line.flatMap { Int($0) } ?? 0
        let text = try editor.text(of: file)
        let form: RuleForm
        do {
            form = try RuleForm.read(text, line: line)
        } catch let unsupported as RuleForm.Unsupported {
            return pages.redirect(
                "/admin/rules/file?name=\(ConsoleLinks.encoded(file))#line-\(line)", flash: unsupported.description)
        }
        return try ruleFormPage(
            context, file: file, line: line, form: form, base: RulesEditor.fingerprint(text), problems: [], try: "",
            answer: nil)
    }

    private func ruleFormPage(
        _ context: GatewayRequestContext, file: String, line: Int, form: RuleForm, base: String,
        problems: [RuleProblem], try message: String, answer: String?, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let actor = try context.actor()
        let modes: [(String, String)] = [
            (MatchMode.exact.rawValue, "完全一致"), (MatchMode.contains.rawValue, "包含关键词"),
            (MatchMode.prefix.rawValue, "以关键词开头"), (MatchMode.regex.rawValue, "正则表达式"),
        ]
        let view = RuleView(
            file: file, line: line, base: base, ruleName: form.name, keywords: form.keywords.joined(separator: "\n"),
            modes: Option.list(modes, selected: form.match.rawValue), reply: form.reply,
            check: check(
                actor,
                problems: problems.map {
                    ProblemLine(where: "\(file) 第 \($0.line) 行", line: $0.line, message: $0.message)
                },
                try: message, answer: answer))
        return try pages.render("ruleForm", title: "编辑规则「\(form.name)」", view, status: status, context: context)
    }

    @Sendable func saveRuleForm(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let fields = try await request.decode(as: RuleFormFields.self, context: context)
        let file = fields.file ?? ""
        let line = fields.line ?? 0
        let lines = { (value: String?) in (value ?? "").replacingOccurrences(of: "\r\n", with: "\n") }
        let form = RuleForm(
            name: (fields.ruleName ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            keywords: lines(fields.keywords).split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            match: MatchMode(rawValue: fields.match ?? "") ?? .exact,
            reply: lines(fields.reply))
        let message = (fields.try ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock()
        let base = fields.base ?? ""
        let page = { (problems: [RuleProblem], answer: String?, status: HTTPResponse.Status) in
            try self.ruleFormPage(
                context, file: file, line: line, form: form, base: base, problems: problems, try: message,
                answer: answer, status: status)
        }
        if form.name.isEmpty || form.keywords.isEmpty || form.reply.trimmingCharacters(in: .whitespaces).isEmpty {
            return try page(
                [RuleProblem(path: file, line: line, message: "规则名称、关键词和回复都要填写")], nil, .unprocessableContent)
        }
        let text: String
        do {
            text = try form.apply(to: try editor.text(of: file), line: line)
        } catch let unsupported as RuleForm.Unsupported {
            return try page(
                [RuleProblem(path: file, line: line, message: unsupported.description)], nil, .unprocessableContent)
        }
        if fields.action == "save" {
            do {
                let version = try await editor.save(
                    file, text: text, base: base, note: "表单编辑规则「\(form.name)」", by: actor, at: now)
                return pages.redirect("/admin/rules", flash: "已保存（版本 \(version.id)），新规则已生效。")
            } catch let failed as RulesEditor.CheckFailed {
                return try page(RuleDescriptions.problems(failed.result), nil, .unprocessableContent)
            }
        }
        guard !message.isEmpty else { return try page([], nil, .ok) }
        switch try await editor.preview(file, text: text, messages: [message], asMember: true, at: now) {
        case .success(let answers): return try page([], answers.first ?? "", .ok)
        case .failure(let failed): return try page(RuleDescriptions.problems(failed.result), nil, .unprocessableContent)
        }
    }
}

/// How the console describes rules in Chinese, and a new rule for a question nobody answered.
enum RuleDescriptions {
    static func describe(_ trigger: Trigger) -> (String, String) {
        switch trigger {
        case .keywords(let words, let mode, _):
            let modes: [MatchMode: String] = [.exact: "完全一致", .contains: "包含", .prefix: "开头是", .regex: "正则"]
            return (words.joined(separator: "、"), modes[mode] ?? mode.rawValue)
        case .subscribe(let scene): return (scene.map { "关注（二维码 \($0)）" } ?? "关注", "事件")
        case .scan(let scene): return (scene.map { "扫码 \($0)" } ?? "扫码", "事件")
        case .click(let key): return ("菜单 \(key)", "菜单点击")
        case .view(let url): return (url.map { "打开 \($0)" } ?? "打开链接", "菜单链接")
        }
    }

    static func describe(_ replies: [ReplyTemplate]) -> String {
        replies.map { reply -> String in
            switch reply {
            case .text(let template):
                return template.segments.map { segment -> String in
                    switch segment {
                    case .literal(let text): text
                    case .placeholder(let placeholder): "{\(placeholder)}"
                    }
                }.joined()
            case .articles(let articles):
                return "图文：" + articles.map { "\($0.title.segments.count > 0 ? "卡片" : "")" }.joined()
            case .service(let action): return "服务：\(action)"
            default: return "\(reply)"
            }
        }.joined(separator: " / ")
    }

    /// `text` with a new keyword rule for `keyword` at its end, for staff to fill in.
    static func appendingRule(for keyword: String, to text: String) -> String {
        let quoted =
            "\""
            + keyword.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: " ") + "\""
        let rule = "  - name: \(quoted)\n    keywords: [\(quoted)]\n    reply: 请在这里写回复\n"
        if text.isEmpty { return "# 后台添加的常见问题\n\nrules:\n" + rule }
        return text + (text.hasSuffix("\n") ? "" : "\n") + rule
    }

    /// A check's errors and failed examples as problems with their lines.
    static func problems(_ result: RulesChecker.Result) -> [RuleProblem] {
        result.problems.filter { $0.severity == .error }
            + result.failures.map { RuleProblem(path: $0.source.path, line: $0.source.line, message: $0.message) }
    }
}
