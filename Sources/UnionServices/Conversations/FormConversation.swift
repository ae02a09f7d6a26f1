import Foundation
import ReplyRules

/// Where a member is in a form.
public struct FormProgress: Sendable, Hashable, Codable {
    /// The form's name (`join`, `suggestion`, or a form from Replies).
    public var form: String
    /// The question being asked; equal to the number of questions while confirming.
    public var step: Int
    /// The answers so far, by field key.
    public var answers: [String: String]
    /// When the member last answered, Unix seconds.
    public var updatedAt: Int64

    /// Creates progress.
    public init(form: String, step: Int = 0, answers: [String: String] = [:], updatedAt: Int64) {
        self.form = form
        self.step = step
        self.answers = answers
        self.updatedAt = updatedAt
    }
}

/// The form dialogue as a pure function: given where the member is and what they wrote, what to
/// say and where they are next. Storing and submitting are the caller's.
public struct FormConversation: Sendable {
    /// The form.
    public let form: FormDefinition
    /// Whether the member confirms a summary before submitting.
    public let confirms: Bool
    /// The units a `unit` question chooses from.
    public let organisation: Organisation

    /// Creates the dialogue for `form`.
    public init(form: FormDefinition, confirms: Bool = true, organisation: Organisation = Organisation()) {
        self.form = form
        self.confirms = confirms
        self.organisation = organisation
    }

    /// What happens after a member's message.
    public enum Turn: Sendable, Hashable {
        /// Say `reply` and go on from `progress`.
        case ask(FormProgress, reply: String)
        /// The member cancelled: say `reply`, forget the progress, store nothing.
        case cancelled(reply: String)
        /// All answers are in and confirmed: store them, then say so.
        case submit(answers: [String: String])
    }

    static let cancelWords: Set<String> = ["取消", "退出", "不填了", "cancel", "quit"]
    static let helpWords: Set<String> = ["帮助", "help", "?", "怎么填"]
    static let confirmWords: Set<String> = ["确认", "确定", "提交", "是", "好", "ok", "yes", "y", "1"]
    static let restartWords: Set<String> = ["修改", "重填", "重新填写", "改", "2"]
    static let skipWords: Set<String> = ["无", "没有", "跳过", "skip"]

    /// The opening of the form: its introduction and the first question.
    public func start(at now: Int64) -> Turn {
        start(prefilled: [:], at: now)
    }

    /// The opening of the form with some answers already given (the unit, from a QR code): their
    /// questions are skipped.
    public func start(prefilled: [String: String], at now: Int64) -> Turn {
        var progress = FormProgress(form: form.name, answers: prefilled, updatedAt: now)
        progress.step = firstUnanswered(from: 0, answers: prefilled)
        var intro = "【\(form.title)】\n"
        if prefilled[Self.qrTicketKey] != nil {
            if let unit = prefilled["unit"] {
                intro += "您正在申请加入「\(unit)」。\n"
            } else if let level = prefilled[Self.unitLevelKey], let unit = organisation.units[level] {
                intro += "您正在申请加入「\(unit.name)」下属的工会。\n"
            }
        }
        intro += form.intro.map { $0 + "\n\n" } ?? ""
        return .ask(progress, reply: intro + prompt(for: progress))
    }

    /// The answers a restart keeps: those a QR code filled in.
    func fixedAnswers(_ answers: [String: String]) -> [String: String] {
        guard answers[Self.qrTicketKey] != nil else { return [:] }
        return answers.filter { [Self.qrTicketKey, "unit", "unit_code"].contains($0.key) }
    }

    /// The first question from `step` on that a QR code has not answered (photos are not asked
    /// in the chat: they are uploaded on the member pages).
    func firstUnanswered(from step: Int, answers: [String: String]) -> Int {
        var step = step
        while step < form.fields.count,
            (answers[Self.qrTicketKey] != nil && form.fields[step].key == "unit" && answers["unit"] != nil)
                || form.fields[step].isPhoto
        {
            step += 1
        }
        return step
    }

    /// The question (or the summary) the member is being asked.
    public func prompt(for progress: FormProgress) -> String {
        progress.step < form.fields.count
            ? question(at: progress.step, answers: progress.answers) : summary(progress.answers)
    }

