import ReplyRules
import Testing

@testable import UnionServices

@Suite("The text of 我的建议")
struct MySuggestionsTextTests {
    /// The text by its definition: a line a suggestion, its content cut after 20 characters.
    private func byDefinition(_ recent: [Suggestion], book: RuleBook) -> String {
        guard !recent.isEmpty else {
            return "您还没有提交过合理化建议。回复「建议」加内容即可提交，例如：建议 食堂增加夜班供餐。"
        }
        var lines = ["您最近的合理化建议："]
        for suggestion in recent {
            let date = LocalTime(unixSeconds: suggestion.createdAt, utcOffsetMinutes: book.settings.utcOffsetMinutes)
            let preview =
                suggestion.content.count > 20 ? String(suggestion.content.prefix(20)) + "…" : suggestion.content
            lines.append("")
            lines.append("\(suggestion.number)（\(date.month)月\(date.day)日）\(suggestion.status.chinese)")
            lines.append(preview)
            if let reply = suggestion.reply { lines.append("工会回复：\(reply)") }
        }
        return lines.joined(separator: "\n")
    }

    @Test func theTextIsTheSameAsByDefinition() {
        var random = SystemRandomNumberGenerator()
        // Characters of one to many bytes and of several scalars: 20 characters are not 20 bytes.
        let pieces = ["食堂", "a", "1", " ", "é", "e\u{301}", "🇨🇳", "👩‍🔧", "，", "。", "夜班", "\n", "路灯"]
        let book = RuleBook(rules: [])
        for round in 0..<2_000 {
            let recent = (0..<Int.random(in: 0...3, using: &random)).map { index in
                Suggestion(
                    id: index, number: "JY-2026-\(100 + index)", openid: "oMember", unitCode: "U1",
                    content: (0..<Int.random(in: 0...26, using: &random)).map { _ in
                        pieces.randomElement(using: &random)!
                    }.joined(),
                    status: Suggestion.Status.allCases.randomElement(using: &random)!,
                    reply: Bool.random(using: &random) ? "已安排后勤处理" : nil,
                    createdAt: Int64.random(in: 1_700_000_000...1_800_000_000, using: &random), updatedAt: 0)
            }
            let text = SuggestionService.mine(recent, book: book)
            #expect(text == byDefinition(recent, book: book), "round \(round): \(recent.map(\.content))")
            if text != byDefinition(recent, book: book) { return }
        }
    }
}
