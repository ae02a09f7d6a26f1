import ReplyRules
import WeChatWire

/// 合理化建议 and 我的建议: a suggestion stored once with its receipt number, or asked for; the
/// member's recent suggestions with their status and the union's reply.
struct SuggestionService: Sendable {
    let parts: DeskParts

    /// The name of the one-question form that asks for a suggestion's text.
    static let formName = "suggestion"

    static let form = FormDefinition(
        name: formName, title: "合理化建议",
        fields: [
            FormField(
                key: "content", label: "建议内容",
                kind: .text(minLength: SuggestionBox.minimumLength, maxLength: SuggestionBox.maximumLength),
                hint: "写清楚问题和您的想法，\(SuggestionBox.minimumLength)–\(SuggestionBox.maximumLength) 个字")
        ],
        prefix: "JY", done: "", source: SourceLocation(path: "", line: 0))

    /// `建议 <text>` submits at once; `建议` alone (or the menu) asks for the text.
    func submit(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws
        -> [ReplyBody]
    {
        let text = Self.text(content)
        let openid = message.header.sender
        guard !text.isEmpty else {
            return try await parts.start(FormConversation(form: Self.form, confirms: false), openid: openid, at: now)
        }
        if let problem = SuggestionBox.problem(with: text) {
            return [.text(problem)]
        }
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let key = MessageKey.of(message)
        let store = parts.store
        let suggestion = try await store.transaction(
            batching: SuggestionSubmission(openid: openid, content: text, messageKey: key, now: now, year: year))
        store.facts.forgetSuggestions(of: openid)
        parts.logger.info(
            "suggestion received",
            metadata: ["number": "\(suggestion.number)", "member": "\(PersonalData.maskOpenID(openid))"])
        return [.text(Self.received(suggestion))]
    }

    /// A suggestion's refusal, known without the store (the text too short or too long).
    func submitFromMemory(_ content: String) -> FromMemory<[ReplyBody]> {
        let text = Self.text(content)
        guard !text.isEmpty, let problem = SuggestionBox.problem(with: text) else { return .needsStore }
        return .known([.text(problem)])
    }

    /// 我的建议.
    func mine(_ openid: String, book: RuleBook) async throws -> [ReplyBody] {
        [.text(Self.mine(try await recent(openid), book: book))]
    }

    /// 我的建议 from memory.
    func mineFromMemory(_ openid: String, book: RuleBook) -> FromMemory<[ReplyBody]> {
        guard let recent = parts.store.facts.suggestions(for: openid) else { return .needsStore }
        return .known([.text(Self.mine(recent, book: book))])
    }

    /// The member's five latest suggestions, from memory or from the store (then remembered).
    private func recent(_ openid: String) async throws -> [Suggestion] {
        let store = parts.store
        if let known = store.facts.suggestions(for: openid) { return known }
        let facts = store.facts
        return try await store.read { database in
            let recent = try await SuggestionBox.recent(for: openid, limit: 5, in: database)
            facts.remember(suggestions: recent, for: openid)
            return recent
        }
    }

    static func received(_ suggestion: Suggestion) -> String {
        "感谢您的合理化建议！已收到，编号：\(suggestion.number)。\n工会会认真研究，处理结果会通知您。回复「我的建议」可查看进度。"
    }

    /// The text after a suggestion keyword: 「建议：食堂……」 → 「食堂……」.
    static func text(_ content: String) -> String {
        // Sliced, not trimmed through Foundation: every 「建议 …」 message passes here.
        var text = content.drop(while: \.isWhitespace)
        for keyword in ["合理化建议", "提建议", "我的建议", "建议"] where text.hasPrefix(keyword) {
            text = text.dropFirst(keyword.count)
            break
        }
        text = text.drop { $0.isWhitespace || "：:，,。.-—".contains($0) }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }

    /// 我的建议: the member's recent suggestions with their status and the union's reply. Built in
    /// one string (it answers from memory, for every such message): a content's first 20
    /// characters are found without counting all of its characters.
    static func mine(_ recent: [Suggestion], book: RuleBook) -> String {
        guard !recent.isEmpty else {
            return "您还没有提交过合理化建议。回复「建议」加内容即可提交，例如：建议 食堂增加夜班供餐。"
        }
        var text = "您最近的合理化建议："
        text.reserveCapacity(64 + recent.count * 160)
        for suggestion in recent {
            let date = LocalTime(unixSeconds: suggestion.createdAt, utcOffsetMinutes: book.settings.utcOffsetMinutes)
            text += "\n\n"
            text += suggestion.number
            text += "（\(date.month)月\(date.day)日）"
            text += suggestion.status.chinese
            text += "\n"
            let content = suggestion.content
            if let end = content.index(content.startIndex, offsetBy: 20, limitedBy: content.endIndex),
                end < content.endIndex
            {
                text += content[..<end]
                text += "…"
            } else {
                text += content
            }
            if let reply = suggestion.reply {
                text += "\n工会回复："
                text += reply
            }
        }
        return text
    }
}
