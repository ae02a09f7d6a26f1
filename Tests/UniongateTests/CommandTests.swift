import Foundation
import Logging
import Testing
import WeChatTestSupport
@testable import UnionServices
import WeChatWire

@testable import UnionGateServer

@Suite("The uniongate command")
struct CommandTests {
    @Test func checkPassesOnTheShippedReplies() throws {
        let (status, output) = try runUniongate(["check", "--replies", shippedReplies])
        #expect(status == 0, "\(output)")
        #expect(output.contains("检查通过"))
        #expect(output.contains("hotline.yaml:9: warning:"))
    }

    @Test func checkPrintsEveryProblemAsPathLineMessage() throws {
        let directory = try temporaryReplies([
            "a.yaml": "rules:\n  - keywords: [a]\n    reply: { service: nope }\n",
            "b.yaml": "menu:\n  - name: 入会\n    click: MISSING\n  - name: 一二三四五六七\n    click: MISSING\n",
        ])
        let (status, output) = try runUniongate(["check", "--replies", directory])
        #expect(status == 1)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("\(directory)/a.yaml:3: ") && $0.contains("nope") }, "\(output)")
        #expect(lines.contains { $0.hasPrefix("\(directory)/b.yaml:4: ") && $0.contains("太长") }, "\(output)")
        #expect(output.contains("检查未通过"))
    }

    @Test func checkRunsTheConversationExamples() throws {
        let directory = try temporaryReplies([
            "a.yaml": """
            rules:
              - { keywords: [热线], reply: "请拨打 12351" }
            examples:
              - { send: 热线, expect: "12351" }
              - { send: 热线, expect: "12345" }
            """
        ])
        let (status, output) = try runUniongate(["check", "--replies", directory])
        #expect(status == 1)
        #expect(output.contains("\(directory)/a.yaml:5: 示例"), "\(output)")
        #expect(output.contains("「12345」"))
        #expect(output.contains("检查未通过：1 处"))
    }

    @Test func chatTalksThroughTheSameRules() throws {
        let database = Scratch.folder.appendingPathComponent("chat-\(UUID().uuidString).sqlite")
            .path
        let (status, output) = try runUniongate(
            ["chat", "--replies", shippedReplies, "--database", database, "--openid", "o-test"],
            input: "帮助\n/click DIAL_HOTLINE\n/subscribe\n/nonsense\n/quit\n")
        #expect(status == 0, "\(output)")
        #expect(output.contains("合理化建议"))
        #expect(output.contains("12351"))
        #expect(output.contains("欢迎关注"))
        #expect(output.contains("无法识别的命令：/nonsense"))
        #expect(FileManager.default.fileExists(atPath: database))
    }

    @Test func generatedTokensSurviveARestart() async throws {
        let path = Scratch.folder.appendingPathComponent("tokens-\(UUID().uuidString).sqlite")
            .path
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let first = try await UnionStore.open(path: path, logger: logger)
        let generated = try await GatewaySecrets.resolve(wechatToken: nil, adminToken: nil, store: first)
        await first.close()
        #expect(Set(generated.generated.keys) == [.wechatToken, .adminToken])
        #expect(generated.wechatToken.count == 32)
        #expect(generated.wechatToken.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        let adminToken = try #require(generated.generated[.adminToken])
        #expect(generated.isAdminToken(adminToken))
        #expect(!generated.isAdminToken(adminToken + "x"))
        let notice = try #require(generated.startupNotice(publicURL: "https://union.example"))
        #expect(notice.contains("sign in as root with it as the password"))
        let console = GatewaySecrets.consoleNotice(consoleURL: "https://union.example/admin/")
        #expect(console.contains("https://union.example/admin/") && console.contains("root"))
        #expect(notice.contains("https://union.example/wechat"))
        #expect(notice.contains(adminToken))
        #expect(notice.contains(generated.wechatToken))

        // The file holds the admin token's digest, never the token.
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(file.range(of: Data(adminToken.utf8)) == nil)
        #expect(file.range(of: Data(generated.wechatToken.utf8)) != nil, "the scan finds what is there")

        // The next start uses the same tokens and shows neither.
        let second = try await UnionStore.open(path: path, logger: logger)
        let again = try await GatewaySecrets.resolve(wechatToken: nil, adminToken: nil, store: second)
        #expect(again.wechatToken == generated.wechatToken)
        #expect(again.isAdminToken(adminToken))
        #expect(again.generated.isEmpty)
        #expect(again.startupNotice(publicURL: nil) == nil)
        let configured = try await GatewaySecrets.resolve(wechatToken: "mine", adminToken: "ours", store: second)
        #expect(configured.wechatToken == "mine")
        #expect(configured.isAdminToken("ours"))
        #expect(!configured.isAdminToken(adminToken))
        #expect(configured.generated.isEmpty)
        #expect(configured.startupNotice(publicURL: nil) == nil)
        await second.close()
    }

