import Foundation
import Logging
import Testing
import WeChatTestSupport

@testable import UnionServices

/// The README's PostgreSQL backup, run as written: `pg_dump --format=custom` of a database in
/// use, `createdb`, `pg_restore` into it, and the gateway's store opened on the restored one.
@Suite("Backups: PostgreSQL")
struct StoreBackupPostgresTests {
    @Test func pgDumpAndPgRestoreBringEverythingBack() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let url = try TestPostgres.database()
        let store = try await UnionStore.open(path: url, logger: logger)
        var numbers: [String] = []
        for index in 0..<5 {
            let suggestion = try await store.transaction { database in
                try await SuggestionBox.submit(
                    openid: "oBackup\(index)", content: "第\(index)条：食堂增加夜班供餐", messageKey: "pg-backup-\(index)",
                    at: 300 + Int64(index), year: 2026, in: database)
            }
            numbers.append(suggestion.number)
        }
        let dump = Scratch.folder.appendingPathComponent("uniongate-\(UUID().uuidString).dump").path
        // Taken while the store still has the database open.
        try TestPostgres.runTool("pg_dump", ["--format=custom", "--file=\(dump)", TestPostgres.libpqURL(of: url)])
        await store.close()

        let name = "restored_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12))"
        let base = TestPostgres.libpqURL(of: url)
        let server = base.components(separatedBy: "/").dropLast().joined(separator: "/")
        try TestPostgres.runTool("createdb", ["--maintenance-db=\(server)/postgres?sslmode=disable", name])
        try TestPostgres.runTool(
            "pg_restore", ["--no-owner", "--exit-on-error", "--dbname=\(server)/\(name)?sslmode=disable", dump])

        let restoredURL = url.replacingOccurrences(of: URL(string: base)!.lastPathComponent, with: name)
        #expect(restoredURL != url)
        let restored = try await UnionStore.open(path: restoredURL, logger: logger)
        let listed = try await SuggestionBox(store: restored).list()
        #expect(Set(listed.map(\.number)) == Set(numbers))
        // The restored database takes new writes, numbered after the restored ones.
        let next = try await restored.transaction { database in
            try await SuggestionBox.submit(
                openid: "oAfter", content: "恢复之后：澡堂热水时间延长", messageKey: "pg-backup-after", at: 400, year: 2026,
                in: database)
        }
        #expect(!numbers.contains(next.number))
        await restored.close()
    }
}
