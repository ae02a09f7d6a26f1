import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Logging
import Testing
import WeChatAPI
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

/// The shipped Replies with the county organisation of `Tests/Fixtures/county-org.yaml`.
let countyReplies: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    var files: [String: String] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: shippedReplies)) ?? []
    where name.hasSuffix(".yaml") {
        files[name] = try? String(contentsOfFile: shippedReplies + "/" + name, encoding: .utf8)
    }
    files["org.yaml"] = try? String(
        contentsOfFile: root.appendingPathComponent("Fixtures/county-org.yaml").path, encoding: .utf8)
    files["legal-form.yaml"] = try? String(
        contentsOfFile: root.appendingPathComponent("Fixtures/legal-form.yaml").path, encoding: .utf8)
    return try! temporaryReplies(files)
}()

/// The shipped Replies with a chat form that has a photo field (`Fixtures/legal-form.yaml`).
let formReplies: String = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    var files: [String: String] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: shippedReplies)) ?? []
    where name.hasSuffix(".yaml") {
        files[name] = try? String(contentsOfFile: shippedReplies + "/" + name, encoding: .utf8)
    }
    files["legal-form.yaml"] = try? String(
        contentsOfFile: root.appendingPathComponent("Fixtures/legal-form.yaml").path, encoding: .utf8)
    return try! temporaryReplies(files)
}()

/// A pending application from a new member of `unit`, stored directly.
func pendingApplication(_ store: UnionStore, unit: String, name: String = "张三") async throws -> MembershipApplication {
    let openid = "o\(UUID().uuidString.prefix(8))"
    return try await store.transaction { database in
        try await MembershipRegistry.submit(
            openid: openid,
            answers: ["name": name, "phone": "13812345678", "unit": unit, "unit_code": unit],
            messageKey: UUID().uuidString, at: UnixTime.now(), year: 2026, in: database)
    }
}

@Suite("Staff and roles through the admin API")
struct StaffAccessTests {
    /// Every role of the town union 城东 against every admin route: what the role allows answers
    /// 200, the rest 403; records and units of the other town answer 404.
    @Test func everyRoleAgainstEveryRoute() async throws {
        try await withGateway(replies: countyReplies) { client, gateway in
            let store = gateway.store
            let directory = StaffDirectory(store: store, cost: 4)
            var tokens: [StaffRole: String] = [:]
            for role in StaffRole.allCases {
                _ = try await directory.add(
                    name: "东-\(role.rawValue)", unit: "chengdong", role: role, password: nil,
                    organisation: gateway.rules.engine.book.join.organisation, by: .commandLine, at: 1)
                tokens[role] = try await directory.createToken(for: "东-\(role.rawValue)", by: .commandLine, at: 1)
            }
            let west = try await pendingApplication(store, unit: "chengxi-huanwei", name: "西人")
            let westSuggestion = try await store.transaction { database in
                try await SuggestionBox.submit(
                    openid: west.openid, content: "西边的一条建议", messageKey: "ws", at: 1, year: 2026, in: database)
            }
            for role in StaffRole.allCases {
                let token = tokens[role]!
                let may = role.permissions
                func expect(
                    _ method: String, _ path: String, query: [String: String] = [:], json: String? = nil,
                    _ status: Int, _ line: Int = #line
                ) async throws {
                    let result = try await client.admin(method, path, query: query, json: json, token: token)
                    #expect(
                        result.status == status, "\(role) \(method) \(path) \(query): \(result.status) \(result.body)",
                        sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: line, column: 1))
                }
                let east = try await pendingApplication(store, unit: "chengdong-huanwei")
                let eastSuggestion = try await store.transaction { database in
                    try await SuggestionBox.submit(
                        openid: east.openid, content: "东边的一条建议", messageKey: "es-\(role)", at: 1, year: 2026,
                        in: database)
                }
                // Reading: every role, inside the subtree; another town's unit is not there.
                try await expect("GET", "/admin/api/members", 200)
                try await expect("GET", "/admin/api/members", query: ["unit": "chengdong-shuiwu"], 200)
                try await expect("GET", "/admin/api/members", query: ["unit": "chengxi"], 404)
                try await expect("GET", "/admin/api/suggestions", 200)
                try await expect("GET", "/admin/api/forms/维权咨询/submissions", 200)
                try await expect("GET", "/admin/api/stats", 200)
                try await expect("GET", "/admin/api/stats", query: ["unit": "chengxi"], 404)
                try await expect("GET", "/admin/api/qr", 200)
                // Exports: admin and approver.
                let export = may.contains(.export) ? 200 : 403
                try await expect("GET", "/admin/api/members", query: ["format": "csv"], export)
                try await expect("GET", "/admin/api/suggestions", query: ["format": "csv"], export)
                // Decisions: admin and approver, inside the subtree only.
                let decide = may.contains(.decide) ? 200 : 403
                try await expect("POST", "/admin/api/members/\(east.id)/approve", decide)
                try await expect("POST", "/admin/api/members/\(west.id)/approve", decide == 200 ? 404 : 403)
                try await expect(
                    "POST", "/admin/api/members/\(west.id)/reject", json: #"{"reason":"不是"}"#,
                    decide == 200 ? 404 : 403)
                try await expect(
                    "PATCH", "/admin/api/suggestions/\(eastSuggestion.id)", json: #"{"status":"adopted"}"#,
                    decide)
                try await expect(
                    "PATCH", "/admin/api/suggestions/\(westSuggestion.id)", json: #"{"status":"adopted"}"#,
                    decide == 200 ? 404 : 403)
                // The audit log: admin (of their part); the outbox: the top unit's admin only.
                try await expect("GET", "/admin/api/audit", may.contains(.administer) ? 200 : 403)
                try await expect("GET", "/admin/api/outbox", 403)
                // The poster of another town's unit is not there.
                try await expect("GET", "/admin/qr/chengxi-huanwei", 404)
            }
            // The root admin sees and does everything; the other town's application is theirs.
            #expect(try await client.admin("GET", "/admin/api/outbox").status == 200)
            #expect(try await client.admin("POST", "/admin/api/members/\(west.id)/approve").status == 200)