    /// Handles the member's `text`.
    public func respond(to text: String, progress: FormProgress, at now: Int64) -> Turn {
        let input = text.trimmingWhiteSpace()
        let word = KeywordNormalizer.normalize(input)
        if Self.cancelWords.contains(word) {
            return .cancelled(reply: "已取消「\(form.title)」，没有保存任何内容。需要时可以重新开始。")
        }
        if Self.helpWords.contains(word) {
            return .ask(
                progress,
                reply: "您正在填写「\(form.title)」（共 \(form.fields.count) 项）。按提示回复即可；回复「取消」可随时放弃，回复「热线」可查看工会电话。\n\n"
                    + prompt(for: progress))
        }
        var next = progress
        next.updatedAt = now
        guard progress.step < form.fields.count else {
            if Self.confirmWords.contains(word) {
                return .submit(answers: progress.answers)
            }
            if Self.restartWords.contains(word) {
                next.answers = fixedAnswers(progress.answers)
                next.step = firstUnanswered(from: 0, answers: next.answers)
                return .ask(next, reply: "好的，我们重新填写。\n\n" + prompt(for: next))
            }
            return .ask(next, reply: "请回复「确认」提交，「修改」重新填写，或「取消」放弃。\n\n" + summary(progress.answers))
        }
        let field = form.fields[progress.step]
        if case .unit = field.kind {
            switch chooseUnit(input, word: word, answers: progress.answers) {
            case .again(let answers, let note):
                next.answers = answers
                return .ask(
                    next, reply: (note.map { $0 + "\n\n" } ?? "") + question(at: progress.step, answers: answers))
            case .chosen(let answers):
                next.answers = answers
            }
        } else if field.optional, Self.skipWords.contains(word) {
            next.answers[field.key] = ""
        } else {
            switch FormAnswer.validate(input, for: field) {
            case .failure(let problem):
                return .ask(progress, reply: problem.message + "\n\n" + question(at: progress.step))
            case .success(let value):
                next.answers[field.key] = value
            }
        }
        next.step = firstUnanswered(from: next.step + 1, answers: next.answers)
        if next.step < form.fields.count {
            return .ask(next, reply: question(at: next.step))
        }
        return confirms ? .ask(next, reply: summary(next.answers)) : .submit(answers: next.answers)
    }

    func question(at step: Int, answers: [String: String] = [:]) -> String {
        let field = form.fields[step]
        let count = form.fields.count > 1 ? "（\(step + 1)/\(form.fields.count)）" : ""
        var lines = ["\(count)请回复\(field.label)："]
        switch field.kind {
        case .unit:
            lines += unitLines(answers)
        case .choice(let choices):
            lines += choices.enumerated().map { "\($0.offset + 1). \($0.element)" }
            lines.append("回复序号或名称。")
        case .date:
            lines.append("格式如 2026-12-01。")
        case .number(let min, let max):
            lines.append("请填 \(min) 到 \(max) 之间的整数。")
        default:
            break
        }
        if let hint = field.hint { lines.append("提示：\(hint)") }
        if field.optional { lines.append("没有可回复「无」。") }
        return lines.joined(separator: "\n")
    }

    // MARK: Choosing a unit

    /// Where a member is in choosing a unit: the level being walked and the last search's
    /// finds, kept with the answers until a unit is chosen.
    static let unitLevelKey = "_unit_at"
    /// The ticket of the QR code that filled in the unit; the unit question is then skipped.
    public static let qrTicketKey = "_qr"
    static let unitFoundKey = "_unit_found"
    static let backWords: Set<String> = ["返回", "上一级", "back"]
    /// The most finds listed at once.
    static let foundLimit = 20

    enum UnitStep {
        case again([String: String], note: String?)
        case chosen([String: String])
    }

    /// The units listed now: the last search's finds, or the units below the level walked to.
    func listedUnits(_ answers: [String: String]) -> [Organisation.Unit] {
        if let found = answers[Self.unitFoundKey], !found.isEmpty {
            return found.split(separator: ",").compactMap { organisation.units[String($0)] }
        }
        let level = answers[Self.unitLevelKey] ?? organisation.root ?? ""
        return (organisation.units[level]?.children ?? []).compactMap { organisation.units[$0] }
    }

