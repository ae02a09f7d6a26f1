import Foundation
import Logging
import SQLKit
import Testing
import WeChatTestSupport

@testable import UnionServices

@Suite("Moving a union from SQLite to PostgreSQL")
struct StoreCopyTests {
    /// An SQLite file with a little of everything: applications, suggestions, a notice in the
    /// outbox, settings, the audit log, a case with its thread (a foreign key), a QR image (bytes).
    func filledSQLite() async throws -> String {
        let path = try StoreKind.sqlite.freshLocation()
        let store = try await StoreKind.sqlite.open(path)
        try await store.setSetting("admin_token_digest", value: String(repeating: "ab", count: 32))
        try await store.transaction { database in
            for index in 0..<700 {  // more than one batch
                _ = try await MembershipRegistry.submit(
                    openid: "o\(index)",
                    answers: ["name": "会员\(index)", "phone": "139\(String(format: "%08d", index))", "unit": "机关"],
                    messageKey: "join-\(index)", at: 1_795_363_200 + Int64(index), year: 2026, in: database)
            }
            _ = try await SuggestionBox.submit(
                openid: "o1", content: "食堂增加夜班供餐", messageKey: "s1", at: 1_795_363_300, year: 2026, in: database)
            try await Outbox.enqueue(
                Notice(.membership, fields: ["number": "RH-2026-000001", "result": "已通过"], text: "恭喜！审核通过"),
                to: "o0", at: 1_795_363_400, in: database)
            try await AuditLog.record(
                .commandLine, action: "member.approve", record: "application:RH-2026-000001", unit: "",
                before: ["status": "pending"], after: ["status": "approved"], at: 1_795_363_400, in: database)
            try await database.insert(into: "cases")
                .columns(
                    "number", "openid", "unit_code", "status", "due_at", "created_at", "updated_at", "last_member_at"
                )
                .values(
                    SQLBind("LY-2026-000001"), SQLBind("o2"), SQLBind(""), SQLBind("open"), SQLBind(Int64(1)),
                    SQLBind(Int64(1)), SQLBind(Int64(1)), SQLBind(Int64(1))
                ).run()
            try await database.insert(into: "case_messages")
                .columns("case_id", "direction", "kind", "content", "created_at")
                .values(SQLBind(1), SQLBind("member"), SQLBind("text"), SQLBind("车间空调坏了"), SQLBind(Int64(1)))
                .run()
            try await database.insert(into: "qr_codes")
                .columns("scene", "unit_code", "permanent", "ticket", "url", "image", "created_at", "created_by")
                .values(
                    SQLBind("join:01"), SQLBind("01"), SQLBind(1), SQLBind("gQticket"),
                    SQLBind("http://weixin.qq.com/q/x"),
                    SQLBind(Data([0x42, 0x4D, 0x00, 0xFF, 0x10])), SQLBind(Int64(1)), SQLBind("cli")
                ).run()
        }
        await store.close()
        return path
    }

    @Test func everyTableIsCopiedCountedAndTheNextIdsFollow() async throws {
        let path = try await filledSQLite()
        let source = try await StoreKind.sqlite.open(path)
        let url = try StoreKind.postgres.freshLocation()
        let target = try await StoreKind.postgres.open(url)
        let counts = try await StoreCopy.copy(from: source, to: target)
        #expect(counts.allSatisfy { $0.source == $0.target })
        let byTable = Dictionary(uniqueKeysWithValues: counts.map { ($0.table, $0.target) })
        #expect(byTable["membership_applications"] == 700)
        #expect(byTable["suggestions"] == 1 && byTable["outbox"] == 1 && byTable["case_messages"] == 1)
        #expect(byTable["settings"] == 1 && byTable["audit_log"] == 1 && byTable["qr_codes"] == 1)
        #expect(byTable["schema_migrations"] == nil)  // the target has its own

        // The data reads back the same on PostgreSQL.
        let application = try await MembershipRegistry(store: target).page(
            RecordFilter(search: "会员699"), request: try PageRequest()
        ).items.first
        #expect(application?.phone == "13900000699" && application?.number == "RH-2026-000700")
        let notice = try await target.read { try await Outbox.list(in: $0) }.first
        #expect(notice?.notice?.kind == .membership && notice?.notice?.fields["result"] == "已通过")
        let image = try await target.read { database in
            try await database.select().column("image").from("qr_codes").first(decodingColumn: "image", as: Data.self)
        }
        #expect(image == Data([0x42, 0x4D, 0x00, 0xFF, 0x10]))
        #expect(try await target.setting("admin_token_digest") == String(repeating: "ab", count: 32))
        // New rows get the next ids and numbers, after the copied ones.
        let next = try await target.transaction { database in
            try await MembershipRegistry.submit(
                openid: "oNew", answers: ["name": "新会员", "phone": "13800000000", "unit": "机关"], messageKey: "new",
                at: 1_795_400_000, year: 2026, in: database)
        }
        #expect(next.id == 701 && next.number == "RH-2026-000701")

        // A second copy into the same database is refused, and changes nothing.
        await #expect(throws: StoreError.self) { try await StoreCopy.copy(from: source, to: target) }
        #expect(try await target.read { try await $0.count("membership_applications") } == 701)
        await source.close()
        await target.close()
    }
}