            // A town staff member's list holds the town's records only; the root's holds all.
            let eastList = try await client.admin("GET", "/admin/api/members", token: tokens[.viewer])
            let eastRows = try JSONSerialization.jsonObject(with: Data(eastList.body.utf8)) as! [[String: Any]]
            #expect(eastRows.count == 4 && eastRows.allSatisfy { $0["unitCode"] as? String == "chengdong-huanwei" })
            #expect(try await client.adminList("/admin/api/members").count == 5)

            // The audit log holds each approval and each export, with who did it.
            let audit = try await client.adminList("/admin/api/audit", query: ["per_page": "500"])
            let actions = audit.map { "\($0["actor"] as! String) \($0["action"] as! String)" }
            for name in ["东-admin", "东-approver"] {
                #expect(actions.contains("\(name) member.approve"))
                #expect(actions.contains("\(name) members.export"))
                #expect(actions.contains("\(name) suggestions.export"))
                #expect(actions.contains("\(name) suggestion.update"))
            }
            #expect(actions.contains("root member.approve"))
            #expect(!actions.contains { $0.hasPrefix("东-viewer") || $0.hasPrefix("东-editor") })
            // The newest export: the approver's, when the town had three applications.
            let export = try #require(audit.first { $0["action"] as? String == "members.export" })
            #expect(export["actor"] as? String == "东-approver")
            #expect((export["after"] as? [String: String])?["rows"] == "3")
            // The town admin's view of the log is the town's.
            let townAudit = try await client.admin(
                "GET", "/admin/api/audit", query: ["per_page": "500"], token: tokens[.admin])
            let townRows = try JSONSerialization.jsonObject(with: Data(townAudit.body.utf8)) as! [[String: Any]]
            #expect(
                !townRows.isEmpty && townRows.allSatisfy { ($0["unitCode"] as? String)?.hasPrefix("chengdong") == true }
            )
            // Nothing in the API changes the log.
            for method in ["POST", "PATCH", "DELETE", "PUT"] {
                #expect(try await client.admin(method, "/admin/api/audit").status >= 400)
            }
            // A disabled account's token stops working at once.
            _ = try await directory.disable("东-admin", by: .commandLine, at: 2)
            #expect(try await client.admin("GET", "/admin/api/members", token: tokens[.admin]).status == 401)
        }
    }

    @Test func listsArePagedWithLinksAndSearchable() async throws {
        try await withGateway(replies: countyReplies) { client, gateway in
            for index in 0..<7 {
                _ = try await pendingApplication(gateway.store, unit: "chengxi-factory-night", name: "夜班\(index)")
            }
            _ = try await pendingApplication(gateway.store, unit: "chengdong-shuiwu", name: "水务")
            let first = try await client.admin("GET", "/admin/api/members", query: ["per_page": "3"])
            #expect(first.status == 200)
            let rows = try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as! [[String: Any]]
            #expect(rows.map { $0["name"] as! String } == ["水务", "夜班6", "夜班5"])
            let page = try await client.request(
                "GET", "/admin/api/members", query: ["per_page": "3", "page": "2", "unit": "chengxi"],
                headers: ["Authorization": "Bearer \(testAdminToken)"])
            #expect(page.status == 200)
            let second = try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as! [[String: Any]]
            #expect(second.map { $0["name"] as! String } == ["夜班3", "夜班2", "夜班1"])
            let searched = try await client.adminList("/admin/api/members", query: ["q": "水务"])
            #expect(searched.map { $0["name"] as! String } == ["水务"])
            #expect(try await client.admin("GET", "/admin/api/members", query: ["per_page": "501"]).status == 400)
            #expect(try await client.admin("GET", "/admin/api/members", query: ["page": "x"]).status == 400)
        }
    }

    @Test func pagesCarryTheTotalAndTheirNeighbours() async throws {
        try await withGateway(replies: countyReplies) { client, gateway in
            for _ in 0..<5 { _ = try await pendingApplication(gateway.store, unit: "chengdong-huanwei") }
            var components = URLComponents(string: "http://127.0.0.1:\(client.port)/admin/api/members")!
            components.queryItems = [
                URLQueryItem(name: "per_page", value: "2"), URLQueryItem(name: "page", value: "2"),
            ]
            var request = URLRequest(url: components.url!)
            request.setValue("Bearer \(testAdminToken)", forHTTPHeaderField: "Authorization")
            let (_, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.value(forHTTPHeaderField: "X-Total-Count") == "5")
            let link = http.value(forHTTPHeaderField: "Link") ?? ""
            #expect(link.contains("page=3") && link.contains("rel=\"next\""))
            #expect(link.contains("page=1") && link.contains("rel=\"prev\""))
            #expect(link.contains("per_page=2"))
        }
    }
}

