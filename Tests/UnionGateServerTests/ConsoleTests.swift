import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReplyRules
import Testing
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

/// One browser's view of the console over Hummingbird's test client: its cookies, no redirects
/// followed.
final class ConsoleVisitor: @unchecked Sendable {
    let client: any TestClientProtocol
    private(set) var cookies: [String: String] = [:]
    private(set) var setCookies: [String] = []

    init(_ client: any TestClientProtocol) { self.client = client }

    struct Page {
        let status: Int
        let body: String
        let headers: HTTPFields
        var location: String? { headers[.location] }
    }

    func get(_ path: String) async throws -> Page {
        try await send(.get, path, body: nil)
    }

    func post(_ path: String, _ fields: [(String, String)]) async throws -> Page {
        let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        return try await send(.post, path, body: body)
    }

    /// A file in a multipart form.
    struct Upload {
        let field: String
        let filename: String
        let type: String
        let data: [UInt8]
    }

    /// Posts a `multipart/form-data` form; `cut` bytes are left off its end (an upload cut short).
    func postMultipart(_ path: String, _ fields: [(String, String)], files: [Upload], cut: Int = 0) async throws
        -> Page
    {
        let boundary = "----UnionGateTest\(UInt32.random(in: 0...UInt32.max))"
        var body: [UInt8] = []
        for (name, value) in fields {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for file in files {
            body += Array(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.filename)\"\r\nContent-Type: \(file.type)\r\n\r\n"
                    .utf8)
            body += file.data + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        body.removeLast(min(cut, body.count))
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        let response = try await client.execute(
            uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
        setCookies = response.headers[values: .setCookie]
        return Page(status: Int(response.status.code), body: String(buffer: response.body), headers: response.headers)
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func send(_ method: HTTPRequest.Method, _ path: String, body: String?) async throws -> Page {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        setCookies = response.headers[values: .setCookie]
        for cookie in setCookies {
            let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return Page(status: Int(response.status.code), body: String(buffer: response.body), headers: response.headers)
    }

    /// The value of the first `_csrf` field of `page`.
    static func token(in page: Page) -> String? {
        page.body.firstMatch(of: /name="_csrf" value="([0-9a-f]+)"/).map { String($0.output.1) }
    }

    /// Signs in through the form; returns the answer to the form's post.
    @discardableResult
    func signIn(_ account: String, _ password: String) async throws -> Page {
        let form = try await get("/admin/login")
        return try await post(
            "/admin/login",
            [("_csrf", Self.token(in: form) ?? ""), ("account", account), ("password", password), ("next", "/admin/")])
    }
}

/// Runs `body` against a gateway built as the tests build it, through the router (no socket).
func withConsole(
    replies: String = countyReplies, clock: TestClock = TestClock(),
    configure: (inout GatewayConfiguration) -> Void = { _ in },
    pauses: PauseRecorder = PauseRecorder(),
    _ body: @Sendable (ConsoleVisitor, Gateway) async throws -> Void
) async throws {
    let gateway = try await buildTestGateway(
        replies: replies, configure: configure, unixTime: clock.read, ledgerClock: ContinuousClock(),
        adminPause: { await pauses.record($0) })
    try await buildApplication(gateway).test(.router) { client in
        try await body(ConsoleVisitor(client), gateway)
    }
}

/// Records the pauses a failed sign-in would sleep.
actor PauseRecorder {
    private(set) var pauses: [Duration] = []
    func record(_ pause: Duration) { pauses.append(pause) }
}

@Suite("The web console over HTTP")
struct ConsoleTests {
    @Test func everyTemplateParses() throws {
        let library = try PageLibrary.load()
        let pages = library.names.filter { $0.hasPrefix("console-") && $0 != "console-layout" }
        #expect(pages.count >= 20)
        var inLayout = 0
        for name in pages {
            let html = try #require(library.render(object: ["title": "标题"], with: name))
            if html.contains("<title>标题") { inLayout += 1 }
        }
        // Every page but the partials (the pager, the rule editors’ pieces, the fields of activities and clubs)
        // fills the layout.
        #expect(inLayout == pages.count - 6)
    }

    /// A search reflected into `value="…"` with a quote and a combining mark (one Swift
    /// `Character` with the quote) stays inside the attribute; `+` in a GET form's query is a space.
    @Test func aReflectedSearchStaysInsideItsAttribute() async throws {
        try await withConsole { visitor, _ in
            try await visitor.signIn("root", testAdminToken)
            for path in ["/admin/members", "/admin/cases", "/admin/suggestions", "/admin/forms"] {
                let page = try await visitor.get(path + "?status=all&q=%22%CC%81+data-x%3D%221")
                #expect(page.status == 200, "\(path)")
                #expect(
                    page.body.contains("value=\"&quot;\u{301} data-x=&quot;1\""), "\(path) shows the search as typed")
                #expect(!page.body.contains("data-x=\""), "\(path) lets an attribute in")
            }
            let login = try await visitor.get("/admin/password")
            #expect(login.status == 200)
            let refused = try await visitor.get("/admin/members?q=a&q=b")
            #expect(refused.status == 400, "a query with a field twice is refused with a page")
            #expect(refused.body.contains("格式不对"))
        }
    }

    @Test func signingInSetsAStrictHttpOnlyCookieAndSigningOutEndsTheSession() async throws {
        try await withConsole { visitor, gateway in
            let first = try await visitor.get("/admin/members?status=pending")
            #expect(first.status == 303)
            #expect(first.location == "/admin/login?next=%2Fadmin%2Fmembers%3Fstatus%3Dpending")

            let wrong = try await visitor.signIn("root", "not-the-token")
            #expect(wrong.status == 401)
            #expect(wrong.body.contains("账号或密码不正确"))
            #expect(visitor.cookies["ug_console"] == nil)

            let right = try await visitor.signIn("root", testAdminToken)
            #expect(right.status == 303)
            #expect(right.location == "/admin/")
            let cookie = try #require(visitor.setCookies.first { $0.hasPrefix("ug_console=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/admin"))
            #expect(!cookie.contains("Secure"), "no Secure flag without an https public URL")

            let overview = try await visitor.get("/admin/")
            #expect(overview.status == 200)
            #expect(overview.body.contains("概览") && overview.body.contains("总管理员"))
            #expect(overview.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("script-src 'none'") == true)

            let audit = try await AuditLog.page(for: .root, action: nil, request: try PageRequest(), in: gateway.store)
            #expect(audit.items.map(\.action).contains("console.login_failed"))
            #expect(audit.items.map(\.action).contains("console.login"))

            let token = try #require(ConsoleVisitor.token(in: overview))
            let out = try await visitor.post("/admin/logout", [("_csrf", token)])
            #expect(out.status == 303 && out.location == "/admin/login")
            #expect(try await visitor.get("/admin/").status == 303, "the session is gone")
        }
    }

    @Test func theCookieIsSecureBehindHTTPS() async throws {
        try await withConsole(configure: { $0.publicURL = "https://union.example.cn" }) { visitor, _ in
            try await visitor.signIn("root", testAdminToken)
            let cookie = try #require(visitor.setCookies.first { $0.hasPrefix("ug_console=") })
            #expect(cookie.contains("Secure"))
        }
    }

    @Test func aSignInFormWithoutItsTokenIsRefused() async throws {
        try await withConsole { visitor, _ in
            let page = try await visitor.post(
                "/admin/login", [("account", "root"), ("password", testAdminToken), ("next", "/admin/")])
            #expect(page.status == 403)
            #expect(visitor.cookies["ug_console"] == nil)
        }
    }

    @Test func aFormWithoutTheSessionsTokenChangesNothing() async throws {
        try await withConsole { visitor, gateway in
            let application = try await pendingApplication(gateway.store, unit: "chengdong-huanwei")
            try await visitor.signIn("root", testAdminToken)
            let none = try await visitor.post("/admin/members/\(application.id)/approve", [])
            #expect(none.status == 403)
            #expect(none.body.contains("来源不明"))
            let wrong = try await visitor.post(
                "/admin/members/\(application.id)/approve", [("_csrf", String(repeating: "0", count: 64))])
            #expect(wrong.status == 403)
            #expect(
                try await MembershipRegistry(store: gateway.store).latest(for: application.openid)?.status == .pending)

            let page = try await visitor.get("/admin/members")
            let token = try #require(ConsoleVisitor.token(in: page))
            let approved = try await visitor.post("/admin/members/\(application.id)/approve", [("_csrf", token)])
            #expect(approved.status == 303)
            #expect(
                try await MembershipRegistry(store: gateway.store).latest(for: application.openid)?.status == .approved)
            let after = try await visitor.get("/admin/members")
            #expect(after.body.contains("已排队通知会员"), "the notice it queued is shown")
        }
    }

    @Test func aViewerSeesNoDecisionButtonsAndIsRefusedAnyway() async throws {
        try await withConsole { visitor, gateway in
            let organisation = gateway.rules.engine.book.join.organisation
            _ = try await StaffDirectory(store: gateway.store, cost: 4).add(
                name: "东-viewer", unit: "chengdong", role: .viewer, password: "viewer-password",
                organisation: organisation,
                by: .commandLine, at: 1)
            let east = try await pendingApplication(gateway.store, unit: "chengdong-huanwei", name: "东边人")
            let west = try await pendingApplication(gateway.store, unit: "chengxi-huanwei", name: "西边人")
            #expect(try await visitor.signIn("东-viewer", "viewer-password").status == 303)
            let page = try await visitor.get("/admin/members")
            #expect(page.body.contains("东边人"))
            #expect(!page.body.contains("西边人"), "another town's application is not shown")
            #expect(!page.body.contains("class=\"approve\""), "no approve button for a viewer")
            #expect(!page.body.contains("/admin/staff"), "no 人员 page for a viewer")
            let token = try #require(ConsoleVisitor.token(in: page))
            let refused = try await visitor.post("/admin/members/\(east.id)/approve", [("_csrf", token)])
            #expect(refused.status == 403)
            #expect(refused.body.contains("不能做这件事"))
            let elsewhere = try await visitor.get("/admin/staff")
            #expect(elsewhere.status == 403)
            #expect(try await MembershipRegistry(store: gateway.store).latest(for: east.openid)?.status == .pending)
            #expect(try await MembershipRegistry(store: gateway.store).latest(for: west.openid)?.status == .pending)
        }
    }

    @Test func aSessionEndsAfterItsIdleTimeAndIsPushedBackByUse() async throws {
        let clock = TestClock()
        try await withConsole(clock: clock, configure: { $0.consoleIdleSeconds = 600 }) { visitor, _ in
            try await visitor.signIn("root", testAdminToken)
            clock.advance(seconds: 500)
            #expect(try await visitor.get("/admin/").status == 200, "in use within the idle time")
            clock.advance(seconds: 500)
            #expect(try await visitor.get("/admin/").status == 200, "the use 500 s ago pushed the end back")
            clock.advance(seconds: 601)
            let expired = try await visitor.get("/admin/")
            #expect(expired.status == 303)
            #expect(expired.location?.hasPrefix("/admin/login") == true)
        }
    }

    /// An expired session's row is removed by the purger; a live one stays.
    @Test func expiredSessionsArePurgedFromTheStore() async throws {
        let clock = TestClock()
        try await withConsole(clock: clock, configure: { $0.consoleIdleSeconds = 600 }) { visitor, gateway in
            try await visitor.signIn("root", testAdminToken)
            let key = try #require(visitor.cookies[ConsoleRoutes.cookieName])
            let sessions = ConsoleSessions(store: gateway.store)
            let purger = SessionPurger(
                sessions: sessions, access: nil, cards: MemberCards(store: gateway.store), unixTime: clock.read,
                logger: gateway.logger)
            #expect(await purger.purgeOnce() == 0, "a live session is kept")
            #expect(try await sessions.get(key, at: clock.read()) != nil)
            clock.advance(seconds: 601)
            // Expired, but its row is still there until the purger runs.
            #expect(try await sessions.get(key, at: 0) != nil)
            #expect(await purger.purgeOnce() == 1)
            #expect(try await sessions.get(key, at: 0) == nil, "the expired session's row is gone")
        }
    }

    @Test func repeatedFailedSignInsAreSlowedThenLocked() async throws {
        let pauses = PauseRecorder()
        try await withConsole(pauses: pauses) { visitor, gateway in
            for _ in 0..<20 {
                #expect(try await visitor.signIn("root", "guess").status == 401)
            }
            let locked = try await visitor.signIn("root", testAdminToken)
            #expect(locked.status == 429, "locked even with the right token")
            #expect(locked.body.contains("分钟后再试"))
            #expect(visitor.cookies["ug_console"] == nil)
            let audit = try await AuditLog.page(
                for: .root, action: "console.login_failed", request: try PageRequest(), in: gateway.store)
            #expect(audit.total == 20, "every failure is audited")
        }
        let recorded = await pauses.pauses
        #expect(recorded.count == 17, "from the fourth failure on, each is slowed")
        #expect(recorded.first == .milliseconds(500) && recorded.last == .seconds(8))
    }

    @Test func aBrokenRuleIsRefusedAtItsLineAndAGoodOneIsServedAtOnce() async throws {
        let replies = try temporaryReplies([
            "help.yaml": "rules:\n  - name: 帮助\n    keywords: [帮助]\n    reply: 旧的回复\n"
        ])
        try await withConsole(replies: replies) { visitor, gateway in
            try await visitor.signIn("root", testAdminToken)
            let editor = try await visitor.get("/admin/rules/file?name=help.yaml")
            #expect(editor.status == 200)
            let token = try #require(ConsoleVisitor.token(in: editor))
            let base = try #require(editor.body.firstMatch(of: /name="base" value="([0-9a-f]+)"/)).output.1
            let broken = try await visitor.post(
                "/admin/rules/file",
                [
                    ("_csrf", token), ("name", "help.yaml"), ("base", String(base)), ("action", "save"),
                    ("text", "rules:\n  - name: 帮助\n    keywords: [帮助]\n    replly: 新的回复\n"),
                ])
            #expect(broken.status == 422)
            #expect(broken.body.contains("help.yaml 第 4 行") || broken.body.contains("help.yaml 第 2 行"))
            #expect(try String(contentsOfFile: replies + "/help.yaml", encoding: .utf8).contains("旧的回复"))

            let saved = try await visitor.post(
                "/admin/rules/file",
                [
                    ("_csrf", token), ("name", "help.yaml"), ("base", String(base)), ("action", "save"),
                    ("text", "rules:\n  - name: 帮助\n    keywords: [帮助]\n    reply: 新的回复\n"),
                ])
            #expect(saved.status == 303)
            #expect(gateway.rules.engine.book.rules.first?.name == "帮助")
            #expect(try String(contentsOfFile: replies + "/help.yaml", encoding: .utf8).contains("新的回复"))
            let answer = await gateway.core.dispatcher.handle(Member().text("帮助"))
            #expect(visibleText(of: answer.replies) == "新的回复")

            // A save from an editor opened before that save is refused: it would undo it.
            let stale = try await visitor.post(
                "/admin/rules/file",
                [
                    ("_csrf", token), ("name", "help.yaml"), ("base", String(base)), ("action", "save"),
                    ("text", "rules:\n  - name: 帮助\n    keywords: [帮助]\n    reply: 第三个\n"),
                ])
            #expect(stale.status == 409)
            #expect(try String(contentsOfFile: replies + "/help.yaml", encoding: .utf8).contains("新的回复"))

            let outside = try await visitor.get("/admin/rules/file?name=..%2Fsecret.yaml")
            #expect(outside.status == 400)
        }
    }

    /// A rule changed in the form: the file keeps its comments and other rules, the check runs
    /// before the save, and the next message gets the new reply.
    @Test func aRuleIsChangedInAFormAndTheFileKeepsItsComments() async throws {
        let replies = try temporaryReplies([
            "help.yaml":
                "# 常见问题\nrules:\n  - name: 帮助\n    # 会员常说的\n    keywords: [帮助]\n    reply: 旧的回复\n\n  - name: 热线\n    keywords: [热线]\n    reply: 12351\n"
        ])
        try await withConsole(replies: replies) { visitor, gateway in
            try await visitor.signIn("root", testAdminToken)
            let list = try await visitor.get("/admin/rules")
            #expect(list.body.contains("/admin/rules/edit?file=help.yaml&amp;line=3"))
            let form = try await visitor.get("/admin/rules/edit?file=help.yaml&line=3")
            #expect(form.status == 200)
            #expect(form.body.contains("value=\"帮助\"") && form.body.contains("旧的回复"))
            let token = try #require(ConsoleVisitor.token(in: form))
            let base = try #require(form.body.firstMatch(of: /name="base" value="([0-9a-f]+)"/)).output.1
            func send(_ action: String, reply: String, keywords: String = "帮助\r\n求助") async throws
                -> ConsoleVisitor.Page
            {
                try await visitor.post(
                    "/admin/rules/edit",
                    [
                        ("_csrf", token), ("file", "help.yaml"), ("line", "3"), ("base", String(base)),
                        ("rule_name", "帮助"), ("keywords", keywords), ("match", "contains"), ("reply", reply),
                        ("try", "我要求助"), ("action", action),
                    ])
            }
            let preview = try await send("preview", reply: "新的回复\r\n第二行")
            #expect(preview.status == 200)
            #expect(preview.body.contains("id=\"preview-answer\">新的回复\n第二行"), "\(preview.body)")
            #expect(try String(contentsOfFile: replies + "/help.yaml", encoding: .utf8).contains("旧的回复"))
            // A regex the checker refuses: shown, and nothing saved.
            let refused = try await visitor.post(
                "/admin/rules/edit",
                [
                    ("_csrf", token), ("file", "help.yaml"), ("line", "3"), ("base", String(base)),
                    ("rule_name", "帮助"), ("keywords", "(a+)+"), ("match", "regex"), ("reply", "x"), ("action", "save"),
                ])
            #expect(refused.status == 422)
            #expect(refused.body.contains("检查未通过"))

            let saved = try await send("save", reply: "新的回复\r\n第二行")
            #expect(saved.status == 303)
            let text = try String(contentsOfFile: replies + "/help.yaml", encoding: .utf8)
            #expect(text.hasPrefix("# 常见问题\nrules:\n  - name: 帮助\n    # 会员常说的\n"), "\(text)")
            #expect(
                text.contains("    match: contains\n")
                    && text.hasSuffix("  - name: 热线\n    keywords: [热线]\n    reply: 12351\n"))
            let answer = await gateway.core.dispatcher.handle(Member().text("我要求助"))
            #expect(visibleText(of: answer.replies) == "新的回复\n第二行")
            #expect(
                try await RulesEditor(rules: gateway.rules, store: gateway.store).history(of: "help.yaml").count == 2)
        }
    }

    /// A picture a member sent shows in the case's thread; a failed download says why.
    @Test func aCaseShowsTheMembersPicturesAndWhyADownloadFailed() async throws {
        let directory = Scratch.folder.appendingPathComponent("media-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("not really a jpeg".utf8).write(to: directory.appendingPathComponent("photo.jpg"))
        try await withConsole(configure: { $0.mediaDirectory = directory.path }) { visitor, gateway in
            let member = Member()
            for (index, mediaId) in ["photo-1", "gone"].enumerated() {
                _ = await gateway.core.dispatcher.handle(
                    InboundMessage(
                        header: MessageHeader(
                            account: "gh_union", sender: member.openid, createTime: 1, msgId: UInt64(900 + index)),
                        kind: .image(ImageMessage(picURL: "http://x/\(index)", mediaId: mediaId))))
            }
            try await gateway.store.transaction { database in
                try await database.raw(
                    "UPDATE case_messages SET media_status = 'stored', media_path = 'photo.jpg', media_type = 'image/jpeg' WHERE media_id = 'photo-1'"
                ).run()
                try await database.raw(
                    "UPDATE case_messages SET media_status = 'failed', media_error = '40007 invalid media_id' WHERE media_id = 'gone'"
                ).run()
            }
            let memberCase = try #require(
                try await Inbox(store: gateway.store).page(RecordFilter(), request: PageRequest(page: 1, perPage: 5))
                    .items.first)
            try await visitor.signIn("root", testAdminToken)
            let page = try await visitor.get("/admin/cases/\(memberCase.id)")
            let link = try #require(
                page.body.firstMatch(of: /<img class="media" src="(\/admin\/cases\/\d+\/media\/\d+)"/)
            )
            .output.1
            #expect(page.body.contains("从微信下载失败：40007 invalid media_id"))
            let picture = try await visitor.get(String(link))
            #expect(picture.status == 200)
            #expect(picture.body == "not really a jpeg")
            #expect(picture.headers[.contentType] == "image/jpeg")
            #expect(picture.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            // The failed one has no file to serve.
            let failedId = try #require(Int(String(link.split(separator: "/").last ?? ""))) + 1
            #expect(try await visitor.get("/admin/cases/\(memberCase.id)/media/\(failedId)").status == 404)
        }
    }

    @Test func exportsNeedTheExportRoleAndAreAudited() async throws {
        try await withConsole { visitor, gateway in
            let organisation = gateway.rules.engine.book.join.organisation
            let directory = StaffDirectory(store: gateway.store, cost: 4)
            for (name, role) in [("东-approver", StaffRole.approver), ("东-viewer", .viewer)] {
                _ = try await directory.add(
                    name: name, unit: "chengdong", role: role, password: "password-\(name)", organisation: organisation,
                    by: .commandLine, at: 1)
            }
            _ = try await pendingApplication(gateway.store, unit: "chengdong-huanwei", name: "东边人")
            _ = try await pendingApplication(gateway.store, unit: "chengxi-huanwei", name: "西边人")

            try await visitor.signIn("东-viewer", "password-东-viewer")
            #expect(!(try await visitor.get("/admin/members")).body.contains("导出 CSV"))
            #expect(try await visitor.get("/admin/members/export?status=pending").status == 403)
            let token = try #require(ConsoleVisitor.token(in: try await visitor.get("/admin/")))
            _ = try await visitor.post("/admin/logout", [("_csrf", token)])

            try await visitor.signIn("东-approver", "password-东-approver")
            let csv = try await visitor.get("/admin/members/export?status=pending")
            #expect(csv.status == 200)
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(csv.body.contains("东边人") && !csv.body.contains("西边人"), "only the approver's town")
            let audit = try await AuditLog.page(
                for: .root, action: "members.export", request: try PageRequest(), in: gateway.store)
            #expect(audit.items.first?.actor == "东-approver")
        }
    }

    @Test func aOneTimePasswordIsChangedBeforeAnythingElse() async throws {
        try await withConsole { visitor, gateway in
            let (_, oneTime) = try await StaffDirectory(store: gateway.store, cost: 4).add(
                name: "新人", unit: "chengdong", role: .approver, password: nil,
                organisation: gateway.rules.engine.book.join.organisation, by: .commandLine, at: 1)
            #expect(try await visitor.signIn("新人", oneTime).status == 303)
            let first = try await visitor.get("/admin/members")
            #expect(first.status == 303 && first.location == "/admin/password")
            let form = try await visitor.get("/admin/password")
            let token = try #require(ConsoleVisitor.token(in: form))
            let mismatch = try await visitor.post(
                "/admin/password",
                [("_csrf", token), ("current", oneTime), ("new", "new-password-1"), ("again", "other")])
            #expect(mismatch.status == 400)
            let wrong = try await visitor.post(
                "/admin/password",
                [("_csrf", token), ("current", "not-it"), ("new", "new-password-1"), ("again", "new-password-1")])
            #expect(wrong.status == 403)
            let changed = try await visitor.post(
                "/admin/password",
                [("_csrf", token), ("current", oneTime), ("new", "new-password-1"), ("again", "new-password-1")])
            #expect(changed.status == 303)
            #expect(try await visitor.get("/admin/members").status == 200)
            #expect(
                try await StaffDirectory(store: gateway.store).member(named: "新人", password: "new-password-1") != nil)
            #expect(try await StaffDirectory(store: gateway.store).member(named: "新人", password: oneTime) == nil)
        }
    }

    @Test func theOverviewCountsAndListsTheQuestionsNobodyAnswered() async throws {
        try await withConsole(clock: TestClock(UnixTime.now())) { visitor, gateway in
            for _ in 0..<3 { _ = await gateway.core.dispatcher.handle(Member().text("食堂几点开门")) }
            _ = await gateway.core.dispatcher.handle(Member().text("宿舍热水什么时候有"))
            _ = try await pendingApplication(gateway.store, unit: "chengdong-huanwei")
            _ = try await pendingApplication(gateway.store, unit: "chengxi-huanwei")
            let overview = try await ConsoleOverview.of(
                for: .root, at: UnixTime.now(), utcOffsetMinutes: 480, in: gateway.store)
            #expect(overview.unanswered.first == ConsoleOverview.Question(content: "食堂几点开门", times: 3))
            #expect(overview.unanswered.count == 2)
            #expect(overview.pendingApplications == 2)
            #expect(overview.casesOpen == 4)
            #expect(overview.cases.today == 4 && overview.cases.month == 4)
            #expect(overview.days.count == 30 && overview.days.last?.cases == 4)
            // Messages and new followers are counted as answered and written every few seconds.
            _ = await gateway.core.dispatcher.handle(Member().event(.subscribe(scene: nil, ticket: nil)))
            try await gateway.core.counts.flush(to: gateway.store)
            let counted = try await ConsoleOverview.of(
                for: .root, at: UnixTime.now(), utcOffsetMinutes: 480, in: gateway.store)
            #expect(counted.messages?.today == 5 && counted.messages?.month == 5)
            #expect(counted.followers?.today == 1)

            try await visitor.signIn("root", testAdminToken)
            let page = try await visitor.get("/admin/")
            #expect(page.body.contains("食堂几点开门"))
            #expect(page.body.contains("<svg class=\"chart\""))
            #expect(page.body.contains("faq.yaml&amp;add="), "one click to add a rule for it")
            #expect(page.body.contains("今日消息") && page.body.contains("今日新关注"))
        }
    }

    @Test func anAdminManagesStaffAndTheOneTimePasswordIsShownOnce() async throws {
        try await withConsole { visitor, gateway in
            try await visitor.signIn("root", testAdminToken)
            let page = try await visitor.get("/admin/staff")
            let token = try #require(ConsoleVisitor.token(in: page))
            let added = try await visitor.post(
                "/admin/staff", [("_csrf", token), ("name", "城东审核"), ("unit", "chengdong"), ("role", "approver")])
            #expect(added.status == 200)
            let password = try #require(added.body.firstMatch(of: /一次性密码：<code>([A-Za-z0-9]+)<\/code>/)).output.1
            let directory = StaffDirectory(store: gateway.store)
            let member = try #require(try await directory.member(named: "城东审核", password: String(password)))
            #expect(member.role == .approver && member.unitCode == "chengdong" && member.mustChangePassword)
            #expect(!(try await visitor.get("/admin/staff")).body.contains(String(password)), "shown once")

            let reserved = try await visitor.post(
                "/admin/staff", [("_csrf", token), ("name", "root"), ("unit", "chengdong"), ("role", "admin")])
            #expect(reserved.status == 400)

            let reset = try await visitor.post("/admin/staff/reset", [("_csrf", token), ("name", "城东审核")])
            let second = try #require(reset.body.firstMatch(of: /一次性密码：<code>([A-Za-z0-9]+)<\/code>/)).output.1
            #expect(try await directory.member(named: "城东审核", password: String(password)) == nil)
            #expect(try await directory.member(named: "城东审核", password: String(second)) != nil)

            // Moved to another town as a viewer: the form shows where the account is now.
            let edit = try await visitor.get("/admin/staff/edit?name=%E5%9F%8E%E4%B8%9C%E5%AE%A1%E6%A0%B8")
            #expect(edit.status == 200)
            #expect(edit.body.contains("<option value=\"chengdong\" selected>"))
            let changed = try await visitor.post(
                "/admin/staff/change", [("_csrf", token), ("name", "城东审核"), ("unit", "chengxi"), ("role", "viewer")])
            #expect(changed.status == 303)
            let moved = try #require(try await directory.member(named: "城东审核"))
            #expect(moved.unitCode == "chengxi" && moved.role == .viewer)
            let nowhere = try await visitor.post(
                "/admin/staff/change", [("_csrf", token), ("name", "城东审核"), ("unit", "atlantis"), ("role", "viewer")])
            #expect(nowhere.status == 400)

            let disabled = try await visitor.post("/admin/staff/disable", [("_csrf", token), ("name", "城东审核")])
            #expect(disabled.status == 303)
            #expect(try await directory.member(named: "城东审核", password: String(second)) == nil)
            let audit = try await AuditLog.page(for: .root, action: nil, request: try PageRequest(), in: gateway.store)
            #expect(
                Set(audit.items.map(\.action)).isSuperset(of: [
                    "staff.add", "staff.reset_password", "staff.change", "staff.disable",
                ]))
        }
    }

    @Test func aCaseIsAssignedToAnotherUnit() async throws {
        try await withConsole(clock: TestClock(UnixTime.now())) { visitor, gateway in
            _ = await gateway.core.dispatcher.handle(Member().text("宿舍热水什么时候有"))
            let memberCase = try #require(
                try await Inbox(store: gateway.store).page(RecordFilter(), request: try PageRequest()).items.first)
            try await visitor.signIn("root", testAdminToken)
            let thread = try await visitor.get("/admin/cases/\(memberCase.id)")
            let token = try #require(ConsoleVisitor.token(in: thread))
            let assigned = try await visitor.post(
                "/admin/cases/\(memberCase.id)/assign", [("_csrf", token), ("unit", "chengxi"), ("staff", "")])
            #expect(assigned.status == 303)
            let (after, _) = try await Inbox(store: gateway.store).thread(memberCase.id, for: .root)
            #expect(after.unitCode == "chengxi")
            let nothing = try await visitor.post(
                "/admin/cases/\(memberCase.id)/assign", [("_csrf", token), ("unit", ""), ("staff", "")])
            #expect(nothing.status == 400)
        }
    }
}
