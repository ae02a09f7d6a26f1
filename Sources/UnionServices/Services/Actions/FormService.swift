import ReplyRules
import SQLKit
import WeChatWire

/// The forms members fill in a chat (入会, a suggestion asked for, and the union's own forms):
/// a form started, a member's answer to its question, and a finished form stored once with the
/// conversation marked finished in the same transaction.
struct FormService: Sendable {
    let parts: DeskParts
    let join: JoinService

    /// Keywords that answer with the hotline in the middle of a form, then repeat the question.
    static let hotlineWords: Set<String> = ["热线", "电话", "拨号", "一键拨号", "12351", "工会电话"]
    /// Keywords that answer with the way into the member pages (where the form can be finished),
    /// then repeat the question.
    static let memberCenterWords: Set<String> = ["会员中心", "会员卡", "电子会员卡", "我的会员卡"]
    /// Keywords that start 入会: in its form, they repeat the question rather than answer it.
    static let joinWords: Set<String> = ["入会", "我要入会", "申请入会", "加入工会"]

    /// A form of the union's own, by name (a members-only one refused to others).
    func open(_ name: String, openid: String, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        guard let definition = book.forms[name] else {
            return [.text("该服务暂时无法使用，请联系工会。")]
        }
        if definition.membersOnly, try await !parts.isMember(openid) {
            return [.text(Self.membersOnly(definition))]
        }
        return try await parts.start(FormConversation(form: definition), openid: openid, at: now)
    }

    /// A form's refusal or absence, known from memory.
    func openFromMemory(_ name: String, openid: String, book: RuleBook) -> FromMemory<[ReplyBody]> {
        guard let definition = book.forms[name] else { return .known([.text("该服务暂时无法使用，请联系工会。")]) }
        guard definition.membersOnly, parts.membershipFromMemory(openid) == false else { return .needsStore }
        return .known([.text(Self.membersOnly(definition))])
    }

    private static func membersOnly(_ definition: FormDefinition) -> String {
        "「\(definition.title)」仅限工会会员办理。回复「入会」即可申请加入工会。"
    }

    /// What a member's message does to their form in progress, decided from memory.
    private enum Step {
        /// The rules answer.
        case pass
        /// These replies answer; nothing changes.
        case replies([ReplyBody])
        /// The conversation is forgotten (finished a while ago, or its form removed), then the
        /// rules answer, with a note in front when there is one.
        case clear(note: String?)
        /// The member answers the form's question.
        case respond(FormConversation, FormProgress, text: String)
        /// The member asks for the member pages: their way in, then the question again.
        case memberCenter(prompt: String)
    }

    private func step(_ message: InboundMessage, book: RuleBook, at now: Int64) -> Step {
        guard let entry = parts.conversations.entry(for: message.header.sender) else { return .pass }
        if let finishedKey = entry.finishedKey {
            // WeChat retrying the message that finished the form, perhaps after a restart.
            if finishedKey == MessageKey.of(message), let reply = entry.finishedReply {
                return .replies([.text(reply)])
            }
            return now - entry.progress.updatedAt > 600 ? .clear(note: nil) : .pass
        }
        guard let form = Self.form(named: entry.progress.form, in: book) else {
            return .clear(note: nil)  // the form was removed from Replies
        }
        let minutes = book.settings.conversationTimeoutMinutes
        if now - entry.progress.updatedAt > Int64(minutes) * 60 {
            return .clear(
                note: "您之前填写的「\(form.form.title)」超过 \(minutes) 分钟没有回复，已自动取消，没有保存。如需办理请重新开始。")
        }
        guard case .text(let text) = message.kind else {
            if message.isEvent { return .pass }  // menu taps and other events go to the rules
            return .replies([.text("请用文字回复。\n\n" + form.prompt(for: entry.progress))])
        }
        let word = KeywordNormalizer.normalize(text.content)
        let startWords = form.form.name == JoinSettings.formName ? Self.joinWords : Set(form.form.keywords)
        if startWords.contains(word) {
            return .replies([.text("您正在填写「\(form.form.title)」。\n\n" + form.prompt(for: entry.progress))])
        }
        if Self.memberCenterWords.contains(word) {
            return .memberCenter(prompt: form.prompt(for: entry.progress))
        }
        if Self.hotlineWords.contains(word) {
            return .replies([
                .text(
                    HotlineText.render(book.hotline, publicURL: parts.publicURL) + "\n\n"
                        + form.prompt(for: entry.progress))
            ])
        }
        return .respond(form, entry.progress, text: text.content)
    }

    func interceptFromMemory(_ message: InboundMessage, rules: RuleEngine, at now: Int64) -> FromMemory<[ReplyBody]?> {
        let store = parts.store
        // With instances sharing the database, memory follows what the others announce (their
        // forms moved on, notices held); while this instance cannot hear them, or before it has
        // read a member's announced change, memory is not trusted.
        if store.dialect.sharedByInstances,
            !(store.changes.isLive && parts.conversations.isCurrent(message.header.sender))
        {
            return .needsStore
        }
        if parts.held.contains(message.header.sender) || JoinService.scan(message) != nil
            || ActivityService.checkInScan(message) != nil
        {
            return .needsStore
        }
        switch step(message, book: rules.book, at: now) {
        case .pass: return Inbox.rating(in: message) == nil ? .known(nil) : .needsStore  // a rating, perhaps
        case .replies(let replies): return .known(replies)
        case .clear, .memberCenter: return .needsStore
        case .respond(let form, let progress, let text):
            // Help, or an answer the form refuses: the same question again, nothing to store.
            guard case .ask(let next, let reply) = form.respond(to: text, progress: progress, at: now), next == progress
            else { return .needsStore }
            return .known([.text(reply)])
        }
    }