@Suite("Joining by QR code (扫码入会)")
struct QRJoinTests {
    static func client(_ base: String, store: UnionStore) -> WeChatAPIClient {
        var options = WeChatAPIClient.Options()
        options.allowsHTTP = true
        options.qrImageBaseURL = base
        options.backoff = .milliseconds(5)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return WeChatAPIClient(
            baseURL: base, appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret,
            cache: StoreTokenCache(store: store),
            options: options, logger: logger)
    }

    @Test func codesAreMadeThroughWeChatWithinItsLimits() async throws {
        try await withFakeWeChat { fake, base in
            try await withGateway(replies: countyReplies) { _, gateway in
                let store = gateway.store
                let organisation = gateway.rules.engine.book.join.organisation
                let codes = QRCodes(store: store)
                let api = Self.client(base, store: store)
                let permanent = try await codes.create(
                    unit: "chengdong-huanwei", days: nil, organisation: organisation, client: api, by: .root, at: 1_000)
                #expect(
                    permanent.permanent && permanent.scene == "join:chengdong-huanwei" && permanent.expiresAt == nil)
                #expect(permanent.image?.starts(with: [0x42, 0x4D]) == true)
                let request = try #require(fake.calls(to: "/cgi-bin/qrcode/create").last)
                let body = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as! [String: Any]
                #expect(body["action_name"] as? String == "QR_LIMIT_STR_SCENE" && body["expire_seconds"] == nil)
                #expect(fake.calls(to: "/cgi-bin/showqrcode").map(\.body) == [permanent.ticket])

                // WeChat gives a permanent scene its ticket again: one code, not two.
                _ = try await codes.create(
                    unit: "chengdong-huanwei", days: nil, organisation: organisation, client: api, by: .root, at: 1_001)
                #expect(try await codes.list(for: .root).count == 1)

                let temporary = try await codes.create(
                    unit: "chengxi-huanwei", days: 7, organisation: organisation, client: api, by: .root, at: 1_000)
                #expect(!temporary.permanent && temporary.expiresAt == 1_000 + 7 * 86_400)
                let temporaryBody =
                    try JSONSerialization.jsonObject(
                        with: Data(try #require(fake.calls(to: "/cgi-bin/qrcode/create").last).body.utf8))
                    as! [String: Any]
                #expect(temporaryBody["action_name"] as? String == "QR_STR_SCENE")
                #expect((temporaryBody["expire_seconds"] as? NSNumber)?.intValue == 604_800)

                func refusal(_ unit: String, days: Int? = nil, by actor: Principal = .root) async -> String? {
                    do {
                        _ = try await codes.create(
                            unit: unit, days: days, organisation: organisation, client: api, by: actor, at: 1_002)
                        return nil
                    } catch let error as AdminActionError {
                        return "\(error.kind)"
                    } catch let error as WeChatAPIError {
                        return "wechat \(error.code)"
                    } catch {
                        return "\(error)"
                    }
                }
                let calls = fake.calls(to: "/cgi-bin/qrcode/create").count
                #expect(await refusal("chengxi", days: 31) == "invalid")
                #expect(await refusal("no-such-unit") == "notFound")
                #expect(
                    await refusal(
                        "chengxi",
                        by: Principal.staff(
                            StaffMember(
                                id: 1, name: "看", unitCode: "chengxi", role: .viewer, mustChangePassword: false,
                                disabled: false, createdAt: 0), in: organisation)) == "forbidden")
                #expect(fake.calls(to: "/cgi-bin/qrcode/create").count == calls)  // refused before calling WeChat

                // WeChat's own refusals come back as they are, and nothing is stored.
                fake.script("/cgi-bin/qrcode/create", [45009])
                #expect(await refusal("chengxi") == "wechat 45009")
                #expect(try await codes.code(unit: "chengxi") == nil)
                // A rejected token is refreshed once and the call made again.
                fake.invalidateToken()
                _ = try await codes.create(
                    unit: "chengxi", days: nil, organisation: organisation, client: api, by: .root, at: 1_003)
                #expect(try await codes.code(unit: "chengxi") != nil)

                // The account's 100,000 permanent codes: the next is refused before WeChat is asked.
                try await store.transaction { database in
                    try await database.raw(
                        """
                        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
                        INSERT INTO qr_codes (scene, unit_code, permanent, ticket, url, created_at, created_by)
                        SELECT 'join:old', 'old', 1, 'old-' || i, '', 0, 'cli' FROM n
                        """
                    ).run()
                }
                let before = fake.calls(to: "/cgi-bin/qrcode/create").count
                #expect(await refusal("chengdong-shuiwu") == "conflict")
                #expect(await refusal("chengdong-shuiwu", days: 30) == nil)  // temporary codes are still made
                #expect(fake.calls(to: "/cgi-bin/qrcode/create").count == before + 1)

                let audit = try await AuditLog.page(for: .root, action: "qr.create", request: PageRequest(), in: store)
                #expect(audit.total == 5)
            }
        }
    }

