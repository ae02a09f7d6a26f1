import Foundation
import Logging
import ReplyRules
import SQLKit
import WeChatWire

/// The built-in services that rules hand messages to: joining the union, suggestions, welfare,
/// the hotline and the union's own forms, with the conversation state they need.
public struct UnionServiceDesk: ServiceDesk {
    /// The store the desk keeps its records in.
    public let store: UnionStore
    private let conversations: ConversationStore
    /// Who else counts as a member (for examples that play one).
    private let extraMembers: (any MembershipDirectory)?
    private let publicURL: String?
    private let held: HeldNotices
    private let logger: Logger
    /// The welfare replies of the rules in force, each made once.
    private let welfareReplies = WelfareReply.Kept()

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
        try await held.load(from: store)
        let conversations = try await ConversationStore.load(from: store)
        // Instances sharing PostgreSQL tell each other what they change in what memory mirrors.
        store.changes.follow(
            StoreChanges.Handlers(
                changed: { kind, openids in
                    switch kind {
                    case .conversation: conversations.changed(openids)
                    case .held: for openid in openids { held.add(openid) }
                    case .taken: for openid in openids { held.remove(openid) }
                    }
                },
                resync: {
                    try await conversations.reloadAll()
                    try await held.load(from: store)
                }))
        return UnionServiceDesk(
            store: store, conversations: conversations, extraMembers: extraMembers,
            publicURL: publicURL, held: held, logger: logger)
    }

    private init(
        store: UnionStore, conversations: ConversationStore, extraMembers: (any MembershipDirectory)?,
        publicURL: String?, held: HeldNotices, logger: Logger
    ) {
        self.held = held
        self.store = store
        self.conversations = conversations
        self.extraMembers = extraMembers
        self.publicURL = publicURL
        self.logger = logger
    }

    /// Who counts as a member: approved applicants (and any extra members given).
    public var members: any MembershipDirectory { self }

    public func recordNoticeReport(_ message: InboundMessage, at unixTime: Int64) async throws -> Bool {
        try await NoticeReports.record(message, at: unixTime, in: store)
    }

    public func takeHeldNotices(_ openid: String, at unixTime: Int64) async throws -> [String] {
        try await held.take(openid, store: store, at: unixTime)
    }

    // MARK: Conversations in progress

    /// What a member's message does to their form in progress, decided from memory.
    private enum FormStep {
        /// The rules answer.
        case pass
        /// These replies answer; nothing changes.
        case replies([ReplyBody])
        /// The conversation is forgotten (finished a while ago, or its form removed), then the
        /// rules answer, with a note in front when there is one.
        case clear(note: String?)
        /// The member answers the form's question.
        case respond(FormConversation, FormProgress, text: String)
    }

    private func formStep(_ message: InboundMessage, book: RuleBook, at now: Int64) -> FormStep {
        guard let entry = conversations.entry(for: message.header.sender) else { return .pass }
        if let finishedKey = entry.finishedKey {
            // WeChat retrying the message that finished the form, perhaps after a restart.
            if finishedKey == MessageKey.of(message), let reply = entry.finishedReply {
                return .replies([.text(reply)])
            }
            return now - entry.progress.updatedAt > 600 ? .clear(note: nil) : .pass
        }
        guard let form = self.form(named: entry.progress.form, in: book) else {
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
        if Self.hotlineWords.contains(KeywordNormalizer.normalize(text.content)) {
            return .replies([
                .text(
                    HotlineText.render(book.hotline, publicURL: publicURL) + "\n\n" + form.prompt(for: entry.progress))
            ])
        }
        return .respond(form, entry.progress, text: text.content)
    }

    public func interceptFromMemory(_ message: InboundMessage, rules: RuleEngine, at now: Int64)
        -> FromMemory<[ReplyBody]?>
    {
        // With instances sharing the database, memory follows what the others announce (their
        // forms moved on, notices held); while this instance cannot hear them, or before it has
        // read a member's announced change, memory is not trusted.
        if store.dialect.sharedByInstances, !(store.changes.isLive && conversations.isCurrent(message.header.sender)) {
            return .needsStore
        }
        if held.contains(message.header.sender) || Self.joinScan(message) != nil { return .needsStore }
        switch formStep(message, book: rules.book, at: now) {
        case .pass: return Inbox.rating(in: message) == nil ? .known(nil) : .needsStore  // a rating, perhaps
        case .replies(let replies): return .known(replies)
        case .clear: return .needsStore
        case .respond(let form, let progress, let text):
            // Help, or an answer the form refuses: the same question again, nothing to store.
            guard case .ask(let next, let reply) = form.respond(to: text, progress: progress, at: now), next == progress
            else { return .needsStore }
            return .known([.text(reply)])
        }
    }

    public func intercept(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws -> Interception? {
        try await Self.retryingConflicts(conversations) {
            try await interceptOnce(message, rules: rules, at: now)
        }
    }

    /// Runs `body`; when another process changed the member's conversation meanwhile, reads it
    /// again and runs `body` once more (three times at most).
    static func retryingConflicts<Value>(
        _ conversations: ConversationStore, _ body: () async throws -> Value
    ) async throws -> Value {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let conflict as ConversationConflict where attempt < 3 {
                attempt += 1
                try await conversations.refresh(conflict.openid)
            }
        }
    }

    private func interceptOnce(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws
        -> Interception?
    {
        if let scan = Self.joinScan(message) {
            return .replies(try await joinByQR(scan, message: message, book: rules.book, at: now))
        }
        // The member's previous message may have reached another instance: read their form's
        // step from the store, not from this instance's memory.
        if store.dialect.sharedByInstances { try await conversations.refresh(message.header.sender) }
        switch formStep(message, book: rules.book, at: now) {
        case .pass:
            guard let rating = Inbox.rating(in: message) else { return nil }
            let openid = message.header.sender
            guard
                let rated = try await store.transaction({ database in
                    try await Inbox.rate(openid, rating: rating, at: now, in: database)
                })
            else { return nil }
            return .replies([.text("感谢您的评价（\(rating) 分）！留言 \(rated.number) 的答复我们会继续改进。")])
        case .replies(let replies):
            return .replies(replies)
        case .clear(let note):
            try await conversations.clear(message.header.sender)
            return note.map { .note($0) }
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
            if next != progress { try await conversations.save(next, for: openid) }
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
        let conversations = self.conversations
        let (reply, finished) = try await store.transaction { database -> (String, ConversationStore.Finished) in
            let reply: String
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
            let finished = try await conversations.finish(openid, key: key, reply: reply, at: now, in: database)
            return (reply, finished)
        }
        store.facts.forgetApplication(of: openid)
        store.facts.forgetSuggestions(of: openid)
        await conversations.didFinish(
            openid, progress: FormProgress(form: form.name, updatedAt: now), key: key, reply: reply, finished: finished)
        logger.info(
            "form submitted", metadata: ["form": "\(form.name)", "member": "\(PersonalData.maskOpenID(openid))"])
        return reply
    }

    static func suggestionReceived(_ suggestion: Suggestion) -> String {
        "感谢您的合理化建议！已收到，编号：\(suggestion.number)。\n工会会认真研究，处理结果会通知您。回复「我的建议」可查看进度。"
    }

    private func form(named name: String, in book: RuleBook) -> FormConversation? {
        switch name {
        case JoinSettings.formName: FormConversation(form: book.join.form, organisation: book.join.organisation)
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
        if case .known(let replies) = performFromMemory(action, for: message, values: values, rules: rules) {
            return replies
        }
        let book = rules.book
        let openid = message.header.sender
        switch action {
        case .hotline:
            return [.text(HotlineText.render(book.hotline, publicURL: publicURL))]
        case .welfare:
            return welfareReplies.reply(rules, asEvent: message.isEvent, isMember: try await isMember(openid))
        case .joinStatus:
            return [.text(Self.joinStatus(try await latestApplication(openid)))]
        case .join:
            let application = try await latestApplication(openid)
            if let application, application.status != .rejected {
                return [.text(Self.joinStatus(application))]
            }
            return try await start(
                FormConversation(form: book.join.form, organisation: book.join.organisation), openid: openid,
                at: values.unixTime)
        case .suggestion:
            return try await suggestion(values.content, message: message, book: book, at: values.unixTime)
        case .mySuggestions:
            return [.text(Self.mySuggestions(try await recentSuggestions(openid), book: book))]
        case .myApplications:
            let (application, suggestions, submissions) = try await store.read { database in
                (
                    try await MembershipRegistry.latest(for: openid, in: database),
                    try await SuggestionBox.recent(for: openid, limit: 5, in: database),
                    try await FormSubmissions.recent(for: openid, limit: 10, in: database)
                )
            }
            return [
                .text(
                    Self.myApplications(
                        application: application, suggestions: suggestions, submissions: submissions, book: book))
            ]
        case .form(let name):
            guard let definition = book.forms[name] else {
                return [.text("该服务暂时无法使用，请联系工会。")]
            }
            if definition.membersOnly, try await !isMember(openid) {
                return [.text(Self.membersOnly(definition))]
            }
            return try await start(FormConversation(form: definition), openid: openid, at: values.unixTime)
        }
    }

    /// The services that read and write nothing, or read what ``MemberFacts`` remembers: the
    /// hotline, welfare, 入会进度, 我的建议, and the refusals of 建议 and of members-only forms.
    public func performFromMemory(
        _ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine
    ) -> FromMemory<[ReplyBody]> {
        let book = rules.book
        let openid = message.header.sender
        switch action {
        case .hotline:
            return .known([.text(HotlineText.render(book.hotline, publicURL: publicURL))])
        case .welfare:
            guard let isMember = membershipFromMemory(openid) else { return .needsStore }
            return .known(welfareReplies.reply(rules, asEvent: message.isEvent, isMember: isMember))
        case .joinStatus:
            guard case .some(let application) = store.facts.application(for: openid) else { return .needsStore }
            return .known([.text(Self.joinStatus(application))])
        case .join:
            guard case .some(let application?) = store.facts.application(for: openid), application.status != .rejected
            else { return .needsStore }  // the form starts: a write
            return .known([.text(Self.joinStatus(application))])
        case .suggestion:
            let text = Self.suggestionText(values.content)
            guard !text.isEmpty, let problem = SuggestionBox.problem(with: text) else { return .needsStore }
            return .known([.text(problem)])
        case .mySuggestions:
            guard let recent = store.facts.suggestions(for: openid) else { return .needsStore }
            return .known([.text(Self.mySuggestions(recent, book: book))])
        case .myApplications:
            return .needsStore
        case .form(let name):
            guard let definition = book.forms[name] else { return .known([.text("该服务暂时无法使用，请联系工会。")]) }
            guard definition.membersOnly, membershipFromMemory(openid) == false else { return .needsStore }
            return .known([.text(Self.membersOnly(definition))])
        }
    }

    public func membershipFromMemory(_ openid: String) -> Bool? {
        guard case .some(let application) = store.facts.application(for: openid) else { return nil }
        if application?.status == .approved { return true }
        return extraMembers == nil ? false : nil
    }

    private static func membersOnly(_ definition: FormDefinition) -> String {
        "「\(definition.title)」仅限工会会员办理。回复「入会」即可申请加入工会。"
    }

    /// The member's latest application, from memory or from the store (then remembered).
    private func latestApplication(_ openid: String) async throws -> MembershipApplication? {
        if case .some(let known) = store.facts.application(for: openid) { return known }
        let facts = store.facts
        return try await store.read { database in
            let application = try await MembershipRegistry.latest(for: openid, in: database)
            facts.remember(application: application, for: openid)
            return application
        }
    }

    /// The member's five latest suggestions, from memory or from the store (then remembered).
    private func recentSuggestions(_ openid: String) async throws -> [Suggestion] {
        if let known = store.facts.suggestions(for: openid) { return known }
        let facts = store.facts
        return try await store.read { database in
            let recent = try await SuggestionBox.recent(for: openid, limit: 5, in: database)
            facts.remember(suggestions: recent, for: openid)
            return recent
        }
    }

    /// Removes conversations idle past the book's timeout, and finished ones whose retries are
    /// over (10 minutes); returns how many. A member who comes back to a conversation swept
    /// this way starts afresh.
    public func sweepConversations(book: RuleBook, at now: Int64) async throws -> Int {
        let idle = Int64(book.settings.conversationTimeoutMinutes) * 60
        return try await conversations.sweep(idleSeconds: idle, finishedSeconds: 600, at: now)
    }

    private func start(_ form: FormConversation, openid: String, at now: Int64, restart: Bool = false) async throws
        -> [ReplyBody]
    {
        try await Self.retryingConflicts(conversations) {
            try await startOnce(form, openid: openid, at: now, restart: restart)
        }
    }

    private func startOnce(_ form: FormConversation, openid: String, at now: Int64, restart: Bool) async throws
        -> [ReplyBody]
    {
        if !restart, let entry = conversations.entry(for: openid), entry.finishedKey == nil,
            entry.progress.form == form.form.name
        {
            return [.text("您正在填写「\(form.form.title)」。\n\n" + form.prompt(for: entry.progress))]
        }
        guard case .ask(let progress, let reply) = form.start(at: now) else { return [] }
        try await conversations.save(progress, for: openid)
        return [.text(reply)]
    }

    // MARK: The inbox (留言)

    public func keepsUnanswered(_ message: InboundMessage, rules: RuleEngine) -> Bool {
        rules.book.cases.enabled && Inbox.entry(of: message) != nil
    }

    public func receiveUnanswered(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws
        -> [ReplyBody]?
    {
        guard keepsUnanswered(message, rules: rules) else { return nil }
        let settings = rules.book.cases
        let offset = rules.book.settings.utcOffsetMinutes
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).year
        guard
            let (memberCase, opened) = try await store.transaction({ database in
                try await Inbox.receive(
                    message, settings: settings, utcOffsetMinutes: offset, at: now, year: year, in: database)
            })
        else { return nil }
        if opened {
            logger.info(
                "case opened",
                metadata: ["number": "\(memberCase.number)", "member": "\(PersonalData.maskOpenID(memberCase.openid))"])
        }
        return [
            .text(
                Inbox.acknowledgement(memberCase, opened: opened, settings: settings, utcOffsetMinutes: offset, at: now)
            )
        ]
    }

    // MARK: Joining by QR code (扫码入会)

    /// A scan of a join code: its scene, ticket, and whether it came with a follow.
    struct JoinScan {
        var scene: String
        var ticket: String?
        var follow: Bool
    }

    /// The join scan `message` is, if it is one: `subscribe` with `qrscene_join:…`, or `SCAN`
    /// with `join:…`.
    static func joinScan(_ message: InboundMessage) -> JoinScan? {
        guard case .event(let event) = message.kind else { return nil }
        switch event {
        case .subscribe(let scene?, let ticket) where scene.hasPrefix(QRCodes.joinPrefix):
            return JoinScan(scene: scene, ticket: ticket, follow: true)
        case .scan(let scene, let ticket) where scene.hasPrefix(QRCodes.joinPrefix):
            return JoinScan(scene: scene, ticket: ticket, follow: false)
        default:
            return nil
        }
    }

    /// Records the scan, then: a member (or an applicant waiting) gets their status; anyone else
    /// starts 入会 with the code's unit filled in, or the ordinary 入会 with a note when the code
    /// is unknown, deleted, expired, or its unit has left org.yaml.
    private func joinByQR(_ scan: JoinScan, message: InboundMessage, book: RuleBook, at now: Int64) async throws
        -> [ReplyBody]
    {
        let openid = message.header.sender
        let key = MessageKey.of(message)
        let organisation = book.join.organisation
        let code = try await store.transaction { database -> UnitQRCode? in
            let code = try await QRCodes.live(scene: scan.scene, ticket: scan.ticket, at: now, in: database)
            if let code {
                try await QRCodes.record(
                    scan.follow ? .follow : .scan, ticket: code.ticket, openid: openid, key: key, at: now, in: database)
            }
            return code
        }
        let welcome = scan.follow ? "感谢关注「\(book.settings.unionName)」！\n" : ""
        if let application = try await latestApplication(openid), application.status != .rejected {
            return [.text(welcome + Self.joinStatus(application))]
        }
        let join = FormConversation(form: book.join.form, organisation: organisation)
        guard let code, let unit = organisation.units[code.unitCode] else {
            logger.notice(
                "join QR code unknown or no longer valid",
                metadata: ["scene": "\(String(scan.scene.prefix(64)))", "member": "\(PersonalData.maskOpenID(openid))"])
            let started = try await start(join, openid: openid, at: now, restart: true)
            return [.text(welcome + "这个二维码已失效，请按提示选择您所在的单位。\n\n" + visibleText(of: started))]
        }
        // A grassroots unit is filled in; a code of a unit with units below it starts the walk there.
        let prefilled =
            unit.isLeaf
            ? ["unit": unit.name, "unit_code": unit.code, FormConversation.qrTicketKey: code.ticket]
            : [FormConversation.unitLevelKey: unit.code, FormConversation.qrTicketKey: code.ticket]
        guard case .ask(let progress, let reply) = join.start(prefilled: prefilled, at: now) else { return [] }
        try await Self.retryingConflicts(conversations) {
            try await conversations.save(progress, for: openid)
        }
        try await store.transaction { database in
            try await QRCodes.record(
                .start, ticket: code.ticket, openid: openid, key: key + "#start", at: now, in: database)
        }
        return [.text(welcome + reply)]
    }

    private static func joinStatus(_ application: MembershipApplication?) -> String {
        guard let application else {
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
        store.facts.forgetSuggestions(of: openid)
        logger.info(
            "suggestion received",
            metadata: ["number": "\(suggestion.number)", "member": "\(PersonalData.maskOpenID(openid))"])
        return [.text(Self.suggestionReceived(suggestion))]
    }

    /// The text after a suggestion keyword: 「建议：食堂……」 → 「食堂……」.
    static func suggestionText(_ content: String) -> String {
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

    /// 我的申请: the join application, suggestions and form submissions, newest first, each
    /// with its number, status and date.
    static func myApplications(
        application: MembershipApplication?, suggestions: [Suggestion], submissions: [FormSubmission], book: RuleBook
    ) -> String {
        struct Line {
            var at: Int64
            var text: String
        }
        func date(_ unix: Int64) -> String {
            let time = LocalTime(unixSeconds: unix, utcOffsetMinutes: book.settings.utcOffsetMinutes)
            return "\(time.month)月\(time.day)日"
        }
        var lines: [Line] = []
        if let application {
            lines.append(
                Line(
                    at: application.createdAt,
                    text: "【入会申请】\(application.number) \(application.status.chinese)（\(date(application.createdAt))）"))
        }
        for suggestion in suggestions {
            var text = "【合理化建议】\(suggestion.number) \(suggestion.status.chinese)（\(date(suggestion.createdAt))）"
            if let reply = suggestion.reply { text += "\n  工会回复：\(reply)" }
            lines.append(Line(at: suggestion.createdAt, text: text))
        }
        for submission in submissions {
            let title = book.forms[submission.form]?.title ?? submission.form
            var text = "【\(title)】\(submission.number) \(submission.status.chinese)（\(date(submission.createdAt))）"
            if let reply = submission.reply { text += "\n  工会回复：\(reply)" }
            lines.append(Line(at: submission.createdAt, text: text))
        }
        guard !lines.isEmpty else {
            return "您还没有办理过事项。回复「帮助」查看可以办理的服务。"
        }
        return (["您办理的事项："] + lines.sorted { $0.at > $1.at }.map(\.text)).joined(separator: "\n")
    }

    /// 我的建议: the member's recent suggestions with their status and the union's reply. Built in
    /// one string (it answers from memory, for every such message): a content's first 20
    /// characters are found without counting all of its characters.
    static func mySuggestions(_ recent: [Suggestion], book: RuleBook) -> String {
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

extension UnionServiceDesk: MembershipDirectory {
    /// Whether `openid`'s latest application is approved (or the extra members include them).
    public func isMember(_ openid: String) async throws -> Bool {
        if try await latestApplication(openid)?.status == .approved { return true }
        return try await extraMembers?.isMember(openid) ?? false
    }
}
