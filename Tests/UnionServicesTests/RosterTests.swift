import Foundation
import Logging
import ReplyRules
import SQLKit
import Testing
import WeChatTestSupport
import ZIPFoundation

@testable import UnionServices

/// A valid 居民身份证 number for `index`: a Beijing region, a birth date from `index`, and the
/// GB 11643 check character.
func identityNumber(_ index: Int) -> String {
    let year = 1960 + index % 40
    let month = 1 + (index / 40) % 12
    let day = 1 + (index / 480) % 28
    let body = String(format: "110105%04d%02d%02d%03d", year, month, day, index % 1000)
    let sum = zip(body.compactMap(\.wholeNumberValue), IdentityNumber.weights).reduce(0) { $0 + $1.0 * $1.1 }
    return body + String(IdentityNumber.checkCharacters[sum % 11])
}

/// A workbook as Excel saves it: shared strings, one sheet, the workbook and its relations.
func workbook(_ rows: [[String]]) throws -> Data {
    var strings: [String] = []
    var index: [String: Int] = [:]
    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
    var sheet =
        #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#
    for (r, row) in rows.enumerated() {
        sheet += "<row r=\"\(r + 1)\">"
        for (c, value) in row.enumerated() where !value.isEmpty {
            let column = String(UnicodeScalar(UInt8(65 + c)))
            if let number = Int(value), value.count < 10 {
                sheet += "<c r=\"\(column)\(r + 1)\"><v>\(number)</v></c>"
            } else {
                let at = index[value] ?? strings.count
                if index[value] == nil {
                    index[value] = at
                    strings.append(value)
                }
                sheet += "<c r=\"\(column)\(r + 1)\" t=\"s\"><v>\(at)</v></c>"
            }
        }
        sheet += "</row>"
    }
    sheet += "</sheetData></worksheet>"
    let shared =
        #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#
        + strings.map { "<si><t>\(escape($0))</t></si>" }.joined() + "</sst>"
    let parts: [(String, String)] = [
        (
            "[Content_Types].xml",
            #"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#
        ),
        (
            "xl/workbook.xml",
            #"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>"#
        ),
        (
            "xl/_rels/workbook.xml.rels",
            #"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
        ),
        ("xl/sharedStrings.xml", shared),
        ("xl/worksheets/sheet1.xml", sheet),
    ]
    let archive = try Archive(accessMode: .create)
    for (path, text) in parts {
        let data = Data(text.utf8)
        try archive.addEntry(
            with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate,
            provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
    }
    return try #require(archive.data)
}

@Suite("The real-name roster: identity numbers, the data key, importing a roster, binding")
struct RosterTests {
    @Test func identityNumbersAreCheckedByGB11643() {
        let today = 20_261_207
        #expect((try? IdentityNumber.parse("11010519491231002X", today: today).get())?.value == "11010519491231002X")
        #expect((try? IdentityNumber.parse("110105 19491231 002x", today: today).get())?.value == "11010519491231002X")
        #expect((try? IdentityNumber.parse("１１０１０５１９４９１２３１００２Ｘ", today: today).get()) != nil, "full-width")
        func problem(_ text: String) -> String? {
            if case .failure(let problem) = IdentityNumber.parse(text, today: today) { return problem.message }
            return nil
        }
        #expect(problem("110105194912310021")?.contains("校验位") == true)
        #expect(problem("11010519490230002X")?.contains("出生日期") == true, "February 30th")
        #expect(problem(identityNumber(5).replacingOccurrences(of: "110105", with: "990105"))?.contains("地区") == true)
        #expect(problem("1101051949123100")?.contains("18 位") == true)
        #expect(problem("11010520271231002X")?.contains("出生日期") == true, "born in the future")
        for index in [0, 1, 77, 4_999] {
            #expect((try? IdentityNumber.parse(identityNumber(index), today: today).get()) != nil)
        }
        #expect(IdentityNumber.mask("11010519491231002X") == "110***********002X")
    }

    @Test func theDataKeySealsAndTheStoreRefusesAnotherKey() async throws {
        let key = DataKey.random()
        let sealed = try key.seal("11010519491231002X")
        #expect(!sealed.contains("1101051949"))
        #expect(try key.open(sealed) == "11010519491231002X")
        #expect(try key.seal("11010519491231002X") != sealed, "a fresh nonce each time")
        #expect(key.lookup("a") == key.lookup("a") && key.lookup("a") != key.lookup("b"))
        #expect(throws: (any Error).self) { try DataKey.random().open(sealed) }
        #expect(throws: DataKeyError.self) { try DataKey(text: "not a key") }

        let folder = Scratch.folder.appendingPathComponent("key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("union.sqlite").path
        let store = try await UnionStore.open(path: database, logger: Logger(label: "test"))
        let first = try await DataKey.resolve(configured: nil, file: nil, for: store)
        #expect(first.madeFile == database + ".key")
        let attributes = try FileManager.default.attributesOfItem(atPath: database + ".key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let again = try await DataKey.resolve(configured: nil, file: nil, for: store)
        #expect(again.madeFile == nil && again.key.check == first.key.check)
        await #expect(throws: DataKeyError.self) {
            _ = try await DataKey.resolve(configured: String(repeating: "ab", count: 32), file: nil, for: store)
        }
        await store.close()
    }

    /// A 50,000-row roster, as CSV and as .xlsx: previewed with its bad rows named by row and
    /// nothing written, then imported in one go; imported again, it changes nothing.
    @Test(arguments: ["csv", "xlsx"])
    func aLargeRosterIsPreviewedThenImported(_ format: String) async throws {
        let store = try await UnionStore.open(path: ":memory:", logger: Logger(label: "test"))
        let key = DataKey.random()
        let imports = RosterImport(store: store, key: key)
        var rows = [["姓名", "身份证号", "手机号", "会员编号", "入会日期", "单位"]]
        for index in 0..<50_000 {
            let unit = index % 2 == 0 ? "城东环卫所工会" : "chengdong-shuiwu"
            rows.append([
                "会员\(index)", identityNumber(index), index % 3 == 0 ? String(13_800_000_000 + index) : "",
                index % 5 == 0 ? "HY\(index)" : "", index % 7 == 0 ? "2019-03-0\(1 + index % 9)" : "", unit,
            ])
        }
        // Bad rows, each refused by row with its reason.
        rows[101][1] = String(rows[101][1].dropLast()) + (rows[101][1].last == "1" ? "2" : "1")  // check digit
        rows[202][1] = rows[3][1]  // the same person twice
        rows[303][0] = ""  // no name
        rows[404][5] = "城西环卫所工会"  // a unit outside 城东
        rows[505][1] = "1.10105196E+17"  // a number Excel mangled
        let data: Data
        if format == "csv" {
            let text = rows.map { $0.joined(separator: ",") }.joined(separator: "\r\n")
            data = Data(([0xEF, 0xBB, 0xBF] as [UInt8])) + Data(text.utf8)
        } else {
            data = try workbook(rows)
        }
        let preview = try await imports.preview(
            data, fileName: "名册.\(format)", unit: "chengdong", by: .root, book: countyBook, at: 1_800_000_000)
        #expect(preview.total == 50_000)
        #expect(preview.added == 49_995)
        #expect(preview.refused.map(\.line) == [102, 203, 304, 405, 506])
        #expect(preview.refused[0].reason.contains("校验位"))
        #expect(preview.refused[1].reason.contains("第 4 行"))
        #expect(preview.refused[2].reason.contains("姓名为空"))
        #expect(preview.refused[3].reason.contains("不在"))
        #expect(preview.refused[4].reason.contains("Excel"))
        #expect(try await store.read { try await $0.count("member_roster") } == 0, "nothing written before confirming")
        let summary = try await store.read {
            try await $0.select().column("summary").from("roster_imports").first(
                decodingColumn: "summary", as: String.self)
        }
        #expect(summary?.contains(identityNumber(8)) == false, "the staged preview holds no identity in the clear")

        let applied = try await imports.apply(preview.id, by: .root, book: countyBook, at: 1_800_000_100)
        #expect(applied.appliedAt != nil)
        #expect(try await store.read { try await $0.count("member_roster") } == 49_995)
        await #expect(throws: AdminActionError.self) {
            _ = try await imports.apply(preview.id, by: .root, book: countyBook, at: 1_800_000_200)
        }
        let registry = RealNameRegistry(store: store, key: key)
        let page = try await registry.page(
            RecordFilter(search: "会员49990"), request: try PageRequest(page: 1, perPage: 5))
        #expect(page.items.count == 1)
        if let entry = page.items.first {
            #expect(entry.memberNumber == "HY49990")
            #expect(entry.unitCode == "chengdong-huanwei")
            #expect(entry.idMask == IdentityNumber.mask(identityNumber(49990)))
            #expect(entry.joinedOn == "")
            let stored = try await store.read {
                try await $0.select().column("id_sealed").from("member_roster").where("id", .equal, entry.id)
                    .first(decodingColumn: "id_sealed", as: String.self)
            }
            #expect(try stored.map(key.open) == identityNumber(49990), "sealed, and opened with the key")
        }
        let joined = try await registry.page(RecordFilter(search: "会员49994"), request: try PageRequest())
        #expect(joined.items.first?.joinedOn == "2019-03-09", "49994 is a multiple of 7")

        // The same file again: nothing to add, nothing changed.
        let second = try await imports.preview(
            data, fileName: "名册.\(format)", unit: "chengdong", by: .root, book: countyBook, at: 1_800_000_300)
        #expect(second.added == 0 && second.changed == 0 && second.unchanged == 49_995)
        await store.close()
    }

    @Test func aCSVSavedInGB18030IsRead() throws {
        // 「姓名,手机号\n张三,13812345678」 as Excel saves it on a Chinese Windows.
        let bytes: [UInt8] =
            [
                0xD0, 0xD5, 0xC3, 0xFB, 0x2C, 0xCA, 0xD6, 0xBB, 0xFA, 0xBA, 0xC5, 0x0D, 0x0A, 0xD5, 0xC5, 0xC8, 0xFD,
                0x2C,
            ]
            + Array("13812345678".utf8)
        let rows = try RosterFile.rows(of: Data(bytes))
        #expect(rows == [["姓名", "手机号"], ["张三", "13812345678"]])
        #expect(throws: RosterFile.Problem.self) { try RosterFile.rows(of: Data([0x50, 0x4B, 0x03, 0x04, 0x00])) }
        #expect(throws: RosterFile.Problem.self) { try RosterFile.rows(of: Data([0xFF, 0xFE, 0xFF])) }
    }

    /// A member on the roster binds with name and number and is a member at once; the same
    /// identity from another WeChat, or one nobody has, goes to staff as a case.
    @Test func bindingGoesToTheRightRowOrToStaff() async throws {
        let store = try await UnionStore.open(path: ":memory:", logger: Logger(label: "test"))
        let key = DataKey.random()
        let imports = RosterImport(store: store, key: key)
        let csv = "姓名,身份证号,手机号\n李四,\(identityNumber(1)),13912345678\n王五,,13712345678\n"
        let preview = try await imports.preview(
            Data(csv.utf8), fileName: "r.csv", unit: "chengdong-huanwei", by: .root, book: countyBook,
            at: 1_800_000_000)
        _ = try await imports.apply(preview.id, by: .root, book: countyBook, at: 1_800_000_000)
        let registry = RealNameRegistry(store: store, key: key)
        let registryOfMembers = MembershipRegistry(store: store)
        let today = 20_270_101
        let identity = try IdentityNumber.parse(identityNumber(1), today: today).get()

        let wrongName = try await registry.bind(
            "oStranger", name: "李五", identity: identity, phone: nil, book: countyBook, at: 1_800_000_010)
        guard case .noMatch = wrongName else { Issue.record("a wrong name bound: \(wrongName)"); return }
        #expect(try await registryOfMembers.isMember("oStranger") == false)

        let bound = try await registry.bind(
            "oLiSi", name: " 李四 ", identity: identity, phone: nil, book: countyBook, at: 1_800_000_020)
        guard case .bound(let entry) = bound else { Issue.record("not bound: \(bound)"); return }
        #expect(entry.openid == "oLiSi")
        #expect(try await registryOfMembers.isMember("oLiSi"))
        let record = try #require(try await registryOfMembers.latest(for: "oLiSi"))
        #expect(record.status == .approved && record.unitCode == "chengdong-huanwei")
        #expect(record.phone == "139****5678", "the roster's phone stays masked outside the roster")

        let again = try await registry.bind(
            "oImpostor", name: "李四", identity: identity, phone: nil, book: countyBook, at: 1_800_000_030)
        guard case .boundToAnother(let number) = again else { Issue.record("bound twice: \(again)"); return }
        #expect(number.hasPrefix("LY-"))
        #expect(try await registryOfMembers.isMember("oImpostor") == false)
        let cases = try await Inbox(store: store).page(RecordFilter(), request: .all).items
        #expect(cases.contains { $0.openid == "oImpostor" && $0.unitCode == "chengdong-huanwei" })

        let byPhone = try await registry.bind(
            "oWangWu", name: "王五", identity: nil, phone: "13712345678", book: countyBook, at: 1_800_000_040)
        guard case .bound = byPhone else { Issue.record("not bound by phone: \(byPhone)"); return }

        // Guessing numbers: five misses a day, then no more tries.
        for attempt in 0..<5 {
            let guess = try IdentityNumber.parse(identityNumber(100 + attempt), today: today).get()
            let missed = try await registry.bind(
                "oGuesser", name: "李四", identity: guess, phone: nil, book: countyBook, at: 1_800_000_100)
            guard case .noMatch = missed else { Issue.record("guess \(attempt) found someone: \(missed)"); return }
        }
        let blocked = try await registry.bind(
            "oGuesser", name: "王五", identity: nil, phone: "13712345678", book: countyBook, at: 1_800_000_200)
        #expect(blocked == .tooManyAttempts, "a sixth try is refused before anything is looked up")

        // Staff unbind the wrong WeChat: the membership it gave ends, and the row binds afresh.
        _ = try await registry.unbind(entry.id, by: .root, at: 1_800_000_050)
        #expect(try await registryOfMembers.isMember("oLiSi") == false)
        let revealed = try await registry.reveal(entry.id, by: .root, at: 1_800_000_060)
        #expect(revealed.identity == identityNumber(1) && revealed.phone == "13912345678")
        let viewer = Principal(name: "v", role: .viewer, unit: nil, scope: .everything)
        await #expect(throws: AdminActionError.self) { _ = try await registry.reveal(entry.id, by: viewer, at: 0) }
        let audit = try await AuditLog.page(for: .root, request: .all, in: store).items.map(\.action)
        #expect(audit.contains("roster.reveal") && audit.contains("roster.unbind") && audit.contains("roster.bind"))
        await store.close()
    }
}