    @Test func aScanStartsJoiningWithTheUnitFilledIn() async throws {
        try await withFakeWeChat { _, base in
            try await withGateway(replies: countyReplies) { client, gateway in
                let store = gateway.store
                let organisation = gateway.rules.engine.book.join.organisation
                let code = try await QRCodes(store: store).create(
                    unit: "chengdong-huanwei", days: nil, organisation: organisation,
                    client: Self.client(base, store: store), by: .root, at: 1_000)

                // Someone follows through the code: 入会 starts with the unit filled in.
                let newcomer = Member()
                let follow = newcomer.event(.subscribe(scene: "join:chengdong-huanwei", ticket: code.ticket), at: 10)
                let first = try #require(try await client.replyText(follow))
                #expect(first.contains("您正在申请加入「城东环卫所工会」"))
                #expect(first.contains("姓名"))
                // WeChat's retry gets the same answer and counts nothing twice.
                #expect(try await client.replyText(follow) == first)
                // Name and phone; the unit question is skipped: the shipped 工号 comes next.
                let replies = try await client.conversation(newcomer, ["王五", "13812345678", "无"])
                #expect(replies[1].contains("工号") && !replies[1].contains("单位"))
                #expect(replies[2].contains("单位/部门：城东环卫所工会") && replies[2].contains("确认"))
                let done = try await client.conversation(newcomer, ["确认"])
                #expect(done[0].contains("入会申请已提交"))
                let application = try #require(try await MembershipRegistry(store: store).latest(for: newcomer.openid))
                #expect(application.unitCode == "chengdong-huanwei" && application.unit == "城东环卫所工会")
                #expect(application.extra == ["employee_id": ""])

                // A follower who scans: the same, through SCAN.
                let follower = Member()
                let scan = try #require(
                    try await client.replyText(
                        follower.event(.scan(scene: "join:chengdong-huanwei", ticket: code.ticket), at: 11)))
                #expect(scan.contains("您正在申请加入「城东环卫所工会」"))
                #expect(!scan.contains("感谢关注"))

                // An approved member who scans gets their status.
                _ = try await MembershipRegistry(store: store).approve(application.id, at: 12)
                try await Task.sleep(for: .milliseconds(1))
                let status = try #require(
                    try await client.replyText(
                        newcomer.event(.scan(scene: "join:chengdong-huanwei", ticket: code.ticket), at: 13)))
                #expect(status.contains("您已是工会会员"))

                // An unknown code, and a deleted one, fall back to the ordinary 入会 with a note.
                let stranger = Member()
                let unknown = try #require(
                    try await client.replyText(stranger.event(.scan(scene: "join:nowhere", ticket: "gQnone"), at: 14)))
                #expect(unknown.contains("这个二维码已失效") && unknown.contains("姓名"))
                #expect(!unknown.contains("您正在申请加入"))
                _ = try await QRCodes(store: store).delete(unit: "chengdong-huanwei", by: .root, at: 15)
                let late = Member()
                let deleted = try #require(
                    try await client.replyText(
                        late.event(.subscribe(scene: "join:chengdong-huanwei", ticket: code.ticket), at: 16)))
                #expect(deleted.contains("这个二维码已失效") && deleted.contains("感谢关注"))

                // The funnel: two scans (one a follow), two starts, one submitted and approved.
                let list = try await QRCodes(store: store).list(for: .root)
                #expect(list.count == 1 && list[0].code.deleted)
                #expect(
                    list[0].funnel == QRFunnel(scans: 3, follows: 1, started: 2, submitted: 1, approved: 1))
                let listed = try await client.adminList("/admin/api/qr")
                let funnel = try #require(listed.first?["funnel"] as? [String: Int])
                #expect(funnel == ["scans": 3, "follows": 1, "started": 2, "submitted": 1, "approved": 1])
                let stats = try await client.admin("GET", "/admin/api/stats", query: ["unit": "chengdong"])
                let object = try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as! [String: Any]
                #expect(object["members"] as? Int == 1)
                #expect((object["qr"] as? [String: Int])?["approved"] == 1)
            }
        }
    }
}

