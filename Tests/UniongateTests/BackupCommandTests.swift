import Foundation
import Testing
import WeChatTestSupport

/// `uniongate backup` and `restore` as an operator runs them, and `serve`'s exit status for a
/// configuration it refuses (which the systemd unit does not restart).
@Suite("Backup commands and exit statuses")
struct BackupCommandTests {
    @Test func backupThenRestoreWithTheCommands() throws {
        let folder = Scratch.folder.appendingPathComponent("backup-command-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("uniongate.sqlite").path
        let chat = try runUniongate(
            ["chat", "--replies", shippedReplies, "--database", database, "--openid", "o-backup"],
            input: "建议 停车棚需要加装充电桩，方便电动车充电\n/quit\n")
        #expect(chat.status == 0, "\(chat.output)")
        try FileManager.default.createDirectory(
            atPath: folder.appendingPathComponent("media/forms").path, withIntermediateDirectories: true)
        try Data("scan".utf8).write(to: folder.appendingPathComponent("media/forms/scan.pdf"))

        let backup = folder.appendingPathComponent("nightly.zip").path
        let made = try runUniongate(["backup", "--database", database, "--to", backup])
        #expect(made.status == 0, "\(made.output)")
        #expect(made.output.contains("已备份到") && made.output.contains("附件 1 个"), "\(made.output)")
        let again = try runUniongate(["backup", "--database", database, "--to", backup])
        #expect(again.status == 1)
        #expect(again.output.contains("exists already"), "\(again.output)")

        let restored = try runUniongate(["restore", "--database", database, "--from", backup])
        #expect(restored.status == 0, "\(restored.output)")
        #expect(restored.output.contains("已从") && restored.output.contains("原有文件已保留为"), "\(restored.output)")
        let listed = try runUniongate(["suggestions", "list", "--database", database])
        #expect(listed.output.contains("充电桩"), "\(listed.output)")

        let postgres = try runUniongate(["backup", "--database", "postgres://u@127.0.0.1:1/db", "--to", backup + "2"])
        #expect(postgres.status == 1)
        #expect(postgres.output.contains("pg_dump"), "\(postgres.output)")
    }

    @Test func serveExitsWithTheConfigurationStatusOnWhatItRefuses() throws {
        let bad = try runUniongate(
            ["serve", "--replies", shippedReplies, "--database", ":memory:", "--port", "0"],
            environment: ["UNIONGATE_TRUSTED_PROXIES": "nginx.local"])
        #expect(bad.status == 78, "\(bad.output)")
        #expect(bad.output.contains("nginx.local"), "\(bad.output)")
        let flag = try runUniongate(
            [
                "serve", "--replies", shippedReplies, "--database", ":memory:", "--port", "0", "--trusted-proxy",
                "10.0.0.0/33",
            ])
        #expect(flag.status == 78, "\(flag.output)")
        let short = try runUniongate(
            ["serve", "--replies", shippedReplies, "--database", ":memory:", "--port", "0"],
            environment: ["UNIONGATE_ADMIN_TOKEN": "short"])
        #expect(short.status == 78, "\(short.output)")
    }
}