    func chooseUnit(_ input: String, word: String, answers: [String: String]) -> UnitStep {
        var answers = answers
        let listed = listedUnits(answers)
        func choose(_ unit: Organisation.Unit) -> UnitStep {
            answers[Self.unitFoundKey] = nil
            if !unit.isLeaf {
                answers[Self.unitLevelKey] = unit.code
                return .again(answers, note: nil)
            }
            answers[Self.unitLevelKey] = nil
            answers["unit"] = unit.name
            answers["unit_code"] = unit.code
            return .chosen(answers)
        }
        if let index = Int(word), index >= 1, index <= listed.count {
            return choose(listed[index - 1])
        }
        if Self.backWords.contains(word) {
            if answers.removeValue(forKey: Self.unitFoundKey) == nil, let level = answers[Self.unitLevelKey] {
                answers[Self.unitLevelKey] = organisation.units[level]?.parent
            }
            return .again(answers, note: nil)
        }
        if let exact = organisation.leaf(named: word) {
            return choose(exact)
        }
        let found = organisation.search(input)
        switch found.count {
        case 0:
            return .again(answers, note: "没有找到名称含「\(input)」的单位，请换几个字，或回复序号逐级选择。")
        case 1:
            return choose(found[0])
        default:
            answers[Self.unitFoundKey] = found.prefix(Self.foundLimit).map(\.code).joined(separator: ",")
            let more = found.count > Self.foundLimit ? "（共 \(found.count) 个，只列出前 \(Self.foundLimit) 个，可以多写几个字）" : ""
            return .again(answers, note: "找到 \(found.count) 个名称含「\(input)」的单位\(more)：")
        }
    }

    /// The unit question's list: the finds, or the units of the level walked to.
    func unitLines(_ answers: [String: String]) -> [String] {
        let listed = listedUnits(answers)
        var lines: [String] = []
        let searching = !(answers[Self.unitFoundKey] ?? "").isEmpty
        if !searching, let level = answers[Self.unitLevelKey], let unit = organisation.units[level] {
            lines.append("「\(unit.name)」下的单位：")
        }
        for (offset, unit) in listed.enumerated() {
            let within = searching ? unit.parent.flatMap { organisation.units[$0]?.name }.map { "（\($0)）" } ?? "" : ""
            lines.append("\(offset + 1). \(unit.name)\(within)\(unit.isLeaf ? "" : " ›")")
        }
        lines.append("回复序号选择（带 › 的还有下一级），也可以直接回复单位名称中的几个字查找，如「\(Self.sample(organisation))」。")
        if searching || answers[Self.unitLevelKey] != nil { lines.append("回复「返回」回到上一级。") }
        return lines
    }

    /// Two characters of a unit's name, for the example in the question.
    static func sample(_ organisation: Organisation) -> String {
        guard let name = organisation.leaves.first?.name else { return "环卫" }
        let core = name.replacingOccurrences(of: "工会", with: "")
        return String(core.suffix(min(2, core.count)))
    }

    func summary(_ answers: [String: String]) -> String {
        var lines = ["请核对您填写的「\(form.title)」："]
        for field in form.fields where !field.isPhoto {
            let value = answers[field.key] ?? ""
            lines.append("\(field.label)：\(value.isEmpty ? "（无）" : value)")
        }
        if let photo = form.fields.first(where: \.isPhoto) {
            lines.append("（\(photo.label)等照片请在「会员中心」网页上填写本表时上传。）")
        }
        lines.append("")
        lines.append("回复「确认」提交，「修改」重新填写，「取消」放弃。")
        return lines.joined(separator: "\n")
    }
}

/// Checks one answer and puts it in its stored form.
public enum FormAnswer {
    /// Why an answer was not accepted, in words for the member.
    public struct Problem: Error, Sendable, Hashable {
        /// What to tell the member.
        public var message: String
    }

