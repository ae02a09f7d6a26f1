import Foundation
import ReplyRules
import SQLKit

/// Forms filled on the member pages (入会 and the union's own forms): the same fields, checks and
/// records as in the chat. A form started in the chat is finished on the page with its answers
/// filled in, and a page's draft is saved where the chat picks it up.
struct PageFormService: Sendable {
    let parts: DeskParts

    /// The answers of the member's unfinished chat conversation in `form`, if they have one.
    func draft(of form: FormDefinition, for openid: String) -> [String: String] {
        guard let entry = parts.conversations.entry(for: openid), entry.finishedKey == nil,
            entry.progress.form == form.name
        else { return [:] }
        return entry.progress.answers
    }

    /// Saves what the member typed so far as their conversation in `form`: the chat goes on
    /// from the first question the page left empty.
    func saveDraft(_ form: FormDefinition, answers: [String: String], for openid: String, at now: Int64)
        async throws
    {
        var progress = FormProgress(form: form.name, answers: answers, updatedAt: now)
        progress.step = form.fields.firstIndex { answers[$0.key] == nil } ?? form.fields.count
        try await parts.retryingConflicts {
            try await parts.conversations.save(progress, for: openid)
        }
    }

    /// Stores the filled form once per `key` (a double tap stores it once, and both get the same
    /// reply), with its photos (written to files already, attached in the same transaction; a
    /// second tap's photos are not attached again); the member's chat conversation in the same
    /// form, if any, ends with it.
    func submit(
        _ form: FormDefinition, answers: [String: String], photos: [FormPhotos.Staged], for openid: String,
        key: String, book: RuleBook, at now: Int64
    ) async throws -> String {
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let store = parts.store
        func once() async throws -> String {
            try await store.transaction { database in
                let (reply, submission) = try await FormService.record(
                    form, answers: answers, openid: openid, key: key, book: book, year: year, at: now, in: database)
                if let submission, !photos.isEmpty {
                    try await FormPhotos.attach(photos, to: submission, openid: openid, at: now, in: database)
                }
                return reply
            }
        }
        let reply: String
        do {
            reply = try await once()
        } catch  where !StoreUnavailable.isTrouble(error) {
            // Two taps at once on PostgreSQL: the second meets the first's key, and finds its record.
            reply = try await once()
        }
        store.facts.forgetApplication(of: openid)
        store.facts.forgetSuggestions(of: openid)
        if let entry = parts.conversations.entry(for: openid), entry.finishedKey == nil,
            entry.progress.form == form.name
        {
            try await parts.conversations.clear(openid)
        }
        parts.logger.info(
            "form submitted on a page",
            metadata: ["form": "\(form.name)", "member": "\(PersonalData.maskOpenID(openid))"])
        return reply
    }
}

/// A form's fields read from a page: each value checked as the chat checks it.
public enum PageAnswers {
    /// The field that holds a unit's code on a page (the unit field's own key holds its name).
    public static let unitCodeKey = "unit_code"

    /// The answers to `form` in `inputs` (by field key), and what is wrong, by field key, in
    /// words for the member. An optional field left empty is no answer.
    public static func read(_ inputs: [String: String], form: FormDefinition, organisation: Organisation)
        -> (answers: [String: String], problems: [String: String])
    {
        var answers: [String: String] = [:]
        var problems: [String: String] = [:]
        for field in form.fields where !field.isPhoto {
            if case .group(let columns, let least, _) = field.kind {
                let (rows, problem) = readGroup(inputs, key: field.key, label: field.label, columns: columns)
                if let problem {
                    problems[field.key] = problem
                } else if rows.count < max(least, field.optional ? 0 : 1) {
                    problems[field.key] = "「\(field.label)」至少填写 \(max(least, 1)) 行。"
                } else if !rows.isEmpty {
                    answers[field.key] = groupValue(rows)
                }
                continue
            }
            if case .unit = field.kind {
                let code = (inputs[unitCodeKey] ?? "").trimmingWhiteSpace()
                if let unit = organisation.units[code], unit.isLeaf {
                    answers[field.key] = unit.name
                    answers[unitCodeKey] = unit.code
                } else {
                    problems[field.key] = "请选择「\(field.label)」（可以先输入单位名称中的几个字搜索）。"
                }
                continue
            }
            let input = (inputs[field.key] ?? "").trimmingWhiteSpace()
            if input.isEmpty {
                if !field.optional { problems[field.key] = "请填写「\(field.label)」。" }
                continue
            }
            switch FormAnswer.validate(input, for: field) {
            case .success(let value): answers[field.key] = value
            case .failure(let problem): problems[field.key] = problem.message
            }
        }
        return (answers, problems)
    }

    /// The name of a group's cell on a page: `household.0.name`.
    public static func cellName(_ key: String, row: Int, column: String) -> String {
        "\(key).\(row).\(column)"
    }

    /// The rows of group `key` as typed (`key.N.column`), rows left wholly empty dropped, in order.
    public static func typedRows(_ inputs: [String: String], key: String, columns: [FormField]) -> [[String: String]] {
        let prefix = key + "."
        var indices: Set<Int> = []
        for name in inputs.keys where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), (0..<100).contains(index) {
                indices.insert(index)
            }
        }
        return indices.sorted().compactMap { index in
            var row: [String: String] = [:]
            for column in columns {
                let value = (inputs[cellName(key, row: index, column: column.key)] ?? "").trimmingWhiteSpace()
                if !value.isEmpty { row[column.key] = value }
            }
            return row.isEmpty ? nil : row
        }
    }

    /// A group's typed rows checked cell by cell: the rows in their stored form, or the first
    /// problem (「第 2 行：…」).
    static func readGroup(_ inputs: [String: String], key: String, label: String, columns: [FormField]) -> (
        [[String: String]], String?
    ) {
        var rows: [[String: String]] = []
        for (number, typed) in typedRows(inputs, key: key, columns: columns).enumerated() {
            var row: [String: String] = [:]
            for column in columns {
                guard let input = typed[column.key] else {
                    if column.optional { continue }
                    return ([], "「\(label)」第 \(number + 1) 行：请填写「\(column.label)」。")
                }
                switch FormAnswer.validate(input, for: column) {
                case .success(let value): row[column.key] = value
                case .failure(let problem): return ([], "「\(label)」第 \(number + 1) 行：\(problem.message)")
                }
            }
            rows.append(row)
        }
        return (rows, nil)
    }

    /// Rows as a group's stored answer: a JSON array of objects.
    public static func groupValue(_ rows: [[String: String]]) -> String {
        (try? JSONEncoder.sortedText(rows)) ?? "[]"
    }

    /// The group answers of `fields` turned back into cells (`key.N.column`), to fill a page from
    /// stored answers.
    public static func cells(of answers: [String: String], fields: [FormField]) -> [String: String] {
        var cells = answers
        for field in fields {
            guard case .group = field.kind, let value = answers[field.key] else { continue }
            for (index, row) in AidApplication.rows(value).enumerated() {
                for (column, cell) in row { cells[cellName(field.key, row: index, column: column)] = cell }
            }
        }
        return cells
    }
}
