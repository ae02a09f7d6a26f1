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
}
