import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Logging
import Mustache
import ReplyRules
import UnionServices
import WeChatAPI

/// The web console under `/admin/`: server-rendered pages for union office staff, in Chinese,
/// on a phone or a desktop. Every page and action goes through the same services and scoping as
/// the admin API (the services check roles and units; the pages only hide what a role cannot do).
///
/// Signing in: a staff account's name and password, or `root` with `UNIONGATE_ADMIN_TOKEN`. The
/// session cookie is `HttpOnly`, `SameSite=Strict`, `Secure` when the public URL is https, and
/// expires after `idle` seconds without a request. Every form carries the session's CSRF token.
/// Failed sign-ins are slowed, then refused for a while, per client address, and each is audited.
struct ConsoleRoutes: Sendable {
    let store: UnionStore
    let rules: LiveRules
    let secrets: GatewaySecrets
    let staff: StaffDirectory
    let attempts: AdminAttempts
    let metrics: GatewayMetrics
    let clock: @Sendable () -> Int64
    let pause: @Sendable (Duration) async -> Void
    let secureCookie: Bool
    /// Seconds without a request after which a session ends.
    let idle: Int64
    let logger: Logger
    let pages: ConsolePages
    /// WeChat's API, when the gateway has an AppID and AppSecret (menu publishing).
    let wechat: WeChatAPIClient?
    let publicURL: String?
    /// Where the inbox's media files are.
    let mediaDirectory: String
    /// The overview, computed at most every 10 s per part of the tree.
    let overviews = OverviewCache()

    /// The session cookie's name (path `/admin`).
    static let cookieName = "ug_console"
    /// The sign-in form's own token cookie (before there is a session).
    static let loginCookieName = "ug_login"
    /// The largest form accepted (a rule file is at most a few hundred KB).
    static let formLimit = 2 * 1024 * 1024

    func register(on router: Router<GatewayRequestContext>) {
        router.get("admin/static/console.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: ConsoleTemplates.stylesheet)))
        }
        let sessions = SessionMiddleware<GatewayRequestContext>(
            storage: StoreSessionDriver(sessions: ConsoleSessions(store: store), unixTime: clock, logger: logger),
            configuration: .init(
                sessionCookieParameters: .init(
                    name: Self.cookieName, path: "/admin", secure: secureCookie, sameSite: .strict),
                keyPrefix: "", defaultSessionExpiration: .seconds(idle)))
        let console = router.group("admin").add(middleware: sessions)
        console.get("login", use: loginPage)
        console.post("login", use: signIn)
        let gate = ConsoleGate(
            staff: staff, organisation: { rules.engine.book.join.organisation }, idle: idle, pages: pages,
            logger: logger)
        let pages = console.group().add(middleware: gate)
        pages.get("", use: overview)
        pages.post("logout", use: signOut)
        pages.get("password") { _, context in passwordForm(context, error: nil, status: .ok) }
        pages.post("password", use: changePassword)
        pages.get("members", use: members)
        pages.post("members/:id/approve") { request, context in
            try await decide(request, context, approve: true)
        }
        pages.post("members/:id/reject") { request, context in
            try await decide(request, context, approve: false)
        }
        pages.get("members/export") { request, context in try await export(request, context, kind: .members) }
        pages.get("suggestions", use: suggestionList)
        pages.post("suggestions/:id", use: answerSuggestion)
        pages.get("suggestions/export") { request, context in try await export(request, context, kind: .suggestions) }
        pages.get("forms", use: submissionList)
        pages.post("forms/:id", use: answerSubmission)
        pages.get("forms/export") { request, context in try await export(request, context, kind: .submissions) }
        pages.get("cases", use: cases)
        pages.get("cases/:id", use: caseThread)
        pages.get("cases/:id/media/:message", use: caseMedia)
        pages.post("cases/:id/reply", use: replyToCase)
        pages.post("cases/:id/close", use: closeCase)
        pages.post("cases/:id/assign", use: assignCase)
        pages.get("rules", use: ruleList)
        pages.get("rules/file", use: ruleFile)
        pages.post("rules/file", use: saveRuleFile)
        pages.post("rules/restore/:id", use: restoreRuleVersion)
        pages.get("rules/edit", use: ruleForm)
        pages.post("rules/edit", use: saveRuleForm)
        pages.get("menu", use: menuPage)
        pages.post("menu/publish", use: publishMenu)
        pages.get("qr", use: qrCodes)
        pages.get("qr/:code/poster", use: qrPoster)
        pages.get("outbox", use: outbox)
        pages.get("staff") { request, context in try await staffList(request, context: context) }
        pages.post("staff", use: addStaff)
        pages.post("staff/reset", use: resetStaffPassword)
        pages.post("staff/disable", use: disableStaff)
        pages.get("staff/edit", use: staffEditPage)
        pages.post("staff/change", use: changeStaff)
        pages.get("audit", use: auditLog)
    }

    private var book: RuleBook { rules.engine.book }
    private var organisation: Organisation { book.join.organisation }
    private var offset: Int { book.settings.utcOffsetMinutes }

    // MARK: Signing in and out

    @Sendable func loginPage(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        if context.sessions.session != nil { return Self.redirect("/admin/") }
        return loginForm(next: Self.safeNext(request.uri.queryParameters.get("next")), account: "", error: nil)
    }

    /// The sign-in form, with a fresh token in its own cookie (a double submit: a page elsewhere
    /// can neither read the cookie nor send it, SameSite=Strict).
    private func loginForm(next: String, account: String, error: String?, status: HTTPResponse.Status = .ok)
        -> Response
    {
        let token = ConsoleSession.newToken()
        var response = pages.render(
            "login", status: status,
            ["title": "登录", "loginToken": token, "next": next, "typedAccount": account, "error": error as Any])
        response.headers[values: .setCookie].append(
            Cookie(
                name: Self.loginCookieName, value: token, maxAge: 3600, path: "/admin", secure: secureCookie,
                httpOnly: true, sameSite: .strict
            ).description)
        return response
    }

