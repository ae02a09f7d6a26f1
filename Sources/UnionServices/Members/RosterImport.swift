import Foundation
import ReplyRules
import SQLKit

/// A union's existing roster brought into UnionGate, a unit at a time: the file read and every
/// row checked (the 身份证 check digit and date, the phone, the unit within the chosen one, rows
/// repeated in the file), then a preview of what would be added, changed or refused — and why,
/// by row — and only when staff confirm, all of it written in one transaction.
///
/// Between the preview and the confirmation the checked rows wait in the store, sealed with
/// the data key (they hold identity numbers).
public struct RosterImport: Sendable {
    let store: UnionStore
    let key: DataKey

    public init(store: UnionStore, key: DataKey) {
        self.store = store
        self.key = key
    }

    /// A row as it will be written.
    struct Row: Codable, Sendable, Hashable {
        var line: Int
        var name: String
        var identity: String?
        var phone: String?
        var memberNumber: String?
        var joinedOn: String?
        var unitCode: String
        /// The roster row it changes; nil for a new one.
        var existing: Int?
    }

    /// What a file would do, shown before anything is written.
    public struct Preview: Codable, Sendable, Hashable {
        /// The staged import's id (what 确认导入 sends).
        public var id: Int
        public var unitCode: String
        public var fileName: String
        /// The rows under the headings.
        public var total: Int
        public var added: Int
        public var changed: Int
        public var unchanged: Int
        public var refused: [Refusal]
        /// The first rows added or changed, as they will look (identity masked).
        public var samples: [Sample]
        public var appliedAt: Int64?
        public var createdAt: Int64
        public var actor: String
    }

    /// A row that will not be written, and why.
    public struct Refusal: Codable, Sendable, Hashable {
        public var line: Int
        public var name: String
        public var reason: String
    }

    /// A row that will be written.
    public struct Sample: Codable, Sendable, Hashable {
        public var line: Int
        public var name: String
        public var idMask: String
        public var unit: String
        /// 新增, or 更新 with what changes.
        public var action: String
    }

    /// How many refusals and samples a preview keeps to show.
    static let shownLimit = 500

    /// The headings understood, by what they fill.
    static let headings: [String: [String]] = [
        "name": ["姓名", "会员姓名", "名字"],
        "identity": ["身份证号", "身份证号码", "身份证", "公民身份号码", "证件号码", "身份证件号码"],
        "phone": ["手机号", "手机号码", "手机", "联系电话", "电话"],
        "memberNumber": ["会员编号", "会员号", "会员证号"],
        "joinedOn": ["入会日期", "入会时间"],
        "unit": ["单位", "所在单位", "所在工会", "工会", "基层工会", "单位编码"],
    ]

