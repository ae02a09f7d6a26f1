import Foundation
import ReplyRules
import SQLKit
import Testing

@testable import UnionServices

/// The county's book with the shipped workflows.
private let aidBook: RuleBook = {
    let replies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Replies/workflows.yaml").path
    let organisation = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/county-org.yaml").path
    return try! RuleBookLoader().load(files: [
        ("workflows.yaml", try! String(contentsOfFile: replies, encoding: .utf8)),
        ("org.yaml", try! String(contentsOfFile: organisation, encoding: .utf8)),
    ])
}()

@Suite("Aid applications in the store")
struct AidStoreTests {
    /// On SQLite and on PostgreSQL: submitted once per key, three levels with the amount, a
    /// stale decision refused, queues by unit, escalation, and the statistics.
    @Test(arguments: StoreKind.allCases)
    func anApplicationClimbsAndIsCounted(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        try await apply(store, "oAid", name: "孙七", phone: "13812345678", unit: "chengdong-huanwei")
        let aid = AidApplications(store: store)
        let workflow = try #require(aidBook.workflows["困难帮扶"])
        let now: Int64 = 1_795_363_200
        let first = try await aid.submit(
            workflow, answers: ["name": "孙七", "id_number": "330102198001011234"], for: "oAid", key: "k", book: aidBook,
            at: now)
        let again = try await aid.submit(
            workflow, answers: ["name": "孙七"], for: "oAid", key: "k", book: aidBook, at: now + 5)
        #expect(again.id == first.id && again.answers["id_number"] == "330102198001011234")
        #expect(first.number == "KB-2026-000001")

        let grassroots = staff("环卫", .approver, at: "chengdong-huanwei")
        let town = staff("城东", .approver, at: "chengdong")
        let countyStaff = staff("县总", .approver, at: "county")
        let west = staff("城西", .approver, at: "chengxi")
        #expect(try await aid.page(.waiting, for: grassroots, at: now, request: .all).items.map(\.id) == [first.id])
        #expect(try await aid.page(.waiting, for: town, at: now, request: .all).items.isEmpty)
        #expect(try await aid.page(.all, for: west, at: now, request: .all).items.isEmpty)
        await #expect(throws: AdminActionError.self) {
            try await aid.decide(
                first.id, .pass(recorded: [:], remark: nil), atStop: 0, by: west, book: aidBook, at: now)
        }
        _ = try await aid.decide(
            first.id, .pass(recorded: [:], remark: nil), atStop: 0, by: grassroots, book: aidBook, at: now + 60)
        do {
            _ = try await aid.decide(
                first.id, .pass(recorded: [:], remark: nil), atStop: 0, by: grassroots, book: aidBook, at: now + 61)
            Issue.record("a stale decision was applied")
        } catch let error as AdminActionError {
            #expect(error.kind == .conflict)
        }
        #expect(try await aid.page(.waiting, for: town, at: now, request: .all).items.map(\.id) == [first.id])
        _ = try await aid.decide(
            first.id, .pass(recorded: [:], remark: nil), atStop: 1, by: town, book: aidBook, at: now + 120)
        let approved = try await aid.decide(
            first.id, .pass(recorded: ["category": "特困", "amount": "1500.5"], remark: nil), atStop: 2,
            by: countyStaff, book: aidBook, at: now + 180)
        #expect(approved.status == .approved && approved.amountCents == 150_050)
        #expect(approved.recorded == ["category": "特困", "amount": "1500.50"])

        // Another one waits past its level's days and is escalated once.
        let late = try await aid.submit(workflow, answers: [:], for: "oAid", key: "late", book: aidBook, at: now)
        #expect(try await aid.overdueCount(at: now + 30 * 86_400) == 1)
        let escalated = try await aid.escalateOverdue(organisation: county, at: now + 30 * 86_400)
        #expect(escalated.map(\.id) == [late.id] && escalated.first?.escalatedTo == "chengdong")
        #expect(try await aid.escalateOverdue(organisation: county, at: now + 31 * 86_400).isEmpty)
        #expect(
            try await aid.page(.overdueBelow, for: town, at: now + 30 * 86_400, request: .all).items.map(\.id)
                == [late.id])

        let lines = try await aid.statistics(
            for: countyStaff, book: aidBook, from: now - 86_400, to: now + 40 * 86_400)
        #expect(lines.map(\.submitted).reduce(0, +) == 2)
        #expect(lines.map(\.passed).reduce(0, +) == 2)
        #expect(lines.map(\.approved).reduce(0, +) == 1)
        #expect(lines.map(\.grantedCents).reduce(0, +) == 150_050)
        #expect(lines.first { $0.approved == 1 }?.unitCode == "county")
        let westLines = try await aid.statistics(for: west, book: aidBook, from: now - 86_400, to: now + 40 * 86_400)
        #expect(westLines.isEmpty, "another branch counts nothing of this one")
        let csv = AidApplications.csv(lines, organisation: county)
        #expect(csv.contains("1500.50") && csv.contains("县总工会审批"))
        await store.close()
    }
}