    @Sendable func signIn(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        var request = request
        let form = try await ConsoleForm.read(&request, limit: 64 * 1024)
        let next = Self.safeNext(form["next"])
        let account = (form["account"] ?? "").trimmingCharacters(in: .whitespaces)
        guard let token = request.cookies[Self.loginCookieName]?.value, !token.isEmpty, form["_csrf"] == token else {
            return loginForm(next: next, account: account, error: "登录页已过期，请重新输入。", status: .forbidden)
        }
        let address = context.clientAddress
        if case .locked(let retryAfter) = attempts.admission(address) {
            var response = loginForm(
                next: next, account: account,
                error: "登录失败次数太多，请 \(max(1, (retryAfter + 59) / 60)) 分钟后再试。", status: .tooManyRequests)
            response.headers[.retryAfter] = String(retryAfter)
            return response
        }
        let password = form["password"] ?? ""
        var signedIn: String?
        if account == "root" {
            if secrets.isAdminToken(password) { signedIn = "root" }
        } else if StaffDirectory.isValidName(account), !password.isEmpty,
            let member = try await staff.member(named: account, password: password)
        {
            signedIn = member.name
        }
        let now = clock()
        guard let signedIn else {
            let penalty = attempts.failed(address)
            try await AuditLog.record(
                Principal(
                    name: account.isEmpty ? "?" : String(account.prefix(32)), role: .viewer, unit: nil,
                    scope: .units([])),
                action: "console.login_failed", record: "console",
                details: ["client": address, "failures": String(penalty.failures)],
                at: now, in: store)
            if penalty.log {
                logger.warning(
                    "console: wrong account or password",
                    metadata: ["client": "\(RefusalLog.clean(address, limit: 64))", "failures": "\(penalty.failures)"])
            }
            if penalty.delay > .zero { await pause(penalty.delay) }
            return loginForm(next: next, account: account, error: "账号或密码不正确。", status: .unauthorized)
        }
        attempts.succeeded(address)
        context.sessions.createSession(
            ConsoleSession(account: signedIn, csrf: ConsoleSession.newToken(), signedInAt: now),
            expiresIn: .seconds(idle))
        let principal: Principal =
            signedIn == "root"
            ? .root
            : (try await staff.member(named: signedIn)).map { .staff($0, in: organisation) } ?? .root
        try await AuditLog.record(
            principal, action: "console.login", record: "console", details: ["client": address], at: now, in: store)
        var response = Self.redirect(next)
        response.headers[values: .setCookie].append(
            Cookie(name: Self.loginCookieName, value: "", maxAge: 0, path: "/admin", httpOnly: true).description)
        return response
    }