    /// Earlier versions stored the generated admin token itself: it is replaced by its digest.
    @Test func aStoredPlainAdminTokenBecomesItsDigest() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try await UnionStore.open(path: ":memory:", logger: logger)
        let legacy = GatewaySecrets.randomToken(length: 48)
        try await store.setSetting(GatewaySecrets.legacyAdminTokenKey, value: legacy)
        let secrets = try await GatewaySecrets.resolve(wechatToken: "w", adminToken: nil, store: store)
        #expect(secrets.isAdminToken(legacy))
        #expect(secrets.generated.isEmpty)
        #expect(try await store.setting(GatewaySecrets.legacyAdminTokenKey) == nil)
        #expect(try await store.setting(GatewaySecrets.adminDigestKey)?.count == 64)
        await store.close()
    }

    /// `uniongate migrate` moves a union's SQLite file into PostgreSQL; the commands then work on
    /// PostgreSQL through --database or DATABASE_URL.
    @Test func migrateToPostgreSQLAndUseItFromTheTerminal() async throws {
        let (path, _) = try await Self.storeWithOneApplication(suggestion: false)
        let url = try TestPostgres.database()
        let migrated = try runUniongate(["migrate", "--from", path, "--to", url])
        #expect(migrated.status == 0, "\(migrated.output)")
        #expect(migrated.output.contains("membership_applications") && migrated.output.contains("各表行数一致"))
        #expect(!migrated.output.contains(TestPostgres.password))
        let again = try runUniongate(["migrate", "--from", path, "--to", url])
        #expect(again.status != 0 && again.output.contains("not empty"), "\(again.output)")
        let listed = try runUniongate(["members", "list", "--database", url])
        #expect(
            listed.status == 0 && listed.output.contains("张三") && listed.output.contains("共 1 条"), "\(listed.output)")
        let fromEnvironment = try runUniongate(["members", "list"], environment: ["DATABASE_URL": url])
        #expect(fromEnvironment.output.contains("RH-2026-000001"), "\(fromEnvironment.output)")
        let wrong = try runUniongate(["members", "list", "--database", "postgres://u@127.0.0.1:1/x?sslmode=disable"])
        #expect(wrong.status != 0 && wrong.output.contains("PostgreSQL"), "\(wrong.output)")
    }

    /// A new SQLite file holding 张三's application (RH-2026-000001) and, when asked, a suggestion.
    static func storeWithOneApplication(suggestion: Bool) async throws -> (path: String, logger: Logger) {
        let path = Scratch.folder.appendingPathComponent("cli-\(UUID().uuidString).sqlite").path
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try await UnionStore.open(path: path, logger: logger)
        try await store.transaction { database in
            _ = try await MembershipRegistry.submit(
                openid: "oA", answers: ["name": "张三", "phone": "13812345678", "unit": "生产一部"], messageKey: "k1",
                at: 1_795_363_200, year: 2026, in: database)
            if suggestion {
                _ = try await SuggestionBox.submit(
                    openid: "oA", content: "食堂增加夜班供餐", messageKey: "k2", at: 1_795_363_200, year: 2026,
                    in: database)
            }
        }
        await store.close()
        return (path, logger)
    }

    /// The pool size flag is PostgreSQL's; a bad one is refused before anything opens.
    @Test func thePoolSizeIsForPostgreSQLAndChecked() throws {
        let file = Scratch.folder.appendingPathComponent("pool-\(UUID().uuidString).sqlite")
            .path
        let sqlite = try runUniongate(["members", "list", "--database", file, "--database-pool", "4"])
        #expect(sqlite.status != 0)
        #expect(sqlite.output.contains("is for PostgreSQL"), "\(sqlite.output)")
        #expect(!FileManager.default.fileExists(atPath: file))
        let url = "postgres://u:p@127.0.0.1:1/db"
        let tooMany = try runUniongate(["members", "list", "--database", url, "--database-pool", "500"])
        #expect(tooMany.output.contains("1 to 200"), "\(tooMany.output)")
        let environment = try runUniongate(
            ["members", "list", "--database", url], environment: ["DATABASE_POOL_SIZE": "many"])
        #expect(environment.output.contains("DATABASE_POOL_SIZE"), "\(environment.output)")
    }

    @Test func adminListsFromTheTerminal() async throws {
        let (path, logger) = try await Self.storeWithOneApplication(suggestion: true)

        let table = try runUniongate(["members", "list", "--database", path])
        #expect(table.status == 0, "\(table.output)")
        #expect(table.output.contains("RH-2026-000001") && table.output.contains("张三") && table.output.contains("审核中"))
        #expect(table.output.contains("共 1 条"))
        let pending = try runUniongate(["members", "list", "--status", "approved", "--database", path])
        #expect(pending.output.contains("共 0 条"))
        let bad = try runUniongate(["members", "list", "--status", "maybe", "--database", path])
        #expect(bad.status != 0)
        #expect(bad.output.contains("pending, approved, rejected"))

        let csv = try runUniongate(["suggestions", "list", "--csv", "--database", path])
        #expect(csv.output.hasPrefix("\u{FEFF}编号,内容,状态"))
        #expect(csv.output.contains("JY-2026-000001,食堂增加夜班供餐,已收到"))

        let approve = try runUniongate(["members", "approve", "1", "--database", path])
        #expect(approve.status == 0, "\(approve.output)")
        #expect(approve.output.contains("已通过"))
        let twice = try runUniongate(["members", "approve", "1", "--database", path])
        #expect(twice.status != 0)
        let update = try runUniongate([
            "suggestions", "update", "1", "--status", "adopted", "--reply", "已安排", "--database", path,
        ])
        #expect(update.output.contains("已采纳"))
        let outbox = try runUniongate(["outbox", "--database", path])
        #expect(outbox.output.contains("queued") && outbox.output.contains("共 2 条"))
        #expect(outbox.output.contains("membership") && outbox.output.contains("suggestion"))
        // A notice that went by template message shows its channel and why the subscription did not.
        let reopened = try await UnionStore.open(path: path, logger: logger)
        try await reopened.transaction { database in
            try await database.update("outbox").set("status", to: "sent").set("channel", to: "template")
                .set("channel_note", to: "订阅通知：职工未订阅此模板").set("delivery", to: "success")
                .where("notice_kind", .equal, "membership").run()
        }
        await reopened.close()
        let channels = try runUniongate(["outbox", "--status", "sent", "--database", path])
        #expect(channels.output.contains("模板消息（已送达）"), "\(channels.output)")
        #expect(channels.output.contains("订阅通知：职工未订阅此模板"))
    }
}