    /// The stored answers to `fields` among `given` (by key), each checked by ``validate(_:for:)``;
    /// an optional field left empty is no answer; the first problem otherwise.
    public static func answers(_ given: [String: String], for fields: [FormField]) -> Result<
        [String: String], Problem
    > {
        var values: [String: String] = [:]
        for field in fields {
            let input = (given[field.key] ?? "").trimmingWhiteSpace()
            if input.isEmpty {
                if field.optional { continue }
                return .failure(Problem(message: "请填写「\(field.label)」"))
            }
            switch validate(input, for: field) {
            case .success(let value): values[field.key] = value
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(values)
    }

    /// The stored form of `input` for `field`, or what is wrong with it.
    public static func validate(_ input: String, for field: FormField) -> Result<String, Problem> {
        let text = input.trimmingWhiteSpace()
        switch field.kind {
        case .text(let minLength, let maxLength):
            guard text.count >= minLength, text.count <= maxLength else {
                return .failure(
                    Problem(message: "「\(field.label)」需要 \(minLength)–\(maxLength) 个字，您填了 \(text.count) 个。"))
            }
            return .success(text)
        case .phone:
            guard let phone = mobileNumber(text) else {
                return .failure(Problem(message: "手机号应为 11 位数字、以 1 开头，例如 13812345678。"))
            }
            return .success(phone)
        case .number(let min, let max):
            let folded = text.precomposedStringWithCompatibilityMapping
            guard let number = Int(folded), number >= min, number <= max else {
                return .failure(Problem(message: "「\(field.label)」请填 \(min) 到 \(max) 之间的整数。"))
            }
            return .success(String(number))
        case .date:
            guard let date = date(text) else {
                return .failure(Problem(message: "「\(field.label)」的日期看不懂，请按 2026-12-01 的格式填写。"))
            }
            return .success(date)
        case .unit:
            // Chosen in the conversation from the organisation; here only its stored name.
            guard !text.isEmpty else { return .failure(Problem(message: "请选择「\(field.label)」。")) }
            return .success(text)
        case .photo:
            // Uploaded on a page; never typed.
            return .failure(Problem(message: "「\(field.label)」请在会员中心网页上传照片。"))
        case .group:
            // Rows on a page; never typed.
            return .failure(Problem(message: "「\(field.label)」请在会员中心网页上填写。"))
        case .money(let min, let max):
            guard let cents = money(text), cents >= Int64(min) * 100, cents <= Int64(max) * 100 else {
                return .failure(Problem(message: "「\(field.label)」请填 \(min) 到 \(max) 元之间的金额，最多两位小数，例如 1500 或 1500.50。"))
            }
            return .success(yuan(cents))
        case .choice(let choices):
            let folded = KeywordNormalizer.normalize(text)
            if let index = Int(folded), index >= 1, index <= choices.count {
                return .success(choices[index - 1])
            }
            if let match = choices.first(where: { KeywordNormalizer.normalize($0) == folded }) {
                return .success(match)
            }
            return .failure(Problem(message: "「\(text)」不在选项里，请回复序号（1–\(choices.count)）或选项名称。"))
        }
    }

    /// Fen from an amount a member typed (`1,500`, `1500.5`, `1500元`, full-width digits), or nil.
    public static func money(_ text: String) -> Int64? {
        var folded = text.precomposedStringWithCompatibilityMapping.filter { $0 != "," && $0 != " " }
        if folded.hasSuffix("元") { folded.removeLast() }
        let parts = folded.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, !whole.isEmpty, whole.count <= 9,
            whole.allSatisfy({ $0.isASCII && $0.isNumber }), let yuan = Int64(whole)
        else { return nil }
        var fen: Int64 = 0
        if parts.count == 2 {
            let decimals = parts[1]
            guard (1...2).contains(decimals.count), decimals.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return nil
            }
            fen = Int64(decimals.count == 1 ? decimals + "0" : String(decimals)) ?? 0
        }
        return yuan * 100 + fen
    }

    /// Fen as yuan with two decimals: `150050` → `1500.50`.
    public static func yuan(_ cents: Int64) -> String {
        String(format: "%lld.%02lld", cents / 100, cents % 100)
    }

    /// A mainland mobile number from what a member typed (spaces, dashes and +86 allowed), or nil.
    public static func mobileNumber(_ text: String) -> String? {
        var digits = text.precomposedStringWithCompatibilityMapping.filter { !" -()".contains($0) }
        if digits.hasPrefix("+86") {
            digits.removeFirst(3)
        } else if digits.hasPrefix("86"), digits.count == 13 {
            digits.removeFirst(2)
        }
        guard digits.count == 11, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first == "1",
            let second = digits.dropFirst().first, ("3"..."9").contains(second)
        else { return nil }
        return digits
    }

    /// A calendar date as `YYYY-MM-DD` from `2026-12-01`, `2026/12/1`, `2026.12.1` or `2026年12月1日`.
    public static func date(_ text: String) -> String? {
        let folded = text.precomposedStringWithCompatibilityMapping
        let parts = folded.split(whereSeparator: { "-/.年月日 ".contains($0) }).map(String.init)
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1900...2200).contains(year), (1...12).contains(month)
        else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }
}

extension String {
    /// The text without white space at either end: the scalars with Unicode's White_Space
    /// property (spaces, tabs, line breaks, the ideographic space U+3000) and the zero-width
    /// space U+200B, the same set as Foundation's `.whitespacesAndNewlines` here. Foundation's
    /// `trimmingCharacters(in:)` took 6 % of the gateway's time answering help in a form (perf,
    /// `scripts/bench` form_help).
    func trimmingWhiteSpace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !Self.isWhiteSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !Self.isWhiteSpace($0) }) ?? first
        if first == scalars.startIndex && scalars.index(after: last) == scalars.endIndex { return self }
        return String(scalars[first...last])
    }

    private static func isWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.value == 0x200B
    }
}