    @Sendable func signOut(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        context.sessions.clearSession()
        var response = Self.redirect("/admin/login")
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func passwordForm(_ context: GatewayRequestContext, error: String?, status: HTTPResponse.Status)
        -> Response
    {
        let isRoot = context.principal?.name == "root"
        return pages.render(
            "password", status: status, context: context,
            ["title": "修改密码", "error": error as Any, "isRoot": isRoot])
    }

    @Sendable func changePassword(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard actor.name != "root" else {
            return passwordForm(context, error: "总管理员的密码是服务器的 UNIONGATE_ADMIN_TOKEN，在服务器上修改。", status: .badRequest)
        }
        let new = context.form["new"] ?? ""
        guard new == context.form["again"] else {
            return passwordForm(context, error: "两次输入的新密码不一样。", status: .badRequest)
        }
        do {
            try await staff.changeOwnPassword(actor.name, current: context.form["current"] ?? "", new: new, at: clock())
        } catch let error as AdminActionError {
            return passwordForm(
                context, error: error.message, status: error.kind == .forbidden ? .forbidden : .badRequest)
        }
        return pages.redirect("/admin/", flash: "密码已修改。")
    }

    // MARK: 概览

    @Sendable func overview(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let now = clock()
        let overview = try await overviews.overview(for: actor, at: now, utcOffsetMinutes: offset, in: store)
        var figures: [[String: Any]] = [
            [
                "label": "待审核入会", "today": overview.pendingApplications,
                "sub": "今日新申请 \(overview.applications.today)，30 天 \(overview.applications.month)",
                "alert": overview.pendingApplications > 0,
            ],
            ["label": "今日通过入会", "today": overview.approved.today, "sub": "30 天 \(overview.approved.month)"],
            ["label": "今日合理化建议", "today": overview.suggestions.today, "sub": "30 天 \(overview.suggestions.month)"],
            [
                "label": "待答复留言", "today": overview.casesOpen,
                "sub": "今日新留言 \(overview.cases.today)，30 天 \(overview.cases.month)",
            ],
            [
                "label": "已超期留言", "today": overview.casesOverdue, "sub": "超过答复期限仍未答复",
                "alert": overview.casesOverdue > 0,
            ],
        ]
        if let messages = overview.messages, let followers = overview.followers {
            figures.insert(
                ["label": "今日消息", "today": messages.today, "sub": "30 天 \(messages.month)"], at: 0)
            figures.insert(["label": "今日新关注", "today": followers.today, "sub": "30 天 \(followers.month)"], at: 1)
        }
        if let held = overview.noticesHeld {
            figures.append(["label": "需电话通知", "today": held, "sub": "微信发不出去的通知", "alert": held > 0])
        }
        let hits = metrics.hitsByRule.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(10)
        return pages.render(
            "overview", context: context,
            [
                "title": "概览", "figures": figures, "chart": Self.chart(overview.days),
                "unanswered": overview.unanswered.map {
                    [
                        "content": $0.content, "times": $0.times,
                        "encoded": $0.content.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "",
                    ] as [String: Any]
                },
                "canEdit": actor.may(.editRules) && actor.scope == .everything,
                "topRules": hits.map { ["name": $0.key, "hits": $0.value] as [String: Any] },
            ])
    }

    /// The last 30 days as stacked bars, inline SVG (no script, no external file).
    static func chart(_ days: [ConsoleOverview.Day]) -> String {
        let width = 600
        let height = 160
        let top = max(1, days.map { $0.applications + $0.suggestions + $0.cases }.max() ?? 1)
        let slot = Double(width - 30) / Double(max(days.count, 1))
        var svg =
            "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height + 20)\" role=\"img\" aria-label=\"近 30 天每日的入会申请、合理化建议和留言\">"
        svg +=
            "<text x=\"0\" y=\"10\">\(top)</text><line x1=\"28\" y1=\"\(height)\" x2=\"\(width)\" y2=\"\(height)\" stroke=\"#d8dee4\"/>"
        for (index, day) in days.enumerated() {
            let x = 30 + Double(index) * slot
            var y = Double(height)
            for (value, kind) in [
                (day.applications, "applications"), (day.suggestions, "suggestions"), (day.cases, "cases"),
            ]
            where value > 0 {
                let barHeight = Double(value) / Double(top) * Double(height - 14)
                y -= barHeight
                svg += String(
                    format:
                        "<rect class=\"bar %@\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%@ %d</title></rect>",
                    kind, x + 1, y, slot - 2, barHeight, day.date, value)
            }
            if index % 5 == 4 || index == days.count - 1 {
                svg += String(format: "<text x=\"%.1f\" y=\"%d\">%@</text>", x, height + 14, day.date)
            }
        }
        return svg + "</svg>"
    }

    // MARK: 入会审核

    @Sendable func members(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        let status = query.get("status") ?? "pending"
        let statusFilter = MembershipApplication.Status(rawValue: status)
        let (scope, unit) = try scope(for: actor, unit: query.get("unit"))
        let pageRequest = try Self.pageRequest(request)
        let page = try await MembershipRegistry(store: store).page(
            RecordFilter(scope: scope, status: statusFilter?.rawValue, search: query.get("q")), request: pageRequest)
        let canDecide = actor.may(.decide)
        let names = organisation.units
        return pages.render(
            "members", context: context,
            [
                "title": "入会审核",
                "statuses": Self.options(
                    [("pending", "待审核"), ("approved", "已通过"), ("rejected", "未通过"), ("all", "全部")], selected: status),
                "units": unitOptions(for: actor, selected: unit),
                "q": query.get("q") ?? "",
                "rows": page.items.map { application -> [String: Any] in
                    [
                        "id": application.id, "number": application.number, "name": application.name,
                        "phone": application.phone,
                        "unit": names[application.unitCode]?.name ?? application.unit,
                        "createdAt": local(application.createdAt), "status": application.status.rawValue,
                        "statusName": application.status.chinese, "reason": application.reason ?? "",
                        "pending": application.status == .pending,
                    ]
                },
                "canDecide": canDecide,
                "exportPath": actor.may(.export)
                    ? Self.exportLink("/admin/members/export", status: status, request) : nil as String? as Any,
            ].merging(Self.pager(page, request)) { first, _ in first })
    }

    private func decide(_ request: Request, _ context: GatewayRequestContext, approve: Bool) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let registry = MembershipRegistry(store: store)
        let now = clock()
        return try await pages.refusing(context) {
            let application: MembershipApplication
            if approve {
                application = try await registry.approve(id, by: actor, at: now)
            } else {
                let reason = (context.form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                guard !reason.isEmpty else { throw AdminActionError(.invalid, "请写明不通过的原因，会员会收到它。") }
                application = try await registry.reject(id, reason: reason, by: actor, at: now)
            }
            let notice = try await store.read { database in
                try await Outbox.list(to: application.openid, limit: 1, in: database).first
            }
            let shown = notice.map { visibleText(of: $0.bodies) }.flatMap { $0.isEmpty ? nil : $0 }
            let flash =
                "\(application.name)（\(application.number)）\(approve ? "已通过" : "未通过")。"
                + (shown.map { "已排队通知会员：「\($0)」" } ?? "")
            return pages.redirect("/admin/members", flash: flash)
        }
    }

    // MARK: 合理化建议, 申请/表单

    @Sendable func suggestionList(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        let status = query.get("status") ?? "all"
        return try await pages.refusing(context) {
            let (scope, unit) = try scope(for: actor, unit: query.get("unit"))
            let page = try await SuggestionBox(store: store).page(
                RecordFilter(
                    scope: scope, status: Suggestion.Status(rawValue: status)?.rawValue, search: query.get("q")),
                request: try Self.pageRequest(request))
            let statuses = Suggestion.Status.allCases.map { ($0.rawValue, $0.chinese) }
            return pages.render(
                "records", context: context,
                [
                    "title": "合理化建议", "listPath": "/admin/suggestions",
                    "statuses": Self.options(([("all", "全部")] + statuses), selected: status),
                    "units": unitOptions(for: actor, selected: unit), "q": query.get("q") ?? "",
                    "exportPath": actor.may(.export)
                        ? Self.exportLink("/admin/suggestions/export", status: status, request) : nil as String? as Any,
                    "canDecide": actor.may(.decide),
                    "rows": page.items.map { suggestion -> [String: Any] in
                        [
                            "id": suggestion.id, "number": suggestion.number, "content": suggestion.content,
                            "unit": organisation.units[suggestion.unitCode]?.name ?? suggestion.unitCode,
                            "createdAt": local(suggestion.createdAt), "status": suggestion.status.rawValue,
                            "statusName": suggestion.status.chinese, "reply": suggestion.reply ?? "",
                            "actionPath": "/admin/suggestions/\(suggestion.id)",
                            "choices": Self.options(statuses, selected: suggestion.status.rawValue),
                        ]
                    },
                ].merging(Self.pager(page, request)) { first, _ in first })
        }
    }

    @Sendable func answerSuggestion(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        return try await pages.refusing(context) {
            guard let status = Suggestion.Status(rawValue: context.form["status"] ?? "") else {
                throw AdminActionError(.invalid, "请选择状态。")
            }
            let reply = (context.form["reply"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let suggestion = try await SuggestionBox(store: store).update(
                id, status: status, reply: reply.isEmpty ? nil : reply, by: actor, at: clock())
            return pages.redirect(
                "/admin/suggestions#record-\(suggestion.id)",
                flash: "建议 \(suggestion.number) 已改为「\(suggestion.status.chinese)」，已通知会员。")
        }
    }

    @Sendable func submissionList(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        let forms = book.forms.sorted { $0.key < $1.key }
        let name = query.get("form").flatMap { book.forms[$0] == nil ? nil : $0 } ?? forms.first?.key ?? ""
        let status = query.get("status") ?? "all"
        return try await pages.refusing(context) {
            let (scope, unit) = try scope(for: actor, unit: query.get("unit"))
            let page = try await FormSubmissions(store: store).page(
                form: name,
                RecordFilter(
                    scope: scope, status: FormSubmission.Status(rawValue: status)?.rawValue, search: query.get("q")),
                request: try Self.pageRequest(request))
            let definition = book.forms[name]
            let statuses = FormSubmission.Status.allCases.map { ($0.rawValue, $0.chinese) }
            return pages.render(
                "records", context: context,
                [
                    "title": "申请/表单", "listPath": "/admin/forms",
                    "forms": forms.map {
                        ["name": $0.key, "title": $0.value.title, "selected": $0.key == name] as [String: Any]
                    },
                    "statuses": Self.options(([("all", "全部")] + statuses), selected: status),
                    "units": unitOptions(for: actor, selected: unit), "q": query.get("q") ?? "",
                    "exportPath": actor.may(.export)
                        ? Self.exportLink("/admin/forms/export", status: status, request, form: name)
                        : nil as String? as Any,
                    "canDecide": actor.may(.decide),
                    "rows": page.items.map { submission -> [String: Any] in
                        let labels = Dictionary(
                            (definition?.fields ?? []).map { ($0.key, $0.label) },
                            uniquingKeysWith: { first, _ in first })
                        let order = (definition?.fields ?? []).map(\.key)
                        let keys =
                            order.filter { submission.answers[$0] != nil }
                            + submission.answers.keys.filter { !order.contains($0) }.sorted()
                        return [
                            "id": submission.id, "number": submission.number,
                            "fields": keys.map { ["label": labels[$0] ?? $0, "value": submission.answers[$0] ?? ""] },
                            "unit": organisation.units[submission.unitCode]?.name ?? submission.unitCode,
                            "createdAt": local(submission.createdAt), "status": submission.status.rawValue,
                            "statusName": submission.status.chinese, "reply": submission.reply ?? "",
                            "actionPath": "/admin/forms/\(submission.id)",
                            "choices": Self.options(statuses, selected: submission.status.rawValue),
                        ]
                    },
                ].merging(Self.pager(page, request)) { first, _ in first })
        }
    }

    @Sendable func answerSubmission(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        return try await pages.refusing(context) {
            guard let status = FormSubmission.Status(rawValue: context.form["status"] ?? "") else {
                throw AdminActionError(.invalid, "请选择状态。")
            }
            let reply = (context.form["reply"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let submission = try await FormSubmissions(store: store).update(
                id, status: status, reply: reply.isEmpty ? nil : reply, title: nil, by: actor, at: clock())
            let title = book.forms[submission.form]?.title ?? submission.form
            let encoded = submission.form.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return pages.redirect(
                "/admin/forms?form=\(encoded)#record-\(submission.id)",
                flash: "「\(title)」\(submission.number) 已改为「\(submission.status.chinese)」，已通知会员。")
        }
    }

    enum ExportKind { case members, suggestions, submissions }

    /// A CSV of a list as filtered (UTF-8 with BOM, for Excel), for roles that may export
    /// personal data; every export is audited, as the API's are.
    private func export(_ request: Request, _ context: GatewayRequestContext, kind: ExportKind) async throws
        -> Response
    {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        var filterValues: [String: String] = [:]
        for key in ["unit", "status", "q", "form"] { if let value = query.get(key) { filterValues[key] = value } }
        return try await pages.refusing(context) {
            try actor.require(.export)
            let (scope, unit) = try scope(for: actor, unit: query.get("unit"))
            let status = query.get("status").flatMap { $0 == "all" ? nil : $0 }
            let filter = RecordFilter(scope: scope, status: status, search: query.get("q"))
            let text: String
            let name: String
            let action: String
            switch kind {
            case .members:
                // Streamed: read and written a batch at a time, so memory stays flat however many.
                try await auditExport(
                    actor, action: "members.export", record: "members", unit: unit, query: filterValues)
                let stream = CSVExport.MembersStream(
                    fields: book.join.form.fields.filter { !["name", "phone", "unit", "unit_code"].contains($0.key) }
                        .map { ($0.key, $0.label) }, utcOffsetMinutes: offset)
                let registry = MembershipRegistry(store: store)
                var response = AdminRoutes.csv("", name: "members")
                response.body = ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: stream.head))
                    try await registry.batches(filter) { batch in
                        try await writer.write(ByteBuffer(string: stream.rows(batch)))
                    }
                    try await writer.finish(nil)
                }
                response.headers[.contentLength] = nil
                return response
            case .suggestions:
                let list = try await SuggestionBox(store: store).page(filter, request: .all).items
                (text, name, action) = (
                    CSVExport.suggestions(list, utcOffsetMinutes: offset), "suggestions", "suggestions.export"
                )
            case .submissions:
                let form = query.get("form") ?? ""
                let list = try await FormSubmissions(store: store).page(form: form, filter, request: .all).items
                (text, name, action) = (
                    CSVExport.submissions(list, form: book.forms[form], utcOffsetMinutes: offset), "form-\(form)",
                    "form.export"
                )
            }
            try await auditExport(actor, action: action, record: name, unit: unit, query: filterValues)
            return AdminRoutes.csv(text, name: name)
        }
    }

    /// Records an export of personal data: who, which list, with which filter.
    private func auditExport(
        _ actor: Principal, action: String, record: String, unit: String?, query: [String: String]
    ) async throws {
        try await AuditLog.record(
            actor, action: action, record: record, unit: unit ?? actor.unit ?? "",
            details: query.merging(["via": "console"]) { $1 }, at: clock(), in: store)
    }

    // MARK: 留言

    @Sendable func cases(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let query = request.uri.queryParameters
        let status = query.get("status") ?? "open"
        let now = clock()
        let (scope, _) = try scope(for: actor, unit: query.get("unit"))
        let pageRequest = try Self.pageRequest(request)
        let inbox = Inbox(store: store)
        let filter = RecordFilter(
            scope: scope, status: MemberCase.Status(rawValue: status)?.rawValue, search: query.get("q"))
        // Overdue first: on the first page of open cases, those past their due time lead (the
        // overview and the metrics count them all).
        var page = try await inbox.page(filter, request: pageRequest)
        if status == "open", pageRequest.page == 1 {
            let overdue = try await inbox.page(filter, overdueAt: now, request: pageRequest).items
            let ids = Set(overdue.map(\.id))
            page.items = overdue + page.items.filter { !ids.contains($0.id) }
        }
        let latest = try await inbox.latestFromMember(page.items.map(\.id))
        var rows: [[String: Any]] = []
        for memberCase in page.items {
            rows.append([
                "id": memberCase.id, "number": memberCase.number, "latest": latest[memberCase.id] ?? "",
                "status": memberCase.status.rawValue, "statusName": memberCase.status.chinese,
                "overdue": memberCase.isOverdue(at: now), "dueAt": local(memberCase.dueAt),
                "unit": organisation.units[memberCase.unitCode]?.name ?? memberCase.unitCode,
            ])
        }
        return pages.render(
            "cases", context: context,
            [
                "title": "留言",
                "statuses": Self.options(
                    [("open", "待答复"), ("answered", "已答复"), ("closed", "已办结"), ("all", "全部")], selected: status),
                "q": query.get("q") ?? "", "rows": rows,
            ].merging(Self.pager(page, request)) { first, _ in first })
    }

    @Sendable func caseThread(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let now = clock()
        return try await pages.refusing(context) {
            let (memberCase, messages) = try await Inbox(store: store).thread(id, for: actor)
            let member = try await MembershipRegistry(store: store).latest(for: memberCase.openid)
            return pages.render(
                "case", context: context,
                [
                    "title": "留言 \(memberCase.number)", "id": memberCase.id, "status": memberCase.status.rawValue,
                    "statusName": memberCase.status.chinese, "overdue": memberCase.isOverdue(at: now),
                    "closed": memberCase.status == .closed, "dueAt": local(memberCase.dueAt),
                    "unit": organisation.units[memberCase.unitCode]?.name ?? memberCase.unitCode,
                    "assignedStaff": memberCase.assignedStaff ?? "", "rating": memberCase.rating ?? 0,
                    "canDecide": actor.may(.decide), "units": unitOptions(for: actor, selected: nil),
                    "messages": messages.map { message -> [String: Any] in
                        var values: [String: Any] = [
                            "from": message.direction == "member" ? "member" : "staff",
                            "who": message.direction == "member"
                                ? (member?.name ?? "会员") : "工会 · \(message.author ?? "工作人员")",
                            "at": local(message.createdAt), "content": message.content,
                        ]
                        // What a member sent as a picture, voice or video: shown, or how its download went.
                        switch message.mediaStatus {
                        case "stored":
                            let link = "/admin/cases/\(memberCase.id)/media/\(message.id)"
                            values["media"] = [
                                "link": link, "image": message.kind == "image", "video": message.kind == "video",
                                // WeChat's voice is AMR, which browsers do not play: a download.
                                "file": message.kind != "image" && message.kind != "video",
                            ]
                        case "pending": values["mediaNote"] = "（正在从微信下载）"
                        case "failed": values["mediaNote"] = "（从微信下载失败：\(message.mediaError ?? "原因不明")）"
                        default: break
                        }
                        return values
                    },
                ])
        }
    }

    @Sendable func caseMedia(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let message = try context.parameters.require("message", as: Int.self)
        return try await pages.refusing(context) {
            AdminRoutes.mediaResponse(
                try await Inbox(store: store).storedMedia(id, message: message, for: actor, in: mediaDirectory))
        }
    }

    @Sendable func replyToCase(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let text = (context.form["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return try await pages.refusing(context) {
            guard !text.isEmpty else { throw AdminActionError(.invalid, "答复不能是空的。") }
            let memberCase = try await Inbox(store: store).reply(id, text: text, by: actor, at: clock())
            return pages.redirect("/admin/cases/\(memberCase.id)", flash: "答复已发给会员（\(memberCase.number)）。")
        }
    }

    @Sendable func assignCase(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let unit = (context.form["unit"] ?? "").trimmingCharacters(in: .whitespaces)
        let staffName = (context.form["staff"] ?? "").trimmingCharacters(in: .whitespaces)
        return try await pages.refusing(context) {
            guard !unit.isEmpty || !staffName.isEmpty else { throw AdminActionError(.invalid, "请选择单位或填写经办人。") }
            let memberCase = try await Inbox(store: store).assign(
                id, unit: unit.isEmpty ? nil : unit, staff: staffName.isEmpty ? nil : staffName,
                organisation: organisation, by: actor, at: clock())
            let target = [organisation.units[unit]?.name, staffName.isEmpty ? nil : staffName].compactMap { $0 }
            return pages.redirect(
                "/admin/cases/\(memberCase.id)", flash: "留言 \(memberCase.number) 已转给\(target.joined(separator: "、"))。")
        }
    }

    @Sendable func closeCase(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        return try await pages.refusing(context) {
            let memberCase = try await Inbox(store: store).close(id, by: actor, at: clock())
            return pages.redirect("/admin/cases/\(memberCase.id)", flash: "留言 \(memberCase.number) 已办结。")
        }
    }

    // MARK: 自动回复

    @Sendable func ruleList(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let editor = RulesEditor(rules: rules, store: store)
        let hits = metrics.hitsByRule
        let base = rules.directory.hasSuffix("/") ? rules.directory : rules.directory + "/"
        let files = (try? editor.files()) ?? []
        return pages.render(
            "rules", context: context,
            [
                "title": "自动回复",
                "files": files.enumerated().map { ["name": $0.element, "id": $0.offset] as [String: Any] },
                "rows": book.rules.map { rule -> [String: Any] in
                    let (trigger, mode) = Self.describe(rule.trigger)
                    let file =
                        rule.source.path.hasPrefix(base)
                        ? String(rule.source.path.dropFirst(base.count)) : rule.source.path
                    // The form edits keyword rules with one text reply; the others open in the file.
                    var formable = false
                    if case .keywords(_, _, _) = rule.trigger, rule.replies.count == 1, case .text = rule.replies[0] {
                        formable = !rule.source.path.isEmpty
                    }
                    return [
                        "name": rule.name, "trigger": trigger, "mode": mode,
                        "reply": String(Self.describe(rule.replies).prefix(80)), "hits": hits[rule.name] ?? 0,
                        "file": file, "line": rule.source.line, "formable": formable,
                    ]
                },
            ])
    }

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

    @Sendable func ruleFile(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let editor = RulesEditor(rules: rules, store: store)
        let name = request.uri.queryParameters.get("name") ?? ""
        return try await pages.refusing(context) {
            var text = try editor.text(of: name)
            if let add = request.uri.queryParameters.get("add"), !add.isEmpty {
                text = Self.appendingRule(for: add, to: text)
            }
            return try await ruleEditor(
                context, name: name, text: text, base: RulesEditor.fingerprint(try editor.text(of: name)),
                problems: [], try: request.uri.queryParameters.get("add") ?? "", answer: nil)
        }
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

    private func ruleEditor(
        _ context: GatewayRequestContext, name: String, text: String, base: String, problems: [RuleProblem],
        try message: String, answer: String?, status: HTTPResponse.Status = .ok, flash: String? = nil
    ) async throws -> Response {
        let actor = try context.actor()
        let editor = RulesEditor(rules: rules, store: store)
        let path = (rules.directory.hasSuffix("/") ? rules.directory : rules.directory + "/") + name
        let badLines = Set(problems.filter { $0.path == path }.map(\.line))
        let history = try await editor.history(of: name)
        var values: [String: Any] = [
            "title": "编辑 \(name)", "name": name, "text": text, "base": base, "try": message,
            "canEdit": actor.may(.editRules) && actor.scope == .everything,
            "lines": text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
                ["number": $0.offset + 1, "text": String($0.element), "bad": badLines.contains($0.offset + 1)]
                    as [String: Any]
            },
            "problems": problems.map { problem -> [String: Any] in
                let file =
                    problem.path.hasPrefix(rules.directory)
                    ? String(problem.path.dropFirst(rules.directory.count)).trimmingCharacters(
                        in: CharacterSet(charactersIn: "/")) : problem.path
                return [
                    "where": "\(file) 第 \(problem.line) 行", "line": problem.line,
                    "message": problem.severity == .error ? problem.message : "提醒：\(problem.message)",
                ]
            },
            "history": history.map {
                ["id": $0.id, "savedBy": $0.savedBy, "savedAt": local($0.savedAt), "note": $0.note ?? ""]
                    as [String: Any]
            },
            "previewed": answer != nil, "answer": answer ?? "",
        ]
        if let flash { values["flash"] = flash }
        return pages.render("ruleFile", status: status, context: context, values)
    }

    @Sendable func saveRuleFile(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let editor = RulesEditor(rules: rules, store: store)
        let form = context.form
        let name = form["name"] ?? ""
        // Browsers send CRLF line ends from a textarea; the files keep LF.
        let text = (form["text"] ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        let message = (form["try"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock()
        return try await pages.refusing(context) {
            if form["action"] == "save" {
                do {
                    let version = try await editor.save(
                        name, text: text, base: form["base"], note: form["note"].flatMap { $0.isEmpty ? nil : $0 },
                        by: actor, at: now)
                    return pages.redirect(
                        "/admin/rules/file?name=\(name)", flash: "已保存（版本 \(version.id)），新规则已生效。")
                } catch let failed as RulesEditor.CheckFailed {
                    return try await ruleEditor(
                        context, name: name, text: text, base: form["base"] ?? "",
                        problems: Self.problems(failed.result),
                        try: message, answer: nil, status: .unprocessableContent)
                }
            }
            // A preview: what the account would answer with the text as it is in the editor.
            let answer: String?
            var problems: [RuleProblem] = []
            if message.isEmpty {
                answer = nil
            } else {
                switch try await editor.preview(name, text: text, messages: [message], asMember: true, at: now) {
                case .success(let answers): answer = answers.first ?? ""
                case .failure(let failed):
                    answer = nil
                    problems = Self.problems(failed.result)
                }
            }
            return try await ruleEditor(
                context, name: name, text: text, base: form["base"] ?? "", problems: problems, try: message,
                answer: answer, status: problems.isEmpty ? .ok : .unprocessableContent)
        }
    }

    /// The rule form: one keyword rule's name, keywords, match mode and reply, changed in its
    /// file's text (comments and other keys kept) and saved as the file editor saves.
    @Sendable func ruleForm(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let editor = RulesEditor(rules: rules, store: store)
        let file = request.uri.queryParameters.get("file") ?? ""
        let line = request.uri.queryParameters.get("line").flatMap { Int($0) } ?? 0
        return try await pages.refusing(context) {
            let text = try editor.text(of: file)
            let form: RuleForm
            do {
                form = try RuleForm.read(text, line: line)
            } catch let unsupported as RuleForm.Unsupported {
                return pages.redirect(
                    "/admin/rules/file?name=\(file)#line-\(line)", flash: unsupported.description)
            }
            return try ruleFormPage(
                context, file: file, line: line, form: form, base: RulesEditor.fingerprint(text), problems: [],
                try: "", answer: nil)
        }
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
        return pages.render(
            "ruleForm", status: status, context: context,
            [
                "title": "编辑规则「\(form.name)」", "file": file, "line": line, "base": base,
                "ruleName": form.name, "keywords": form.keywords.joined(separator: "\n"),
                "modes": Self.options(modes, selected: form.match.rawValue), "reply": form.reply, "try": message,
                "canEdit": actor.may(.editRules) && actor.scope == .everything,
                "problems": problems.map {
                    ["where": "\(file) 第 \($0.line) 行", "line": $0.line, "message": $0.message] as [String: Any]
                },
                "previewed": answer != nil, "answer": answer ?? "",
            ])
    }

    @Sendable func saveRuleForm(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let editor = RulesEditor(rules: rules, store: store)
        let fields = context.form
        let file = fields["file"] ?? ""
        let line = fields["line"].flatMap { Int($0) } ?? 0
        let lines = { (value: String?) in (value ?? "").replacingOccurrences(of: "\r\n", with: "\n") }
        let form = RuleForm(
            name: (fields["rule_name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines),
            keywords: lines(fields["keywords"]).split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            match: MatchMode(rawValue: fields["match"] ?? "") ?? .exact,
            reply: lines(fields["reply"]))
        let message = (fields["try"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock()
        return try await pages.refusing(context) {
            let base = fields["base"] ?? ""
            let page = { (problems: [RuleProblem], answer: String?, status: HTTPResponse.Status) in
                try self.ruleFormPage(
                    context, file: file, line: line, form: form, base: base, problems: problems, try: message,
                    answer: answer, status: status)
            }
            if form.name.isEmpty || form.keywords.isEmpty || form.reply.trimmingCharacters(in: .whitespaces).isEmpty {
                return try page(
                    [RuleProblem(path: file, line: line, message: "规则名称、关键词和回复都要填写")], nil,
                    .unprocessableContent)
            }
            let text: String
            do {
                text = try form.apply(to: try editor.text(of: file), line: line)
            } catch let unsupported as RuleForm.Unsupported {
                return try page(
                    [RuleProblem(path: file, line: line, message: unsupported.description)], nil, .unprocessableContent)
            }
            if fields["action"] == "save" {
                do {
                    let version = try await editor.save(
                        file, text: text, base: base, note: "表单编辑规则「\(form.name)」", by: actor, at: now)
                    return pages.redirect("/admin/rules", flash: "已保存（版本 \(version.id)），新规则已生效。")
                } catch let failed as RulesEditor.CheckFailed {
                    return try page(Self.problems(failed.result), nil, .unprocessableContent)
                }
            }
            guard !message.isEmpty else { return try page([], nil, .ok) }
            switch try await editor.preview(file, text: text, messages: [message], asMember: true, at: now) {
            case .success(let answers): return try page([], answers.first ?? "", .ok)
            case .failure(let failed): return try page(Self.problems(failed.result), nil, .unprocessableContent)
            }
        }
    }

    /// A check's errors and failed examples as problems with their lines.
    static func problems(_ result: RulesChecker.Result) -> [RuleProblem] {
        result.problems.filter { $0.severity == .error }
            + result.failures.map { RuleProblem(path: $0.source.path, line: $0.source.line, message: $0.message) }
    }

    @Sendable func restoreRuleVersion(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let id = try context.parameters.require("id", as: Int.self)
        let editor = RulesEditor(rules: rules, store: store)
        return try await pages.refusing(context) {
            do {
                let version = try await editor.restore(id, by: actor, at: clock())
                return pages.redirect(
                    "/admin/rules/file?name=\(version.file)", flash: "已恢复到版本 \(id)（保存为版本 \(version.id)），已生效。")
            } catch let failed as RulesEditor.CheckFailed {
                let version = try await editor.version(id)
                return try await ruleEditor(
                    context, name: version?.file ?? "", text: version?.text ?? "", base: "",
                    problems: Self.problems(failed.result),
                    try: "", answer: nil, status: .unprocessableContent)
            }
        }
    }

    // MARK: 菜单, 二维码

    @Sendable func menuPage(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        guard let menu = book.menu else {
            return pages.message("Replies 里还没有菜单（menu:）。", status: .notFound, context: context)
        }
        let wanted = MenuPublishing.buttons(menu, publicURL: publicURL)
        func action(_ button: APIMenuButton) -> String {
            if let url = button.url { return "打开 \(url)" }
            if let key = button.key { return "点击 \(key)" }
            return button.type ?? ""
        }
        var values: [String: Any] = [
            "title": "菜单",
            "buttons": wanted.map { button -> [String: Any] in
                [
                    "name": button.name, "action": action(button),
                    "subs": button.subButtons.map { ["name": $0.name, "action": action($0)] as [String: Any] },
                    "has_subs": !button.subButtons.isEmpty,
                ]
            },
            "limits": "符合微信的限制：\(wanted.count) 个一级菜单（最多 3 个），每个最多 5 个子菜单，名称长度在限制内（加载规则时已检查）。",
            "file": (menu.source.path as NSString).lastPathComponent,
            "canPublish": wechat != nil && actor.may(.editRules) && actor.scope == .everything,
        ]
        var differences: [String] = []
        if let wechat {
            do {
                let published = MenuJSON.decode(try await wechat.menu())
                differences = MenuPublishing.differences(published: published, wanted: wanted)
                values["comparison"] =
                    published.isEmpty
                    ? "公众号上还没有菜单。" : differences.isEmpty ? "与公众号上的菜单一致。" : "与公众号上的菜单不同："
            } catch {
                values["comparison"] = "暂时取不到公众号上的菜单（\(RefusalLog.clean("\(error)", limit: 120))）。"
            }
        } else {
            values["comparison"] = "服务器没有设置 WECHAT_APP_ID 和 WECHAT_APP_SECRET，不能比较和发布。"
        }
        values["differences"] = differences
        return pages.render("menu", context: context, values)
    }

    @Sendable func publishMenu(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        return try await pages.refusing(context) {
            try actor.requireWholeTree(.editRules)
            guard let wechat, let menu = book.menu else {
                throw AdminActionError(.conflict, "不能发布：没有菜单，或服务器没有设置 WECHAT_APP_ID 和 WECHAT_APP_SECRET。")
            }
            let buttons = MenuPublishing.buttons(menu, publicURL: publicURL)
            try await wechat.createMenu(try MenuJSON.encode(buttons))
            try await AuditLog.record(
                actor, action: "menu.push", record: "menu",
                details: ["buttons": buttons.map(\.summary).joined(separator: " | "), "via": "console"], at: clock(),
                in: store)
            return pages.redirect("/admin/menu", flash: "菜单已发布（\(buttons.count) 个一级菜单），微信客户端可能要几分钟后才显示。")
        }
    }

    @Sendable func qrCodes(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        return try await pages.refusing(context) {
            let list = try await QRCodes(store: store).list(for: actor)
            return pages.render(
                "qr", context: context,
                [
                    "title": "二维码",
                    "rows": list.map { entry -> [String: Any] in
                        let code = entry.code
                        return [
                            "unit": organisation.units[code.unitCode]?.name ?? code.unitCode,
                            "kind": code.permanent ? "永久" : "临时，\(code.expiresAt.map(local) ?? "") 到期",
                            "scans": entry.funnel.scans, "follows": entry.funnel.follows,
                            "started": entry.funnel.started, "submitted": entry.funnel.submitted,
                            "approved": entry.funnel.approved,
                            "poster": (code.deleted ? nil : "/admin/qr/\(code.unitCode)/poster") as String? as Any,
                        ]
                    },
                ])
        }
    }

    @Sendable func qrPoster(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let code = try context.parameters.require("code")
        return try await pages.refusing(context) {
            guard let unit = organisation.units[code], actor.scope.contains(code),
                let qr = try await QRCodes(store: store).code(unit: code), let image = qr.image
            else { throw AdminActionError(.notFound, "no QR code for unit \(code)") }
            let union = organisation.root.flatMap { organisation.units[$0]?.name } ?? book.settings.unionName
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(
                    byteBuffer: ByteBuffer(string: QRPosterPage.html(unionName: union, unit: unit, image: image))))
        }
    }

    // MARK: 外发, 人员, 审计

    @Sendable func outbox(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        return try await pages.refusing(context) {
            try actor.requireWholeTree(.administer)
            let list = try await store.read { database in try await Outbox.list(limit: 200, in: database) }
            let phone = try await Outbox.phoneNotices(for: actor, in: store)
            let statusNames = ["queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败", "held": "需电话通知"]
            return pages.render(
                "outbox", context: context,
                [
                    "title": "外发通知",
                    "rows": list.map { message -> [String: Any] in
                        [
                            "id": message.id, "openid": message.openid,
                            "preview": String(visibleText(of: message.bodies).prefix(120)),
                            "status": message.status.rawValue,
                            "statusName": statusNames[message.status.rawValue] ?? message.status.rawValue,
                            "lastError": message.lastError ?? "", "createdAt": local(message.createdAt),
                        ]
                    },
                    "phone": phone.map { notice -> [String: Any] in
                        [
                            "name": notice.name, "phone": notice.phone, "text": notice.notices.joined(separator: "；"),
                            "why": notice.why.joined(separator: "；"),
                        ]
                    },
                ])
        }
    }

    @Sendable func staffList(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        try await staffPage(context, secret: nil)
    }

    /// The staff page; `secret` is a one-time password just made, shown once.
    private func staffPage(_ context: GatewayRequestContext, secret: (name: String, password: String)?) async throws
        -> Response
    {
        let actor = try context.actor()
        return try await pages.refusing(context) {
            try actor.requireWholeTree(.administer)
            let list = try await staff.list()
            return pages.render(
                "staff", context: context,
                [
                    "title": "人员", "secret": secret?.password as Any, "secretFor": secret?.name ?? "",
                    "units": unitOptions(for: actor, selected: nil),
                    "roles": StaffRole.allCases.map { ["value": $0.rawValue, "label": $0.chinese] },
                    "rows": list.map { member -> [String: Any] in
                        [
                            "name": member.name, "unit": organisation.units[member.unitCode]?.name ?? member.unitCode,
                            "role": member.role.chinese, "state": member.disabled ? "已停用" : "正常",
                            "disabled": member.disabled, "createdAt": local(member.createdAt),
                        ]
                    },
                ])
        }
    }

    @Sendable func addStaff(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = context.form
        return try await pages.refusing(context) {
            guard let role = StaffRole(rawValue: form["role"] ?? "") else { throw AdminActionError(.invalid, "请选择角色。") }
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            guard StaffDirectory.isValidName(name) else {
                throw AdminActionError(.invalid, "账号 1–32 个字符，不能有空格或冒号，也不能是 root 等保留名。")
            }
            let (member, password) = try await staff.add(
                name: name, unit: form["unit"] ?? "", role: role, password: nil, organisation: organisation, by: actor,
                at: clock())
            return try await staffPage(context, secret: (member.name, password))
        }
    }

    @Sendable func resetStaffPassword(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = context.form["name"] ?? ""
        return try await pages.refusing(context) {
            let password = try await staff.resetPassword(name, by: actor, at: clock())
            return try await staffPage(context, secret: (name, password))
        }
    }

    /// One account's unit and role, to change.
    @Sendable func staffEditPage(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = request.uri.queryParameters.get("name") ?? ""
        return try await pages.refusing(context) {
            try actor.requireWholeTree(.administer)
            guard let member = try await staff.member(named: name) else {
                throw AdminActionError(.notFound, "no staff member called \(name)")
            }
            return pages.render(
                "staffEdit", context: context,
                [
                    "title": "更改 \(member.name) 的单位和角色", "name": member.name,
                    "units": unitOptions(for: actor, selected: member.unitCode),
                    "roles": Self.options(
                        StaffRole.allCases.map { ($0.rawValue, $0.chinese) }, selected: member.role.rawValue),
                ])
        }
    }

    @Sendable func changeStaff(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let form = context.form
        let name = form["name"] ?? ""
        return try await pages.refusing(context) {
            guard let role = StaffRole(rawValue: form["role"] ?? "") else { throw AdminActionError(.invalid, "请选择角色。") }
            let member = try await staff.change(
                name, unit: form["unit"] ?? "", role: role, organisation: organisation, by: actor, at: clock())
            let unit = organisation.units[member.unitCode]?.name ?? member.unitCode
            return pages.redirect("/admin/staff", flash: "\(name) 现在是\(unit)的\(member.role.chinese)，下一次操作起生效。")
        }
    }

    @Sendable func disableStaff(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let name = context.form["name"] ?? ""
        return try await pages.refusing(context) {
            _ = try await staff.disable(name, by: actor, at: clock())
            return pages.redirect("/admin/staff", flash: "\(name) 已停用，不能再登录。")
        }
    }

    @Sendable func auditLog(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        return try await pages.refusing(context) {
            guard actor.may(.administer) else { throw AdminActionError(.forbidden, "administer") }
            let page = try await AuditLog.page(
                for: actor, action: request.uri.queryParameters.get("action"), request: try Self.pageRequest(request),
                in: store)
            return pages.render(
                "audit", context: context,
                [
                    "title": "审计",
                    "rows": page.items.map { entry -> [String: Any] in
                        [
                            "at": local(entry.at), "actor": entry.actor, "action": entry.action, "record": entry.record,
                            "unit": organisation.units[entry.unitCode]?.name ?? entry.unitCode,
                        ]
                    },
                ].merging(Self.pager(page, request)) { first, _ in first })
        }
    }

    // MARK: Helpers

    /// The scope a list shows: the actor's, narrowed to `?unit=` (404 outside it).
    private func scope(for actor: Principal, unit: String?) throws -> (UnitScope, String?) {
        guard let unit, !unit.isEmpty else { return (actor.scope, nil) }
        guard let narrowed = actor.scope.narrowed(to: unit, in: organisation) else {
            throw AdminActionError(.notFound, "no unit \(unit)")
        }
        return (narrowed, unit)
    }

    /// The units a list can be narrowed to: the actor's own and two levels below it, indented,
    /// at most 300 (a county's tree can have thousands; a deeper one is reached with `?unit=`),
    /// and the selected one wherever it is.
    private func unitOptions(for actor: Principal, selected: String?) -> [[String: Any]] {
        let top = actor.unit ?? organisation.root
        var options: [[String: Any]] = []
        var stack = top.map { [$0] } ?? []  // depth first, so that each unit's own follow it
        var seen = Set<String>()
        while let code = stack.popLast(), options.count < 300 {
            guard let unit = organisation.units[code], actor.scope.contains(code), seen.insert(code).inserted else {
                continue
            }
            let level = unit.depth - (top.flatMap { organisation.units[$0]?.depth } ?? 0)
            options.append([
                "code": code, "name": String(repeating: "　", count: max(0, level)) + unit.name,
                "selected": code == selected,
            ])
            if level < 2 { stack += unit.children.reversed() }
        }
        if let selected, !seen.contains(selected), let unit = organisation.units[selected],
            actor.scope.contains(selected)
        {
            options.append(["code": selected, "name": unit.name, "selected": true])
        }
        return options
    }

    /// A time in the union's local time: `2026-11-23 14:05`.
    private func local(_ unixSeconds: Int64) -> String {
        let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: offset)
        return String(format: "%04d-%02d-%02d %02d:%02d", time.year, time.month, time.day, time.hour, time.minute)
    }

    static func pageRequest(_ request: Request) throws -> PageRequest {
        let page = Int(request.uri.queryParameters.get("page") ?? "") ?? 1
        return try PageRequest(page: max(1, page), perPage: 30)
    }

    /// The pager's values: the total, and the links to the previous and next pages with the
    /// same filters.
    static func pager<Item>(_ page: Page<Item>, _ request: Request) -> [String: Any] {
        func link(_ number: Int) -> String {
            var items = URLComponents(string: "?" + (request.uri.query ?? ""))?.queryItems ?? []
            items.removeAll { $0.name == "page" }
            items.append(URLQueryItem(name: "page", value: String(number)))
            var components = URLComponents()
            components.path = request.uri.path
            components.queryItems = items
            return components.string ?? request.uri.path
        }
        var values: [String: Any] = ["total": page.total]
        if page.request.page > 1 { values["previous"] = link(page.request.page - 1) }
        if page.hasNext { values["next"] = link(page.request.page + 1) }
        return values
    }

    /// A `<select>`'s options: each value with its label, the one equal to `selected` chosen.
    static func options(_ pairs: [(String, String)], selected: String) -> [[String: Any]] {
        pairs.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == selected] }
    }

    /// The export of a list as it is shown: its status (the page's default included), unit,
    /// search and form.
    static func exportLink(_ path: String, status: String, _ request: Request, form: String? = nil) -> String {
        var components = URLComponents()
        components.path = path
        var items = [URLQueryItem(name: "status", value: status)]
        if let form { items.append(URLQueryItem(name: "form", value: form)) }
        for key in ["unit", "q"] {
            if let value = request.uri.queryParameters.get(key), !value.isEmpty {
                items.append(URLQueryItem(name: key, value: value))
            }
        }
        components.queryItems = items
        return components.string ?? path
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// A `next` that stays in the console (never another site).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/admin"), !next.hasPrefix("//"), !next.contains("\\"),
            !next.hasPrefix("/admin/login")
        else { return "/admin/" }
        return next
    }
}

/// Renders pages with the layout's values: who is signed in, what they may see, the CSRF token.
struct ConsolePages: Sendable {
    let library: MustacheLibrary
    let unionName: @Sendable () -> String

    /// The navigation, by what the role may see.
    static func nav(for actor: Principal, path: String) -> [[String: Any]] {
        var items: [(String, String)] = [
            ("/admin/", "概览"), ("/admin/members", "入会审核"), ("/admin/suggestions", "合理化建议"),
            ("/admin/cases", "留言"), ("/admin/forms", "申请/表单"), ("/admin/rules", "自动回复"),
        ]
        items += [("/admin/menu", "菜单"), ("/admin/qr", "二维码")]
        if actor.may(.administer) && actor.scope == .everything {
            items += [("/admin/outbox", "外发通知"), ("/admin/staff", "人员")]
        }
        if actor.may(.administer) { items.append(("/admin/audit", "审计")) }
        return items.map { item in
            let current = item.0 == "/admin/" ? (path == "/admin/" || path == "/admin") : path.hasPrefix(item.0)
            return ["href": item.0, "label": item.1, "current": current]
        }
    }

    func render(
        _ template: String, status: HTTPResponse.Status = .ok, context: GatewayRequestContext? = nil,
        _ values: [String: Any]
    ) -> Response {
        // An absent value (nil) is left out, so that a section for it is not shown.
        var all = values.filter { _, value in
            let mirror = Mirror(reflecting: value)
            return !(mirror.displayStyle == .optional && mirror.children.isEmpty)
        }
        all["union"] = unionName()
        if let context, let actor = context.principal {
            all["signedIn"] = true
            all["accountName"] = actor.name
            all["roleName"] = actor.name == "root" ? "总管理员" : actor.role.chinese
            all["csrf"] = context.csrf ?? ""
            all["nav"] = Self.nav(for: actor, path: context.path)
            if all["flash"] == nil, let flash = context.flash { all["flash"] = flash }
        }
        for (key, value) in values {
            if let list = value as? [Any] { all["has_\(key)"] = !list.isEmpty }
        }
        let html = library.render(all, withTemplate: template) ?? "<!doctype html><p>页面模板 \(template) 不存在</p>"
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Frame-Options")!: "DENY",
                HTTPField.Name("Content-Security-Policy")!:
                    "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
                HTTPField.Name("Referrer-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page for a refusal or an error: the status, and a Chinese sentence saying what to do.
    func message(_ text: String, status: HTTPResponse.Status, context: GatewayRequestContext?) -> Response {
        render(
            "message", status: status, context: context,
            ["title": status.code == 403 ? "不能这样做" : "没有办成", "error": text, "back": "/admin/", "backLabel": "回到概览"])
    }

    /// After an action: back to a page, with a line saying what happened (in a short-lived cookie).
    func redirect(_ location: String, flash: String) -> Response {
        var response = ConsoleRoutes.redirect(location)
        let encoded = flash.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        response.headers[values: .setCookie].append(
            Cookie(name: "ug_flash", value: encoded, maxAge: 60, path: "/admin", httpOnly: true, sameSite: .strict)
                .description)
        return response
    }

    /// Runs a page's action; a refusal becomes a page with the right status, in Chinese.
    func refusing(_ context: GatewayRequestContext, _ action: () async throws -> Response) async throws -> Response {
        do {
            return try await action()
        } catch let error as AdminActionError {
            let role = context.principal.map { $0.name == "root" ? "总管理员" : $0.role.chinese } ?? ""
            switch error.kind {
            case .forbidden:
                return message("您的角色（\(role)）不能做这件事。", status: .forbidden, context: context)
            case .notFound:
                return message("找不到这条记录，或它不在您负责的单位里。", status: .notFound, context: context)
            case .conflict:
                return message(
                    Self.isChinese(error.message) ? error.message : "这条记录已经处理过了，或刚被别人改过。请刷新后再看。", status: .conflict,
                    context: context)
            case .invalid:
                return message(
                    Self.isChinese(error.message) ? error.message : "填写的内容不符合要求，请检查后再提交。", status: .badRequest,
                    context: context)
            }
        }
    }

    static func isChinese(_ text: String) -> Bool {
        text.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }
    }
}
