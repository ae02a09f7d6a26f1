import Foundation
import ReplyRules

/// What an activity asks at sign-up beyond the people (衣服尺码, 紧急联系人电话, 饮食禁忌), as staff
/// write it in the console, one question a line, with the answer types of `forms.yaml`:
///
///     衣服尺码：选择 S、M、L、XL
///     紧急联系人电话：手机
///     出生日期：日期
///     饮食禁忌：文本，可不填
///
/// A line without a type takes text. The types: 文本, 数字, 手机 (or 电话), 日期, 金额, and 选择
/// followed by two or more choices. 「可不填」 at the end makes a question optional. A question's
/// label is its answer's key, in the attendance list and its CSV.
public enum ActivityQuestions {
    /// The most questions an activity asks.
    public static let most = 10

    /// The questions `text` declares, or why not, with its line (400).
    public static func fields(_ text: String) throws -> [FormField] {
        var fields: [FormField] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty else { continue }
            func problem(_ what: String) -> AdminActionError {
                AdminActionError(.invalid, "报名填写项第 \(index + 1) 行：\(what)")
            }
            var optional = false
            for marker in ["（可不填）", "(可不填)", "，可不填", ",可不填", " 可不填", "可不填"] where line.hasSuffix(marker) {
                optional = true
                line = String(line.dropLast(marker.count)).trimmingCharacters(in: .whitespaces)
                break
            }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == "：" || $0 == ":" })
            let label = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let type = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "文本"
            guard (1...20).contains(label.count) else { throw problem("名称应为 1–20 个字") }
            guard !label.hasPrefix("_"), label != "people", label != PageAnswers.unitCodeKey,
                label.unicodeScalars.allSatisfy({ $0.properties.generalCategory != .control })
            else { throw problem("名称「\(label)」不能用") }
            guard !fields.contains(where: { $0.key == label }) else { throw problem("「\(label)」重复了") }
            let kind: FormField.Kind
            switch type {
            case "文本", "": kind = .text(minLength: 1, maxLength: 200)
            case "数字": kind = .number(min: 0, max: 100_000)
            case "手机", "电话", "手机号": kind = .phone
            case "日期": kind = .date
            case "金额": kind = .money(min: 0, max: 1_000_000)
            default:
                guard type.hasPrefix("选择") else {
                    throw problem("不认识的类型「\(type)」（可用：文本、数字、手机、日期、金额、选择 A、B）")
                }
                let choices = type.dropFirst(2).split(whereSeparator: { "、,，/ ：:".contains($0) })
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard choices.count >= 2, choices.count <= 20, Set(choices).count == choices.count else {
                    throw problem("「选择」后面写 2–20 个不重复的选项，用顿号分隔，如「选择 S、M、L」")
                }
                kind = .choice(choices)
            }
            fields.append(FormField(key: label, label: label, kind: kind, optional: optional))
            guard fields.count <= most else { throw problem("最多 \(most) 项") }
        }
        return fields
    }

    /// The questions of an activity whose text was checked when it was saved.
    public static func of(_ activity: Activity) -> [FormField] {
        (try? fields(activity.questions)) ?? []
    }
}
