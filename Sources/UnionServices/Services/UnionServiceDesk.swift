import Foundation
import Logging
import ReplyRules
import SQLKit
import WeChatWire

/// The built-in services that rules hand messages to: joining the union, suggestions, welfare,
/// the hotline and the union's own forms, with the conversation state they need.
public struct UnionServiceDesk: ServiceDesk {
    private let store: UnionStore
    private let conversations: ConversationStore
    private let membership: MembershipRegistry
    private let directory: any MembershipDirectory
    private let suggestions: SuggestionBox
    private let publicURL: String?
    private let held: HeldNotices
    private let logger: Logger

    /// The name of the one-question form that asks for a suggestion's text.
    static let suggestionForm = "suggestion"
    /// Keywords that answer with the hotline in the middle of a form, then repeat the question.
    static let hotlineWords: Set<String> = ["热线", "电话", "拨号", "一键拨号", "12351", "工会电话"]

    /// Creates the desk over `store`, loading the conversations in progress.
    ///
    /// - Parameter publicURL: the gateway's public address, for the hotline page link.
    /// - Parameter extraMembers: who else counts as a member (for examples that play one).
    /// - Parameter held: the members with held notices; loaded from the store here.
    public static func open(
        store: UnionStore, publicURL: String?, logger: Logger, extraMembers: (any MembershipDirectory)? = nil,
        held: HeldNotices = HeldNotices()
    ) async throws -> UnionServiceDesk {
        let registry = MembershipRegistry(store: store)
        try await held.load(from: store)
        return UnionServiceDesk(
            store: store, conversations: try await ConversationStore.load(from: store), membership: registry,
            directory: extraMembers.map { CombinedMembership([registry, $0]) } ?? registry,
            suggestions: SuggestionBox(store: store), publicURL: publicURL, held: held, logger: logger)
    }

    private init(
        store: UnionStore, conversations: ConversationStore, membership: MembershipRegistry,
        directory: any MembershipDirectory,
        suggestions: SuggestionBox, publicURL: String?, held: HeldNotices, logger: Logger
    ) {
        self.held = held
        self.store = store
        self.conversations = conversations
        self.membership = membership
        self.directory = directory
        self.suggestions = suggestions
        self.publicURL = publicURL
        self.logger = logger
    }

    /// Who counts as a member: approved applicants (and any extra members given).
    public var members: any MembershipDirectory { directory }

    public func takeHeldNotices(_ openid: String, at unixTime: Int64) async throws -> [String] {
        try await held.take(openid, store: store, at: unixTime)
    }

    public func isIdle(for openid: String) -> Bool {
        !held.contains(openid) && conversations.entry(for: openid) == nil
    }

    // MARK: Conversations in progress

