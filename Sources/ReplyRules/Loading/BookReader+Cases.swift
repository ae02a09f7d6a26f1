import Foundation

extension BookReader {
    // MARK: The inbox (cases:)

    /// What the inbox's settings (`cases:`) may say.
    enum CaseKey: String, YAMLKeys {
        case enabled, due, officeHours = "office_hours", holidays, workdays, reply, followUp = "follow_up", afterHours =
            "after_hours"
    }

    mutating func readCases(_ node: YAMLNode) {
        if let existing = casesSource {
            problems.error(node, "留言设置（cases）已在 \(existing) 定义过")
            return
        }
        casesSource = node.location
        guard
            let fields = problems.mapping(
                node, what: "留言设置（cases）",
                keys: CaseKey.self)
        else { return }
        if let enabled = fields[.enabled] {
            cases.enabled = problems.bool(enabled, what: "enabled") ?? true
        }
        if let dueNode = fields[.due], let text = problems.text(dueNode, what: "答复期限（due）") {
            if let due = Self.due(text) {
                cases.due = due
            } else {
                problems.error(dueNode, "答复期限「\(text)」应写成「3 工作日」「2 天」或「24 小时」（1–60）")
            }
        }
        if let hours = fields[.officeHours], let conditions = readConditions(hours) {
            if let days = conditions.days { cases.officeDays = days }
            if let windows = conditions.hours { cases.officeHours = windows }
        }
        if let list = fields[.holidays] {
            cases.holidays = dates(list, what: "节假日（holidays）")
            cases.holidaysSource = SourceLocation(path: list.path, line: list.line)
        }
        if let list = fields[.workdays] { cases.workdays = dates(list, what: "调休上班日（workdays）") }
        for (key, path) in [
            (CaseKey.reply, \CaseSettings.acknowledgement), (.followUp, \CaseSettings.followUp),
            (.afterHours, \CaseSettings.afterHours),
        ] {
            guard let textNode = fields[key], let text = problems.text(textNode, what: key.rawValue) else { continue }
            if key == .reply, !text.contains("{number}") {
                problems.error(textNode, "留言回复（reply）要包含 {number}，让职工知道留言编号")
                continue
            }
            cases[keyPath: path] = text
        }
    }

    /// 「3 工作日」「3 个工作日」「2 天」「24 小时」.
    static func due(_ text: String) -> CaseSettings.Due? {
        let compact = text.filter { !$0.isWhitespace }.replacingOccurrences(of: "个", with: "")
        let digits = compact.prefix { $0.isASCII && $0.isNumber }
        guard let count = Int(digits), (1...60).contains(count) else { return nil }
        switch compact.dropFirst(digits.count) {
        case "工作日": return .workingDays(count)
        case "天", "日": return .days(count)
        case "小时", "时": return .hours(count)
        default: return nil
        }
    }

    mutating func dates(_ node: YAMLNode, what: String) -> Set<String> {
        var dates = Set<String>()
        for item in problems.list(node) {
            guard let text = problems.text(item, what: what) else { continue }
            let parts = text.split(separator: "-").compactMap { Int($0) }
            guard parts.count == 3, (2000...2200).contains(parts[0]), (1...12).contains(parts[1]),
                (1...31).contains(parts[2])
            else {
                problems.error(item, "日期「\(text)」应写成 2026-10-01 的形式")
                continue
            }
            dates.insert(String(format: "%04d-%02d-%02d", parts[0], parts[1], parts[2]))
        }
        return dates
    }
}