/// Needs Chromium, so it runs with the console's browser test, alone after the suite
/// (`UNIONGATE_BROWSER_TEST=1`, as `.ci/run` and `scripts/browser` do); a browser that cannot
/// start is a failure there, never a skip.
@Suite(
    "The QR poster in a real browser",
    .enabled(if: ProcessInfo.processInfo.environment["UNIONGATE_BROWSER_TEST"] == "1"))
struct QRPosterTests {
    @Test func thePosterPrintsOnOneA4Page() async throws {
        try await withFakeWeChat { _, base in
            try await withGateway(replies: countyReplies) { client, gateway in
                let store = gateway.store
                _ = try await QRCodes(store: store).create(
                    unit: "chengdong-huanwei", days: nil, organisation: gateway.rules.engine.book.join.organisation,
                    client: QRJoinTests.client(base, store: store), by: .root, at: 1_000)
                let page = try await client.admin("GET", "/admin/qr/chengdong-huanwei")
                #expect(page.status == 200 && page.contentType?.hasPrefix("text/html") == true)
                #expect(page.body.contains("某某县总工会") && page.body.contains("城东环卫所工会"))
                #expect(page.body.contains("data:image/bmp;base64,"))
                #expect(!page.body.contains("http://") && !page.body.contains("https://"))  // nothing from outside
                #expect(try await client.admin("GET", "/admin/qr/chengxi-huanwei").status == 404)  // no code yet
                #expect(try await client.admin("GET", "/admin/qr/chengdong-huanwei", token: nil).status == 401)

                let directory = Scratch.folder.appendingPathComponent(
                    "poster-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: directory) }
                let html = directory.appendingPathComponent("poster.html")
                try page.body.write(to: html, atomically: true, encoding: .utf8)
                let pdf = directory.appendingPathComponent("poster.pdf")
                let screenshot = directory.appendingPathComponent("poster.png")
                try Chromium.run([
                    "--print-to-pdf=\(pdf.path)", "--no-pdf-header-footer", html.absoluteString,
                ])
                try Chromium.run([
                    "--screenshot=\(screenshot.path)", "--window-size=794,1123", html.absoluteString,
                ])
                let bytes = try Data(contentsOf: pdf)
                #expect(bytes.starts(with: Array("%PDF".utf8)))
                #expect(Chromium.pageCount(bytes) == 1)
                // A4 portrait: 595 × 842 points.
                #expect(String(decoding: bytes, as: UTF8.self).contains("/MediaBox [0 0 594.9"))
                #expect(try Data(contentsOf: screenshot).starts(with: [0x89, 0x50, 0x4E, 0x47]))
                if let keep = ProcessInfo.processInfo.environment["UNIONGATE_KEEP_SCREENSHOTS"] {
                    for file in [screenshot, html] {
                        try? FileManager.default.copyItem(
                            at: file,
                            to: URL(fileURLWithPath: keep).appendingPathComponent("qr-" + file.lastPathComponent))
                    }
                }
            }
        }
    }
}

/// Headless Chromium, as Debian installs it (`chromium`). Missing is a failure, not a skip:
/// `.ci/run` installs it.
enum Chromium {
    static var executable: String {
        for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return "/usr/bin/chromium"
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs headless Chromium with `arguments` and waits for it (60 s at most).
    static func run(_ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure(description: "chromium is not installed (apt-get install chromium fonts-noto-cjk)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        let profile = Scratch.folder.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        process.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000",
            ] + arguments
        process.standardOutput = FileHandle.nullDevice
        // Its messages go to a file: a pipe nobody reads while it runs could fill and stall it.
        let log = profile.appendingPathExtension("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            throw Failure(description: "chromium did not finish within 60 s")
        }
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw Failure(description: "chromium exited with \(process.terminationStatus): \(output.suffix(2000))")
        }
    }

