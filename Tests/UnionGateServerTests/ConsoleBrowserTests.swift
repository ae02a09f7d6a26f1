import Foundation
import Testing
import WeChatTestSupport

@testable import UnionServices

/// The web console in a real headless Chromium, against the real `uniongate serve` process: the
/// flows of `Tests/Browser/console_flows.py` (selenium, from Debian's `python3-selenium`, driving
/// Debian's `chromium` through `chromium-driver`). Screenshots of every page at phone and desktop
/// widths go to `.build/console-screenshots/` (or `CONSOLE_SHOTS`), each checked not blank.
///
/// It runs on its own after the suite (`UNIONGATE_BROWSER_TEST=1`, as `.ci/run` and
/// `scripts/browser` do): a browser beside the parallel suite would make its deadline tests
/// flaky. A browser that cannot start is a failure, never a skip.
@Suite(
    "The web console in a real browser", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["UNIONGATE_BROWSER_TEST"] == "1"),
    .timeLimit(.minutes(10)))
struct ConsoleBrowserTests {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    @Test func staffWorkThroughTheConsole() async throws {
        let shots = Self.shots
        let (status, output) = try await runFlows("console_flows.py", shots: shots)
        #expect(status == 0, "the browser flows failed:\n\(output)")
        #expect(output.contains("console flows passed"))
        // Every page at both widths, each file a real PNG of some size (the script checks that
        // none is blank).
        let pages = [
            "login", "overview", "members", "outbox", "cases", "case", "rules", "rule-editor", "rule-error", "staff",
            "audit", "suggestions", "forms", "menu", "qr",
        ]
        expectScreenshots(pages, in: shots, if: status == 0)
    }

    /// A member through 入会 → card → a form with a photo → 我的申请 at 375 px, and staff verifying
    /// the card and importing a roster (`Tests/Browser/member_flows.py`).
    @Test func membersWorkThroughTheirPages() async throws {
        let shots = Self.shots
        let (status, output) = try await runFlows("member_flows.py", shots: shots, publicURL: true)
        #expect(status == 0, "the member flows failed:\n\(output)")
        #expect(output.contains("member flows passed"))
        let pages = [
            "member-home", "member-join", "member-joined", "member-card", "verify", "member-forms", "member-form",
            "member-applications", "member-application", "roster-preview", "roster", "member-identity",
        ]
        expectScreenshots(pages, in: shots, if: status == 0)
    }

    static var shots: String {
        ProcessInfo.processInfo.environment["CONSOLE_SHOTS"]
            ?? testsDirectory.deletingLastPathComponent().appendingPathComponent(".build/console-screenshots").path
    }

    private func expectScreenshots(_ pages: [String], in shots: String, if ran: Bool) {
        for page in pages where ran {
            for width in ["phone", "desktop"] {
                let path = "\(shots)/\(page)-\(width).png"
                let data = FileManager.default.contents(atPath: path) ?? Data()
                #expect(
                    data.starts(with: [0x89, 0x50, 0x4E, 0x47]) && data.count > 10_000, "\(path): \(data.count) bytes")
            }
        }
    }

    /// Starts `uniongate serve` with the county's organisation and two staff accounts of 城东, runs
    /// a flows script against it, and returns its exit status and output (with the server's log
    /// when it failed).
    private func runFlows(_ script: String, shots: String, publicURL: Bool = false)
        async throws -> (Int32, String)
    {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"] {
            #expect(FileManager.default.isExecutableFile(atPath: tool), "\(tool) is missing: .ci/run installs it")
        }
        let directory = Scratch.folder.appendingPathComponent("uniongate-console-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        // The shipped Replies with the county's organisation; the join examples, written for the
        // shipped list of departments, are left out (with an org, members pick a unit instead).
        let replies = directory.appendingPathComponent("Replies")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: shippedReplies), to: replies)
        try FileManager.default.copyItem(
            at: Self.testsDirectory.appendingPathComponent("Fixtures/county-org.yaml"),
            to: replies.appendingPathComponent("org.yaml"))
        let joinFile = replies.appendingPathComponent("join.yaml")
        let join = try String(contentsOf: joinFile, encoding: .utf8)
        try String(join[..<(join.range(of: "\nexamples:")?.lowerBound ?? join.endIndex)]).appending("\n")
            .write(to: joinFile, atomically: true, encoding: .utf8)

        let executable = try uniongateExecutable().path
        let database = directory.appendingPathComponent("console.sqlite").path
        let port = try TestPostgres.freePort()
        var environment = ProcessInfo.processInfo.environment.merging([
            "WECHAT_TOKEN": testToken, "UNIONGATE_ADMIN_TOKEN": testAdminToken, "LOG_LEVEL": "info",
        ]) { $1 }
        if publicURL { environment["UNIONGATE_PUBLIC_URL"] = "http://127.0.0.1:\(port)" }
        let log = directory.appendingPathComponent("commands.log").path
        // The town's viewer and approver; the aid flow's grassroots and county approvers.
        for (name, unit, role, password) in [
            ("dong-viewer", "chengdong", "viewer", "viewer-pass-1"),
            ("dong-approver", "chengdong", "approver", "approver-pass-1"),
            ("huanwei-approver", "chengdong-huanwei", "approver", "huanwei-pass-1"),
            ("county-approver", "county", "approver", "county-pass-1"),
        ] {
            let status = try await run(
                [
                    executable, "staff", "add", name, "--unit", unit, "--role", role, "--password", password,
                    "--replies", replies.path, "--database", database,
                ], environment: environment, output: log)
            #expect(status == 0, "staff add \(name): \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        #expect(
            try await run([executable, "check", "--replies", replies.path], environment: environment, output: log) == 0)

        let serverLog = directory.appendingPathComponent("server.log").path
        let server = try Child(
            [
                executable, "serve", "--port", String(port), "--replies", replies.path, "--database", database,
            ], environment: environment, output: serverLog)
        defer { server.kill(SIGTERM) }
        let client = WeChatClient(port: port)
        try await waitUntil(timeout: .seconds(60)) { try await client.request("GET", "/healthz").status == 200 }

        let flowsLog = directory.appendingPathComponent("flows.log").path
        let status = try await run(
            ["/usr/bin/python3", Self.testsDirectory.appendingPathComponent("Browser/\(script)").path],
            environment: environment.merging([
                "CONSOLE_URL": "http://127.0.0.1:\(port)", "ROOT_TOKEN": testAdminToken, "REPLIES_DIR": replies.path,
                "SHOTS_DIR": shots, "APPROVER": "dong-approver:approver-pass-1", "VIEWER": "dong-viewer:viewer-pass-1",
                "GRASSROOTS": "huanwei-approver:huanwei-pass-1", "COUNTY": "county-approver:county-pass-1",
                "PYTHONDONTWRITEBYTECODE": "1",
            ]) { $1 }, output: flowsLog)
        let output = (try? String(contentsOfFile: flowsLog, encoding: .utf8)) ?? ""
        print("\(script):\n\(output)")
        #expect(server.isRunning, "the gateway still runs after the flows")
        return (status, status == 0 ? output : output + "\nserver:\n" + tail(serverLog))
    }

    /// Runs a command to its end; returns its exit status.
    private func run(_ arguments: [String], environment: [String: String], output: String) async throws -> Int32 {
        let pid = try spawnProcess(arguments, environment: environment, output: output)
        return await Task.detached {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            return (status >> 8) & 0xff
        }.value
    }

    private func tail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(30).joined(separator: "\n")
    }
}
