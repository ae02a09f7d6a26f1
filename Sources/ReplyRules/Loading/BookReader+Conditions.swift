import Foundation

extension BookReader {
    // MARK: Conditions

    static let dayNames: [String: Int] = [
        "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
        "周一": 1, "周二": 2, "周三": 3, "周四": 4, "周五": 5, "周六": 6, "周日": 7, "周天": 7,
        "星期一": 1, "星期二": 2, "星期三": 3, "星期四": 4, "星期五": 5, "星期六": 6, "星期日": 7, "星期天": 7,
    ]

    static func day(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let number = Int(trimmed), (1...7).contains(number) { return number }
        return dayNames[trimmed] ?? dayNames[String(trimmed.prefix(3))]
    }

    /// What a rule's conditions (`when:`) may say.
    enum ConditionKey: String, YAMLKeys {
        case days, hours, members
    }

    mutating func readConditions(_ node: YAMLNode) -> Conditions? {
        guard let fields = problems.mapping(node, what: "条件（when）", keys: ConditionKey.self) else {
            return nil
        }
        var conditions = Conditions()
        if let daysNode = fields[.days] {
            var days = Set<Int>()
            for item in problems.list(daysNode) {
                guard let text = problems.text(item, what: "星期") else { continue }
                let range = text.replacingOccurrences(of: "至", with: "-").replacingOccurrences(of: "~", with: "-")
                    .split(separator: "-").map(String.init)
                if range.count == 2, let first = Self.day(range[0]), let last = Self.day(range[1]), first <= last {
                    days.formUnion(first...last)
                } else if range.count == 1, let day = Self.day(range[0]) {
                    days.insert(day)
                } else {
                    problems.error(item, "无法识别的星期「\(text)」（可写 周一、mon、1，或 周一至周五）")
                }
            }
            conditions.days = days
        }
        if let hoursNode = fields[.hours] {
            var windows: [Range<Int>] = []
            for item in problems.list(hoursNode) {
                guard let text = problems.text(item, what: "时间段") else { continue }
                guard let window = Self.window(text) else {
                    problems.error(item, "时间段「\(text)」应写成 09:00-17:30 的形式")
                    continue
                }
                windows.append(contentsOf: window)
            }
            conditions.hours = windows
        }
        if let members = fields[.members] {
            conditions.members = problems.bool(members, what: "members")
        }
        return conditions
    }

    /// "09:00-17:30" as minute ranges; a window past midnight ("22:00-06:00") is split in two.
    static func window(_ text: String) -> [Range<Int>]? {
        let normalized = text.replacingOccurrences(of: "：", with: ":").replacingOccurrences(of: "—", with: "-")
            .replacingOccurrences(of: "–", with: "-").replacingOccurrences(of: "至", with: "-")
        let parts = normalized.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else {
            return nil
        }
        return start < end ? [start..<end] : [start..<1440, 0..<end]
    }

    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...24).contains(hour),
            (0..<60).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }
}