    /// How many pages a PDF has: its page objects (`/Type /Page`, not `/Pages`).
    static func pageCount(_ pdf: Data) -> Int {
        let text = String(decoding: pdf, as: UTF8.self)
        var count = 0
        var rest = text[...]
        while let range = rest.range(of: "/Type /Page") {
            let next = rest[range.upperBound...].first
            if next != "s" { count += 1 }
            rest = rest[range.upperBound...]
        }
        return count
    }
}

@Suite("Choosing a unit over the wire")
struct UnitChoiceOverHTTPTests {
    @Test func aMemberFindsTheirUnitByNameOrWalksTheTree() async throws {
        try await withGateway(replies: countyReplies) { client, gateway in
            let searcher = Member()
            let found = try await client.conversation(searcher, ["入会", "赵六", "13812345678", "环卫"])
            #expect(found[3].contains("找到 2 个名称含「环卫」的单位"))
            #expect(found[3].contains("1. 城东环卫所工会（城东镇工会）") && found[3].contains("2. 城西环卫所工会（城西镇工会）"))
            let chosen = try await client.conversation(searcher, ["2", "无", "确认"])
            #expect(chosen[1].contains("单位/部门：城西环卫所工会"))
            #expect(chosen[2].contains("入会申请已提交"))
            let application = try #require(
                try await MembershipRegistry(store: gateway.store).latest(for: searcher.openid))
            #expect(application.unitCode == "chengxi-huanwei")

            let walker = Member()
            let walked = try await client.conversation(walker, ["入会", "钱七", "13912345678", "2", "2", "1"])
            #expect(walked[3].contains("「城西镇工会」下的单位") && walked[3].contains("2. 城西纺织厂工会 ›"))
            #expect(walked[4].contains("「城西纺织厂工会」下的单位") && walked[4].contains("1. 纺织厂夜班班组"))
            #expect(walked[5].contains("工号"))
            _ = try await client.conversation(walker, ["无", "确认"])
            #expect(
                try await MembershipRegistry(store: gateway.store).latest(for: walker.openid)?.unitCode
                    == "chengxi-factory-night")
        }
    }

    /// The shipped Replies still have an old `join.units` list: a member picks by number, as
    /// before, and the application records the unit's name and its code.
    @Test func anOldUnitListBehavesAsBeforeAndRecordsACode() async throws {
        try await withGateway { client, gateway in
            let member = Member()
            let replies = try await client.conversation(member, ["入会", "孙八", "13812345678", "2", "无", "确认"])
            #expect(replies[2].contains("1. 生产一部") && replies[2].contains("2. 生产二部"))
            #expect(replies[5].contains("入会申请已提交"))
            let application = try #require(
                try await MembershipRegistry(store: gateway.store).latest(for: member.openid))
            #expect(application.unit == "生产二部" && application.unitCode == "unit-2")
        }
    }
}

