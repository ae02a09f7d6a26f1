import Foundation
import Logging
import ReplyRules
import SQLKit
import Testing

@testable import UnionServices

/// The county union of `Tests/Fixtures/county-org.yaml`.
let countyBook = try! RuleBookLoader().load(files: [
    (
        "org.yaml",
        try! String(
            contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/county-org.yaml").path, encoding: .utf8)
    )
])
let county = countyBook.join.organisation

/// A throwaway store of `kind` (SQLite in memory, or a new PostgreSQL database).
func memoryStore(_ kind: StoreKind = .sqlite) async throws -> UnionStore {
    try await kind.open(kind == .sqlite ? ":memory:" : nil)
}

/// Stores an application from `openid` for `unit` (name, phone as given) and returns it.
@discardableResult
func apply(
    _ store: UnionStore, _ openid: String, name: String, phone: String, unit: String, qrTicket: String? = nil
) async throws -> MembershipApplication {
    var answers = ["name": name, "phone": phone, "unit": county.units[unit]?.name ?? unit, "unit_code": unit]
    answers["_qr"] = qrTicket
    let frozen = answers
    return try await store.transaction { database in
        try await MembershipRegistry.submit(
            openid: openid, answers: frozen, messageKey: "key-\(openid)-\(UUID().uuidString)", at: 1_795_363_200,
            year: 2026, in: database)
    }
}

func staff(_ name: String, _ role: StaffRole, at unit: String) -> Principal {
    Principal.staff(
        StaffMember(
            id: 0, name: name, unitCode: unit, role: role, mustChangePassword: false, disabled: false, createdAt: 0),
        in: county)
}

@Suite("Staff, scopes and the audit log")
struct OrganisationAccessTests {
    @Test(arguments: StoreKind.allCases)
    func passwordsAndTokensAreKeptOnlyAsHashes(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let directory = StaffDirectory(store: store, cost: 4)
        let (member, password) = try await directory.add(
            name: "李会计", unit: "chengdong", role: .approver, password: nil, organisation: county, by: .commandLine,
            at: 100)
        #expect(member.mustChangePassword && !member.disabled && member.unitCode == "chengdong")
        #expect(password.count == 12)
        let stored = try await store.read { database in
            try await database.select().column("password_hash").from("staff").first()?
                .decode(column: "password_hash", as: String.self)
        }
        #expect(stored?.hasPrefix("$2") == true && stored?.contains(password) == false)
        #expect(try await directory.member(named: "李会计", password: password)?.id == member.id)
        #expect(try await directory.member(named: "李会计", password: password + "x") == nil)
        #expect(try await directory.member(named: "无此人", password: password) == nil)

        let token = try await directory.createToken(for: "李会计", by: .commandLine, at: 101)
        #expect(token.hasPrefix(StaffDirectory.tokenPrefix))
        let digests = try await store.read { database in
            try await database.select().column("digest").from("staff_tokens").all(
                decodingColumn: "digest", as: String.self)
        }
        #expect(digests.count == 1 && digests[0] != token && !digests[0].contains(token))
        #expect(try await directory.member(forToken: token)?.name == "李会计")
        #expect(try await directory.member(forToken: token + "0") == nil)

        // Refusals: a duplicate, a unit not in the tree, a short password, a staff member adding staff.
        await #expect(throws: AdminActionError.self) {
            try await directory.add(
                name: "李会计", unit: "chengxi", role: .viewer, password: nil, organisation: county, by: .commandLine,
                at: 102)
        }
        await #expect(throws: AdminActionError.self) {
            try await directory.add(
                name: "王", unit: "nowhere", role: .viewer, password: nil, organisation: county, by: .commandLine,
                at: 102)
        }
        await #expect(throws: AdminActionError.self) {
            try await directory.add(
                name: "王", unit: "chengxi", role: .viewer, password: "short", organisation: county, by: .commandLine,
                at: 102)
        }
        do {
            _ = try await directory.add(
                name: "王", unit: "chengxi", role: .viewer, password: nil, organisation: county,
                by: staff("x", .admin, at: "chengdong"), at: 102)
            Issue.record("a town's admin added staff")
        } catch let error as AdminActionError {
            #expect(error.kind == .forbidden)
        }

        _ = try await directory.disable("李会计", by: .commandLine, at: 103)
        #expect(try await directory.member(forToken: token) == nil)
        #expect(try await directory.member(named: "李会计", password: password) == nil)

        let audit = try await AuditLog.page(for: .root, request: PageRequest(), in: store)
        #expect(audit.items.map(\.action) == ["staff.disable", "staff.token", "staff.add"])
        #expect(audit.items.allSatisfy { $0.actor == "cli" && $0.record == "staff:李会计" })
        #expect(audit.items.last?.after == ["unit": "chengdong", "role": "approver"])
        // Nothing secret in the log.
        let text = audit.items.map { "\($0.before ?? [:]) \($0.after ?? [:])" }.joined()
        #expect(!text.contains(password) && !text.contains(token))
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func listsShowOnlyTheSubtreeAndArePagedAndSearched(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let registry = MembershipRegistry(store: store)
        let units = ["chengdong-huanwei", "chengdong-shuiwu", "chengxi-huanwei", "chengxi-factory-night"]
        for index in 0..<40 {
            try await apply(
                store, "o\(index)", name: "职工\(index)", phone: "1381234\(String(format: "%04d", index))",
                unit: units[index % 4])
        }
        let town = staff("东", .viewer, at: "chengdong")
        let all = try await registry.page(RecordFilter(scope: town.scope), request: PageRequest(perPage: 500))
        #expect(all.total == 20)
        #expect(Set(all.items.map(\.unitCode)) == ["chengdong-huanwei", "chengdong-shuiwu"])

        let first = try await registry.page(RecordFilter(scope: town.scope), request: PageRequest(page: 1, perPage: 8))
        let third = try await registry.page(RecordFilter(scope: town.scope), request: PageRequest(page: 3, perPage: 8))
        #expect(first.items.count == 8 && first.hasNext && first.total == 20)
        #expect(third.items.count == 4 && !third.hasNext)
        #expect(first.items.first?.name == "职工37")  // newest first

        // A sub-unit filter narrows; one outside the scope is not there.
        let narrowed = try #require(town.scope.narrowed(to: "chengdong-shuiwu", in: county))
        #expect(try await registry.page(RecordFilter(scope: narrowed), request: PageRequest()).total == 10)
        #expect(town.scope.narrowed(to: "chengxi", in: county) == nil)
        #expect(town.scope.narrowed(to: "no-such-unit", in: county) == nil)

        // Search by name and by part of a phone number, within the scope.
        let byName = try await registry.page(RecordFilter(scope: town.scope, search: "职工1"), request: PageRequest())
        #expect(Set(byName.items.map(\.name)) == ["职工1", "职工12", "职工13", "职工16", "职工17"])
        // Texts of one, two, three and more characters (PostgreSQL looks them up by their pieces).
        func names(_ text: String) async throws -> Set<String> {
            Set(
                try await registry.page(RecordFilter(scope: town.scope, search: text), request: PageRequest()).items
                    .map(\.name))
        }
        // 7 is in two names, and in the receipt numbers of 职工16 and 职工36 (their 17th and 37th).
        #expect(try await names("7") == ["职工16", "职工17", "职工36", "职工37"])
        #expect(try await names("工3") == ["职工32", "职工33", "职工36", "职工37"])
        #expect(try await names("职工").count == 20)
        #expect(try await names("职工37") == ["职工37"])
        #expect(try await names("职工37号").isEmpty)
        #expect(try await names("81234003") == ["职工32", "职工33", "职工36", "职工37"])
        let byPhone = try await registry.page(
            RecordFilter(scope: .everything, search: "12340039"), request: PageRequest())
        #expect(byPhone.items.map(\.name) == ["职工39"])
        let outside = try await registry.page(
            RecordFilter(scope: town.scope, search: "12340039"), request: PageRequest())
        #expect(outside.total == 0)
        // Wildcards are plain characters.
        #expect(try await registry.page(RecordFilter(search: "%"), request: PageRequest()).total == 0)

        #expect(throws: AdminActionError.self) { try PageRequest(page: 0) }
        #expect(throws: AdminActionError.self) { try PageRequest(perPage: 501) }
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func decisionsAreScopedCheckedByRoleAndAudited(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let registry = MembershipRegistry(store: store)
        let east = try await apply(store, "oEast", name: "张三", phone: "13812345678", unit: "chengdong-huanwei")
        let west = try await apply(store, "oWest", name: "李四", phone: "13912345678", unit: "chengxi-huanwei")

        func refusal(_ action: () async throws -> Void) async -> AdminActionError.Kind? {
            do {
                try await action()
                return nil
            } catch let error as AdminActionError {
                return error.kind
            } catch {
                return nil
            }
        }
        let eastApprover = staff("东审", .approver, at: "chengdong")
        #expect(await refusal { _ = try await registry.approve(west.id, by: eastApprover, at: 200) } == .notFound)
        #expect(await refusal { _ = try await registry.approve(99, by: eastApprover, at: 200) } == .notFound)
        #expect(
            await refusal {
                _ = try await registry.approve(east.id, by: staff("东看", .viewer, at: "chengdong"), at: 200)
            }
                == .forbidden)
        #expect(
            await refusal {
                _ = try await registry.approve(east.id, by: staff("东编", .editor, at: "chengdong"), at: 200)
            }
                == .forbidden)
        let approved = try await registry.approve(east.id, by: eastApprover, at: 200)
        #expect(approved.status == .approved)
        _ = try await registry.reject(west.id, reason: "非本单位职工", by: staff("县", .admin, at: "county"), at: 201)

        let audit = try await AuditLog.page(for: .root, request: PageRequest(), in: store).items
        #expect(audit.count == 2)
        let reject = try #require(audit.first)
        #expect(reject.actor == "县" && reject.action == "member.reject" && reject.unitCode == "chengxi-huanwei")
        #expect(reject.before == ["status": "pending"])
        #expect(reject.after == ["status": "rejected", "reason": "非本单位职工"])
        let approve = try #require(audit.last)
        #expect(approve.actor == "东审" && approve.record == "application:\(east.number)" && approve.at == 200)

        // The town's admin reads its own part of the log only; a viewer reads none of it.
        let townLog = try await AuditLog.page(
            for: staff("东管", .admin, at: "chengdong"), request: PageRequest(), in: store)
        #expect(townLog.items.map(\.action) == ["member.approve"])
        #expect(
            await refusal {
                _ = try await AuditLog.page(
                    for: staff("东看", .viewer, at: "chengdong"), request: PageRequest(), in: store)
            } == .forbidden)

        // A suggestion is the unit's of its writer; outside the scope it cannot be changed.
        let box = SuggestionBox(store: store)
        let suggestion = try await store.transaction { database in
            try await SuggestionBox.submit(
                openid: "oWest", content: "食堂增加夜班供餐", messageKey: "s1", at: 300, year: 2026, in: database)
        }
        #expect(suggestion.unitCode == "chengxi-huanwei")
        #expect(
            await refusal {
                _ = try await box.update(suggestion.id, status: .adopted, reply: nil, by: eastApprover, at: 301)
            }
                == .notFound)
        let adopted = try await box.update(
            suggestion.id, status: .adopted, reply: "已采纳", by: staff("西审", .approver, at: "chengxi"), at: 302)
        #expect(adopted.status == .adopted)
        let entry = try #require(try await AuditLog.page(for: .root, request: PageRequest(), in: store).items.first)
        #expect(entry.action == "suggestion.update" && entry.before == ["status": "received", "reply": ""])
        #expect(entry.after == ["status": "adopted", "reply": "已采纳"])
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func statisticsAreSummedUpTheTree(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let registry = MembershipRegistry(store: store)
        let a = try await apply(store, "o1", name: "甲", phone: "13800000001", unit: "chengdong-huanwei")
        try await apply(store, "o2", name: "乙", phone: "13800000002", unit: "chengdong-shuiwu")
        let c = try await apply(store, "o3", name: "丙", phone: "13800000003", unit: "chengxi-factory-night")
        try await apply(store, "o4", name: "丁", phone: "13800000004", unit: "chengxi-huanwei")
        _ = try await registry.approve(a.id, at: 10)
        _ = try await registry.approve(c.id, at: 10)
        try await store.transaction { database in
            for (index, openid) in ["o1", "o3", "o3"].enumerated() {
                _ = try await SuggestionBox.submit(
                    openid: openid, content: "建议内容第\(index)条", messageKey: "s\(index)", at: 20, year: 2026,
                    in: database)
            }
            _ = try await FormSubmissions.submit(
                form: "困难帮扶", prefix: "KN", openid: "o3", answers: ["x": "y"], messageKey: "f1", at: 30, year: 2026,
                in: database)
        }
        let west = try await UnitStatistics.of(unit: "chengxi", organisation: county, for: .root, in: store)
        #expect(west.name == "城西镇工会" && west.units == 4)
        #expect(west.members == 1 && west.pendingApplications == 1)
        #expect(west.suggestions["received"] == 2 && west.suggestions["adopted"] == 0)
        #expect(west.submissions == ["困难帮扶": 1])
        let whole = try await UnitStatistics.of(unit: nil, organisation: county, for: .root, in: store)
        #expect(whole.unit == "county" && whole.members == 2 && whole.pendingApplications == 2)
        #expect(whole.suggestions["received"] == 3)
        // A town's staff count their town by default, and cannot count the other.
        let east = try await UnitStatistics.of(
            unit: nil, organisation: county, for: staff("东", .viewer, at: "chengdong"), in: store)
        #expect(east.unit == "chengdong" && east.members == 1 && east.pendingApplications == 1)
        await #expect(throws: AdminActionError.self) {
            try await UnitStatistics.of(
                unit: "chengxi", organisation: county, for: staff("东", .viewer, at: "chengdong"), in: store)
        }
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func earlierRecordsAreGivenTheirUnitsCodeByName(_ kind: StoreKind) async throws {
        let store = try await memoryStore(kind)
        let old = try await store.transaction { database in
            let application = try await MembershipRegistry.submit(
                openid: "oOld", answers: ["name": "老会员", "phone": "13800000009", "unit": "城西环卫所工会"],
                messageKey: "old", at: 1, year: 2025, in: database)
            _ = try await SuggestionBox.submit(
                openid: "oOld", content: "以前的一条建议", messageKey: "old-s", at: 2, year: 2025, in: database)
            _ = try await MembershipRegistry.submit(
                openid: "oOther", answers: ["name": "别处", "phone": "13800000008", "unit": "不在树上的单位"],
                messageKey: "other", at: 1, year: 2025, in: database)
            return application
        }
        #expect(old.unitCode == "")
        let registry = MembershipRegistry(store: store)
        #expect(try await registry.assignUnitCodes(county) == 1)
        #expect(try await registry.latest(for: "oOld")?.unitCode == "chengxi-huanwei")
        #expect(try await registry.latest(for: "oOther")?.unitCode == "")
        #expect(try await SuggestionBox(store: store).recent(for: "oOld").first?.unitCode == "chengxi-huanwei")
        #expect(try await registry.assignUnitCodes(county) == 0)  // nothing left to do
        await store.close()
    }
}