    public func intercept(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws -> Interception? {
        let openid = message.header.sender
        guard let entry = conversations.entry(for: openid) else { return nil }
        let book = rules.book
        if let finishedKey = entry.finishedKey {
            // WeChat retrying the message that finished the form, perhaps after a restart.
            if finishedKey == MessageKey.of(message), let reply = entry.finishedReply {
                return .replies([.text(reply)])
            }
            if now - entry.progress.updatedAt > 600 { try await conversations.clear(openid) }
            return nil
        }
        guard let form = self.form(named: entry.progress.form, in: book) else {
            try await conversations.clear(openid)  // the form was removed from Replies
            return nil
        }
        let timeout = Int64(book.settings.conversationTimeoutMinutes) * 60
        if now - entry.progress.updatedAt > timeout {
            try await conversations.clear(openid)
            return .note(
                "您之前填写的「\(form.form.title)」超过 \(book.settings.conversationTimeoutMinutes) 分钟没有回复，已自动取消，没有保存。如需办理请重新开始。")
        }
        guard case .text(let text) = message.kind else {
            if message.isEvent { return nil }  // menu taps and other events go to the rules
            return .replies([.text("请用文字回复。\n\n" + form.prompt(for: entry.progress))])
        }
        if Self.hotlineWords.contains(KeywordNormalizer.normalize(text.content)) {
            return .replies([
                .text(
                    HotlineText.render(book.hotline, publicURL: publicURL) + "\n\n" + form.prompt(for: entry.progress))
            ])
        }
        return .replies(
            try await advance(form, progress: entry.progress, text: text.content, message: message, book: book, at: now)
        )
    }

    private func advance(
        _ form: FormConversation, progress: FormProgress, text: String, message: InboundMessage, book: RuleBook,
        at now: Int64
    ) async throws -> [ReplyBody] {
        let openid = message.header.sender
        switch form.respond(to: text, progress: progress, at: now) {
        case .ask(let next, let reply):
            try await conversations.save(next, for: openid)
            return [.text(reply)]
        case .cancelled(let reply):
            try await conversations.clear(openid)
            return [.text(reply)]
        case .submit(let answers):
            let reply = try await submit(form.form, answers: answers, message: message, book: book, at: now)
            return [.text(reply)]
        }
    }

    /// Stores a finished form and marks the conversation finished, in one transaction; the
    /// reply is returned only after the commit.
    private func submit(
        _ form: FormDefinition, answers: [String: String], message: InboundMessage, book: RuleBook, at now: Int64
    )
        async throws -> String
    {
        let openid = message.header.sender
        let key = MessageKey.of(message)
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let reply = try await store.transaction { database -> String in
            let reply: String
            switch form.name {
            case JoinSettings.formName:
                let application = try await MembershipRegistry.submit(
                    openid: openid, answers: answers, messageKey: key, at: now, year: year, in: database)
                reply = "入会申请已提交！申请编号：\(application.number)。\n工会审核后会通知您，回复「入会进度」可随时查看。"
            case Self.suggestionForm:
                let suggestion = try await SuggestionBox.submit(
                    openid: openid, content: answers["content"] ?? "", messageKey: key, at: now, year: year,
                    in: database)
                reply = Self.suggestionReceived(suggestion)
            default:
                let submission = try await FormSubmissions.submit(
                    form: form.name, prefix: form.prefix, openid: openid, answers: answers, messageKey: key, at: now,
                    year: year,
                    in: database)
                reply = form.done.replacingOccurrences(of: "{number}", with: submission.number)
            }
            try await ConversationStore.finish(openid, key: key, reply: reply, at: now, in: database)
            return reply
        }
        conversations.didFinish(openid, progress: FormProgress(form: form.name, updatedAt: now), key: key, reply: reply)
        logger.info(
            "form submitted", metadata: ["form": "\(form.name)", "member": "\(PersonalData.maskOpenID(openid))"])
        return reply
    }

    static func suggestionReceived(_ suggestion: Suggestion) -> String {
        "感谢您的合理化建议！已收到，编号：\(suggestion.number)。\n工会会认真研究，处理结果会通知您。回复「我的建议」可查看进度。"
    }

    private func form(named name: String, in book: RuleBook) -> FormConversation? {
        switch name {
        case JoinSettings.formName: FormConversation(form: book.join.form)
        case Self.suggestionForm: FormConversation(form: Self.suggestionDefinition, confirms: false)
        default: book.forms[name].map { FormConversation(form: $0) }
        }
    }

    static let suggestionDefinition = FormDefinition(
        name: suggestionForm, title: "合理化建议",
        fields: [
            FormField(
                key: "content", label: "建议内容",
                kind: .text(minLength: SuggestionBox.minimumLength, maxLength: SuggestionBox.maximumLength),
                hint: "写清楚问题和您的想法，\(SuggestionBox.minimumLength)–\(SuggestionBox.maximumLength) 个字")
        ],
        prefix: "JY", done: "", source: SourceLocation(path: "", line: 0))

    // MARK: Services the rules hand over to

    public func perform(_ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine)
        async throws -> [ReplyBody]
    {
        let book = rules.book
        let openid = message.header.sender
        switch action {
        case .hotline:
            return [.text(HotlineText.render(book.hotline, publicURL: publicURL))]
        case .welfare:
            let isMember = try await directory.isMember(openid)
            return WelfareReply.reply(book.welfare, asEvent: message.isEvent, isMember: isMember)
        case .joinStatus:
            return [.text(try await joinStatus(openid))]
        case .join:
            if let application = try await membership.latest(for: openid), application.status != .rejected {
                return [.text(try await joinStatus(openid))]
            }
            return try await start(FormConversation(form: book.join.form), openid: openid, at: values.unixTime)
        case .suggestion:
            return try await suggestion(values.content, message: message, book: book, at: values.unixTime)
        case .mySuggestions:
            return [.text(try await mySuggestions(openid, book: book))]
        case .form(let name):
            guard let definition = book.forms[name] else {
                return [.text("该服务暂时无法使用，请联系工会。")]
            }
            if definition.membersOnly, try await !directory.isMember(openid) {
                return [.text("「\(definition.title)」仅限工会会员办理。回复「入会」即可申请加入工会。")]
            }
            return try await start(FormConversation(form: definition), openid: openid, at: values.unixTime)
        }
    }

    private func start(_ form: FormConversation, openid: String, at now: Int64) async throws -> [ReplyBody] {
        if let entry = conversations.entry(for: openid), entry.finishedKey == nil, entry.progress.form == form.form.name
        {
            return [.text("您正在填写「\(form.form.title)」。\n\n" + form.prompt(for: entry.progress))]
        }
        guard case .ask(let progress, let reply) = form.start(at: now) else { return [] }
        try await conversations.save(progress, for: openid)
        return [.text(reply)]
    }

    private func joinStatus(_ openid: String) async throws -> String {
        guard let application = try await membership.latest(for: openid) else {
            return "您还没有提交入会申请。回复「入会」即可开始申请。"
        }
        switch application.status {
        case .pending:
            return "您的入会申请（编号 \(application.number)）正在审核中，审核结果会第一时间通知您。"
        case .approved:
            return "您已是工会会员（申请编号 \(application.number)）。回复「福利」查看会员福利。"
        case .rejected:
            return "您的入会申请（编号 \(application.number)）未通过审核，原因：\(application.reason ?? "未说明")。回复「入会」可重新申请。"
        }
    }

    /// `建议 <text>` submits at once; `建议` alone (or the menu) asks for the text.
    private func suggestion(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws
        -> [ReplyBody]
    {
        let text = Self.suggestionText(content)
        let openid = message.header.sender
        guard !text.isEmpty else {
            return try await start(
                FormConversation(form: Self.suggestionDefinition, confirms: false), openid: openid, at: now)
        }
        if let problem = SuggestionBox.problem(with: text) {
            return [.text(problem)]
        }
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let key = MessageKey.of(message)
        let suggestion = try await store.transaction { database in
            try await SuggestionBox.submit(
                openid: openid, content: text, messageKey: key, at: now, year: year, in: database)
        }
        logger.info(
            "suggestion received",
            metadata: ["number": "\(suggestion.number)", "member": "\(PersonalData.maskOpenID(openid))"])
        return [.text(Self.suggestionReceived(suggestion))]
    }

    /// The text after a suggestion keyword: 「建议：食堂……」 → 「食堂……」.
    static func suggestionText(_ content: String) -> String {
        var text = content.trimmingCharacters(in: .whitespacesAndNewlines)
        for keyword in ["合理化建议", "提建议", "我的建议", "建议"] where text.hasPrefix(keyword) {
            text.removeFirst(keyword.count)
            break
        }
        while let first = text.first, first.isWhitespace || "：:，,。.-—".contains(first) {
            text.removeFirst()
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func mySuggestions(_ openid: String, book: RuleBook) async throws -> String {
        let recent = try await suggestions.recent(for: openid, limit: 5)
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
}