    /// Reads and checks `data` for `unit` (rows may name units below it), stages what it would
    /// write, and returns the preview. Nothing is written to the roster.
    public func preview(
        _ data: Data, fileName: String, unit: String, by actor: Principal, book: RuleBook, at now: Int64
    ) async throws -> Preview {
        try actor.require(.decide)
        let organisation = book.join.organisation
        guard actor.scope.contains(unit), organisation.isEmpty || organisation.units[unit] != nil else {
            throw AdminActionError(.notFound, "no unit \(unit)")
        }
        let table: [[String]]
        do {
            table = try RosterFile.rows(of: data)
        } catch let problem as RosterFile.Problem {
            throw AdminActionError(.invalid, problem.message)
        }
        guard let header = table.first else { throw AdminActionError(.invalid, "文件是空的。") }
        let columns = try Self.columns(header)
        let today = Self.today(now, book: book)
        var refused: [Refusal] = []
        var rows: [Row] = []
        var seenIdentity: [String: Int] = [:]
        var seenNumber: [String: Int] = [:]
        let allowed = organisation.isEmpty ? [unit] : organisation.subtree(of: unit)
        let allowedSet = Set(allowed)
        var byName: [String: [String]] = [:]
        for code in allowed { byName[organisation.units[code]?.name ?? code, default: []].append(code) }
        for (index, cells) in table.dropFirst().enumerated() {
            let line = index + 2
            func cell(_ field: String) -> String {
                guard let column = columns[field], column < cells.count else { return "" }
                return cells[column].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let name = cell("name")
            func refuse(_ reason: String) { refused.append(Refusal(line: line, name: name, reason: reason)) }
            if [name, cell("identity"), cell("phone"), cell("memberNumber")].allSatisfy(\.isEmpty) { continue }
            guard !name.isEmpty else {
                refuse("姓名为空。")
                continue
            }
            guard name.count <= 30 else {
                refuse("姓名太长（\(name.count) 个字）。")
                continue
            }
            var row = Row(line: line, name: name, unitCode: unit)
            let identityText = cell("identity")
            if !identityText.isEmpty {
                if identityText.uppercased().contains("E+") {
                    refuse("身份证号被 Excel 存成了数字（\(identityText)），末几位已丢失。请把这一列设为「文本」后重新录入。")
                    continue
                }
                switch IdentityNumber.parse(identityText, today: today) {
                case .success(let identity): row.identity = identity.value
                case .failure(let problem):
                    refuse(problem.message)
                    continue
                }
            }
            let phoneText = cell("phone")
            if !phoneText.isEmpty {
                guard let phone = FormAnswer.mobileNumber(phoneText) else {
                    refuse("手机号「\(phoneText)」不对，应为 11 位手机号码。")
                    continue
                }
                row.phone = phone
            }
            guard row.identity != nil || row.phone != nil else {
                refuse("身份证号和手机号至少要有一项（会员凭它绑定微信）。")
                continue
            }
            let joined = cell("joinedOn")
            if !joined.isEmpty {
                guard let date = FormAnswer.date(joined) ?? Self.excelDate(joined) else {
                    refuse("入会日期「\(joined)」看不懂，请写成 2020-05-01。")
                    continue
                }
                row.joinedOn = date
            }
            let number = cell("memberNumber")
            if !number.isEmpty {
                guard number.count <= 40 else {
                    refuse("会员编号太长。")
                    continue
                }
                row.memberNumber = number
            }
            let unitText = cell("unit")
            if !unitText.isEmpty {
                if allowedSet.contains(unitText) {
                    row.unitCode = unitText
                } else if let codes = byName[unitText], codes.count == 1 {
                    row.unitCode = codes[0]
                } else if let codes = byName[unitText], codes.count > 1 {
                    refuse("有几个单位都叫「\(unitText)」，请改填单位编码。")
                    continue
                } else {
                    refuse("单位「\(unitText)」不在「\(organisation.units[unit]?.name ?? unit)」之下。")
                    continue
                }
            }
            if let identity = row.identity {
                if let first = seenIdentity[identity] {
                    refuse("与第 \(first) 行的身份证号重复。")
                    continue
                }
                seenIdentity[identity] = line
            }
            if let number = row.memberNumber {
                if let first = seenNumber[number] {
                    refuse("与第 \(first) 行的会员编号重复。")
                    continue
                }
                seenNumber[number] = line
            }
            rows.append(row)
        }
        // What the roster has of these people already.
        let lookups = rows.compactMap { $0.identity.map { key.lookup($0) } }
        let numbers = rows.compactMap(\.memberNumber)
        let (byIdentity, byNumber) = try await store.read { database in
            (
                try await RealNameRegistry.existing(identityLookups: lookups, in: database),
                try await RealNameRegistry.existing(memberNumbers: numbers, in: database)
            )
        }
        var written: [Row] = []
        var samples: [Sample] = []
        var added = 0
        var changed = 0
        var unchanged = 0
        for var row in rows {
            func refuse(_ reason: String) { refused.append(Refusal(line: row.line, name: row.name, reason: reason)) }
            let lookup = row.identity.map { key.lookup($0) }
            var existing = lookup.flatMap { byIdentity[$0] }
            if existing == nil, let number = row.memberNumber, let found = byNumber[number] {
                guard found.identityLookup == nil || row.identity == nil else {
                    refuse("会员编号 \(number) 已是名册中另一个人的编号。")
                    continue
                }
                existing = found
            }
            if let number = row.memberNumber, let holder = byNumber[number], holder.entry.id != existing?.entry.id {
                refuse("会员编号 \(number) 已是名册中另一个人的编号。")
                continue
            }
            let unitName = organisation.units[row.unitCode]?.name ?? row.unitCode
            let idMask = row.identity.map(IdentityNumber.mask) ?? ""
            guard let existing else {
                added += 1
                written.append(row)
                if samples.count < Self.shownLimit {
                    samples.append(Sample(line: row.line, name: row.name, idMask: idMask, unit: unitName, action: "新增"))
                }
                continue
            }
            guard actor.scope.contains(existing.entry.unitCode) else {
                let elsewhere = organisation.units[existing.entry.unitCode]?.name ?? existing.entry.unitCode
                refuse("此人已在「\(elsewhere)」的名册中，不在您的管理范围。")
                continue
            }
            var changes: [String] = []
            if RealNameRegistry.comparable(existing.entry.name) != RealNameRegistry.comparable(row.name) {
                changes.append("姓名")
            }
            if existing.entry.unitCode != row.unitCode { changes.append("单位") }
            if let identity = row.identity, existing.identityLookup != key.lookup(identity) { changes.append("身份证号") }
            if let phone = row.phone, existing.phoneLookup != key.lookup(phone) { changes.append("手机号") }
            if let joined = row.joinedOn, joined != existing.entry.joinedOn { changes.append("入会日期") }
            if let number = row.memberNumber, number != existing.entry.memberNumber { changes.append("会员编号") }
            guard !changes.isEmpty else {
                unchanged += 1
                continue
            }
            row.existing = existing.entry.id
            changed += 1
            written.append(row)
            if samples.count < Self.shownLimit {
                samples.append(
                    Sample(
                        line: row.line, name: row.name, idMask: idMask, unit: unitName,
                        action: "更新：" + changes.joined(separator: "、")))
            }
        }
        refused.sort { $0.line < $1.line }
        var preview = Preview(
            id: 0, unitCode: unit, fileName: String(fileName.prefix(200)), total: table.count - 1, added: added,
            changed: changed, unchanged: unchanged, refused: refused, samples: samples, appliedAt: nil,
            createdAt: now, actor: actor.name)
        let sealed = try key.seal(String(decoding: try JSONEncoder().encode(written), as: UTF8.self))
        var shown = preview
        shown.refused = Array(refused.prefix(Self.shownLimit))
        let summary = String(decoding: try JSONEncoder().encode(shown), as: UTF8.self)
        let file = preview.fileName
        preview.id = try await store.transaction { database in
            try await database.insert(into: "roster_imports")
                .columns("unit_code", "actor", "file_name", "rows_sealed", "summary", "created_at")
                .values(
                    SQLBind(unit), SQLBind(actor.name), SQLBind(file), SQLBind(sealed), SQLBind(summary),
                    SQLBind(now)
                )
                .returning("id").all(decodingColumn: "id", as: Int.self).first ?? 0
        }
        return preview
    }

    /// A staged import's preview, for staff of its unit.
    public func preview(_ id: Int, for actor: Principal) async throws -> Preview {
        try actor.require(.decide)
        struct Stored: Decodable {
            var summary: String
            var appliedAt: Int64?
        }
        guard
            let stored = try await store.read({ database in
                try await database.select().columns("summary", "applied_at").from("roster_imports")
                    .where("id", .equal, id).first(decoding: Stored.self, keyDecodingStrategy: .convertFromSnakeCase)
            })
        else { throw AdminActionError(.notFound, "no roster import \(id)") }
        var preview = try JSONDecoder().decode(Preview.self, from: Data(stored.summary.utf8))
        guard actor.scope.contains(preview.unitCode) else {
            throw AdminActionError(.notFound, "no roster import \(id)")
        }
        preview.id = id
        preview.appliedAt = stored.appliedAt
        return preview
    }

    /// Writes a staged import, all of it or nothing; a second confirmation finds it done (409).
    /// A roster changed since the preview (the same person imported meanwhile) refuses it whole.
    public func apply(_ id: Int, by actor: Principal, book: RuleBook, at now: Int64) async throws -> Preview {
        let staged = try await preview(id, for: actor)
        guard staged.appliedAt == nil else { throw AdminActionError(.conflict, "这份名册已经导入过了。") }
        guard now - staged.createdAt <= 86_400 else {
            throw AdminActionError(.conflict, "这次预览已超过一天，请重新上传文件预览后再导入。")
        }
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let key = key
        do {
            try await store.transaction { database in
                let taken = try await database.update("roster_imports").set("applied_at", to: now)
                    .where("id", .equal, id).where("applied_at", .is, SQLLiteral.null).returning("id").all()
                guard !taken.isEmpty else { throw AdminActionError(.conflict, "这份名册已经导入过了。") }
                guard
                    let sealed = try await database.select().column("rows_sealed").from("roster_imports")
                        .where("id", .equal, id).first(decodingColumn: "rows_sealed", as: String.self)
                else { throw AdminActionError(.notFound, "no roster import \(id)") }
                let rows = try JSONDecoder().decode([Row].self, from: Data(try key.open(sealed).utf8))
                let fresh = rows.filter { $0.existing == nil }
                var numbers = try await ReceiptNumbers.reserve(
                    fresh.filter { $0.memberNumber == nil }.count, prefix: "HY", year: year, in: database
                ).makeIterator()
                var entries: [RealNameRegistry.Sealed] = []
                for row in rows {
                    let entry = RealNameRegistry.Sealed(
                        existing: row.existing, unitCode: row.unitCode, name: row.name,
                        identitySealed: try row.identity.map(key.seal), identityLookup: row.identity.map(key.lookup),
                        identityMask: row.identity.map(IdentityNumber.mask),
                        phoneSealed: try row.phone.map(key.seal), phoneLookup: row.phone.map(key.lookup),
                        phoneMask: row.phone.map(PersonalData.maskPhones),
                        memberNumber: row.memberNumber ?? (row.existing == nil ? numbers.next() : nil),
                        joinedOn: row.joinedOn)
                    entries.append(entry)
                }
                try await RealNameRegistry.write(entries, at: now, in: database)
                try await AuditLog.record(
                    actor, action: "roster.import", record: "roster_import:\(id)", unit: staged.unitCode,
                    before: nil,
                    after: [
                        "file": staged.fileName, "added": String(staged.added), "changed": String(staged.changed),
                        "refused": String(staged.refused.count),
                    ], at: now, in: database)
            }
        } catch let error as AdminActionError {
            throw error
        } catch  where !StoreUnavailable.isTrouble(error) {
            throw AdminActionError(.conflict, "名册在预览之后有了变动（例如同一个人已被导入），没有导入任何一行。请重新上传文件预览。")
        }
        var applied = staged
        applied.appliedAt = now
        return applied
    }

    /// Which column holds what, from the headings (spaces, asterisks and notes in brackets
    /// ignored). A file without 姓名, or without both 身份证号 and 手机号, is refused.
    static func columns(_ header: [String]) throws -> [String: Int] {
        func clean(_ text: String) -> String {
            var text = text.precomposedStringWithCompatibilityMapping.filter { !$0.isWhitespace && $0 != "*" }
            if let open = text.firstIndex(where: { $0 == "(" }) { text = String(text[..<open]) }
            return text
        }
        var columns: [String: Int] = [:]
        for (index, heading) in header.enumerated() {
            let cleaned = clean(heading.hasPrefix("\u{FEFF}") ? String(heading.dropFirst()) : heading)
            for (field, names) in headings where columns[field] == nil && names.contains(cleaned) {
                columns[field] = index
            }
        }
        guard columns["name"] != nil, columns["identity"] != nil || columns["phone"] != nil else {
            throw AdminActionError(
                .invalid, "第一行应是表头，至少要有「姓名」和「身份证号」（或「手机号」）两列。可用的列：姓名、身份证号、手机号、会员编号、入会日期、单位。")
        }
        return columns
    }

    /// An Excel date serial (days since 1899-12-30) as `YYYY-MM-DD`.
    static func excelDate(_ text: String) -> String? {
        guard let serial = Double(text), serial >= 1, serial < 80_000 else { return nil }
        let days = Int64(serial) - 25_569  // 1970-01-01
        let time = LocalTime(unixSeconds: days * 86_400, utcOffsetMinutes: 0)
        return String(format: "%04d-%02d-%02d", time.year, time.month, time.day)
    }

    /// `now` as `YYYYMMDD` in the union's time (what a birth date in a 身份证 number is checked against).
    public static func today(_ now: Int64, book: RuleBook) -> Int {
        let time = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        return time.year * 10000 + time.month * 100 + time.day
    }
}