    func intercept(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws -> Interception? {
        try await parts.retryingConflicts {
            try await interceptOnce(message, rules: rules, at: now)
        }
    }

    private func interceptOnce(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws
        -> Interception?
    {
        if let scan = JoinService.scan(message) {
            return .replies(try await join.byQR(scan, message: message, book: rules.book, at: now))
        }
        if let scan = ActivityService.checkInScan(message) {
            return .replies(
                try await ActivityService(parts: parts).checkIn(scan, message: message, book: rules.book, at: now))
        }
        // The member's previous message may have reached another instance: read their form's
        // step from the store, not from this instance's memory, unless memory holds the version
        // their turn found (or no other instance serves: then only this one writes).
        let store = parts.store
        let openid = message.header.sender
        if store.changes.othersMayServe,
            !parts.conversations.holds(openid, version: MemberTurns.conversationAtTurn)
        {
            try await parts.conversations.refresh(openid)
        }
        switch step(message, book: rules.book, at: now) {
        case .pass:
            guard let rating = Inbox.rating(in: message) else { return nil }
            guard
                let rated = try await store.transaction({ database in
                    try await Inbox.rate(openid, rating: rating, at: now, in: database)
                })
            else { return nil }
            return .replies([.text("感谢您的评价（\(rating) 分）！留言 \(rated.number) 的答复我们会继续改进。")])
        case .replies(let replies):
            return .replies(replies)
        case .clear(let note):
            try await parts.conversations.clear(message.header.sender)
            return note.map { .note($0) }
        case .memberCenter(let prompt):
            let link = try await MemberCenterService(parts: parts).link(for: message, at: now)
            return .replies([.text(visibleText(of: link) + "\n\n也可以继续在这里填写：\n" + prompt)])
        case .respond(let form, let progress, let text):
            return .replies(
                try await advance(form, progress: progress, text: text, message: message, book: rules.book, at: now))
        }
    }

    private func advance(
        _ form: FormConversation, progress: FormProgress, text: String, message: InboundMessage, book: RuleBook,
        at now: Int64
    ) async throws -> [ReplyBody] {
        let openid = message.header.sender
        switch form.respond(to: text, progress: progress, at: now) {
        case .ask(let next, let reply):
            if next != progress { try await parts.conversations.save(next, for: openid) }
            return [.text(reply)]
        case .cancelled(let reply):
            try await parts.conversations.clear(openid)
            return [.text(reply)]
        case .submit(let answers):
            return [
                .text(
                    try await submit(
                        form.form, answers: answers, openid: openid, key: MessageKey.of(message), book: book, at: now))
            ]
        }
    }

    /// Stores a finished form and marks the conversation finished, in one transaction; the
    /// reply is returned only after the commit. `key` makes a second submission (WeChat's retry
    /// of the message, a double tap on a page) store nothing more and get the same reply.
    func submit(
        _ form: FormDefinition, answers: [String: String], openid: String, key: String, book: RuleBook, at now: Int64
    ) async throws -> String {
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: book.settings.utcOffsetMinutes).year
        let conversations = parts.conversations
        let store = parts.store
        let (reply, finished) = try await store.transaction { database -> (String, ConversationStore.Finished) in
            let reply = try await Self.record(
                form, answers: answers, openid: openid, key: key, book: book, year: year, at: now, in: database
            ).reply
            let finished = try await conversations.finish(openid, key: key, reply: reply, at: now, in: database)
            return (reply, finished)
        }
        store.facts.forgetApplication(of: openid)
        store.facts.forgetSuggestions(of: openid)
        await conversations.didFinish(
            openid, progress: FormProgress(form: form.name, updatedAt: now), key: key, reply: reply, finished: finished)
        parts.logger.info(
            "form submitted", metadata: ["form": "\(form.name)", "member": "\(PersonalData.maskOpenID(openid))"])
        return reply
    }

    /// Stores a finished form as its record (an application, a suggestion, a submission); the
    /// same `key` again finds the record stored the first time. Returns the member's reply, and
    /// the submission's id for the union's own forms.
    static func record(
        _ form: FormDefinition, answers: [String: String], openid: String, key: String, book: RuleBook, year: Int,
        at now: Int64, in database: any SQLDatabase
    ) async throws -> (reply: String, submission: Int?) {
        switch form.name {
        case JoinSettings.formName:
            var answers = answers
            if answers["unit_code"] == nil, let name = answers["unit"],
                let unit = book.join.organisation.leaves.first(where: { $0.name == name })
            {
                answers["unit_code"] = unit.code  // chosen from a short list, by name
            }
            let application = try await MembershipRegistry.submit(
                openid: openid, answers: answers, messageKey: key, at: now, year: year, in: database)
            return ("入会申请已提交！申请编号：\(application.number)。\n工会审核后会通知您，回复「入会进度」可随时查看。", nil)
        case SuggestionService.formName:
            let suggestion = try await SuggestionBox.submit(
                openid: openid, content: answers["content"] ?? "", messageKey: key, at: now, year: year,
                in: database)
            return (SuggestionService.received(suggestion), nil)
        default:
            let submission = try await FormSubmissions.submit(
                form: form.name, prefix: form.prefix, openid: openid, answers: answers, messageKey: key, at: now,
                year: year, in: database)
            return (form.done.replacingOccurrences(of: "{number}", with: submission.number), submission.id)
        }
    }

    static func form(named name: String, in book: RuleBook) -> FormConversation? {
        switch name {
        case JoinSettings.formName: FormConversation(form: book.join.form, organisation: book.join.organisation)
        case SuggestionService.formName: FormConversation(form: SuggestionService.form, confirms: false)
        default: book.forms[name].map { FormConversation(form: $0) }
        }
    }
}