@Suite("Staff, audit and QR commands")
struct OrganisationCommandTests {
    @Test func staffAccountsTokensQRCodesAndTheAuditLogFromTheTerminal() async throws {
        let database = Scratch.folder.appendingPathComponent("cli-\(UUID().uuidString).sqlite")
            .path
        let common = ["--database", database]
        let added = try await uniongate(
            ["staff", "add", "李会计", "--unit", "chengdong", "--role", "approver", "--replies", countyReplies] + common)
        #expect(added.status == 0, "\(added.output)")
        #expect(added.output.contains("已添加工作人员 李会计（审核员，城东镇工会）") && added.output.contains("一次性密码："))
        let wrongUnit = try await uniongate(
            ["staff", "add", "王", "--unit", "nowhere", "--role", "viewer", "--replies", countyReplies] + common)
        #expect(wrongUnit.status != 0 && wrongUnit.output.contains("no unit nowhere"))
        let wrongRole = try await uniongate(
            ["staff", "add", "王", "--unit", "chengxi", "--role", "boss", "--replies", countyReplies] + common)
        #expect(wrongRole.status != 0 && wrongRole.output.contains("admin, editor, approver, viewer"))

        let token = try await uniongate(["staff", "token", "李会计"] + common)
        #expect(token.status == 0 && token.output.hasPrefix("ugs_"))
        let list = try await uniongate(["staff", "list"] + common)
        #expect(list.output.contains("李会计") && list.output.contains("approver") && list.output.contains("待改密码"))
        let reset = try await uniongate(["staff", "reset-password", "李会计"] + common)
        #expect(reset.status == 0 && reset.output.contains("新的一次性密码："))
        let disabled = try await uniongate(["staff", "disable", "李会计"] + common)
        #expect(disabled.status == 0)
        #expect(try await uniongate(["staff", "disable", "无此人"] + common).status != 0)

        try await withFakeWeChat { _, base in
            let environment = [
                "WECHAT_APP_ID": FakeWeChatAPI.appId, "WECHAT_APP_SECRET": FakeWeChatAPI.secret,
                "WECHAT_API_BASE_URL": base, "WECHAT_MP_BASE_URL": base, "WECHAT_API_ALLOW_HTTP": "1",
            ]
            let created = try await uniongate(
                ["qr", "create", "--unit", "chengdong-huanwei", "--replies", countyReplies] + common,
                environment: environment)
            #expect(created.status == 0, "\(created.output)")
            #expect(created.output.contains("已为「城东环卫所工会」生成永久二维码（场景 join:chengdong-huanwei）"))
            let temporary = try await uniongate(
                ["qr", "create", "--unit", "chengxi-huanwei", "--days", "3", "--replies", countyReplies] + common,
                environment: environment)
            #expect(temporary.status == 0 && temporary.output.contains("临时二维码"))
            let tooLong = try await uniongate(
                ["qr", "create", "--unit", "chengxi-huanwei", "--days", "31", "--replies", countyReplies] + common,
                environment: environment)
            #expect(tooLong.status != 0 && tooLong.output.contains("1 to 30 days"))
        }
        let codes = try await uniongate(["qr", "list", "--replies", countyReplies] + common)
        #expect(codes.output.contains("城东环卫所工会") && codes.output.contains("永久") && codes.output.contains("临时"))
        #expect(codes.output.contains("共 2 个二维码。"))

        let audit = try await uniongate(["audit"] + common)
        #expect(audit.status == 0)
        for action in ["staff.add", "staff.token", "staff.reset_password", "staff.disable", "qr.create"] {
            #expect(audit.output.contains(action), "\(action)")
        }
        #expect(audit.output.contains("共 6 条"))
        // The secrets printed above are in no log line.
        let secret = token.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!audit.output.contains(secret))
    }
}
