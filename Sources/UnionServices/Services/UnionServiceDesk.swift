import Foundation
import Logging
import ReplyRules
import WeChatWire

/// The built-in services that rules hand messages to, each a type of its own (`Actions/`):
/// joining the union, suggestions, 我的申请, welfare, the hotline, the union's own forms and the
/// conversations they need, and the inbox. The desk routes to them.
public struct UnionServiceDesk: ServiceDesk {
    /// The store the desk keeps its records in.
    public var store: UnionStore { parts.store }
    private let parts: DeskParts
    private let join: JoinService
    private let suggestions: SuggestionService
    private let applications: MyApplicationsService
    private let forms: FormService
    private let unanswered: UnansweredService
    private let memberCenter: MemberCenterService
    private let pageForms: PageFormService
    private let activities: ActivityService
    private let clubs: ClubService
    /// The welfare replies of the rules in force, each made once.
    private let welfareReplies = WelfareReply.Kept()

    /// Creates the desk over `store`, loading the conversations in progress.
    ///
    /// - Parameter publicURL: the gateway's public address, for the hotline page link.
    /// - Parameter extraMembers: who else counts as a member (for examples that play one).
    /// - Parameter held: the members with held notices; loaded from the store here.
    public static func open(
        store: UnionStore, publicURL: String?, logger: Logger, extraMembers: (any MembershipDirectory)? = nil,
        held: HeldNotices = HeldNotices(), memberPages: MemberPages? = nil
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
                    case .presence: break  // kept by StoreChanges itself, never passed on
                    }
                },
                resync: {
                    try await conversations.reloadAll()
                    try await held.load(from: store)
                }))
        var entry: MemberCenterService.Entry?
        if let memberPages {
            entry = MemberCenterService.Entry(
                access: try await MemberAccess.open(store: store), signIn: memberPages.signIn,
                baseURL: memberPages.baseURL)
        }
        return UnionServiceDesk(
            DeskParts(
                store: store, conversations: conversations, extraMembers: extraMembers, publicURL: publicURL,
                held: held,
                memberPages: entry, logger: logger))
    }

    private init(_ parts: DeskParts) {
        self.parts = parts
        join = JoinService(parts: parts)
        suggestions = SuggestionService(parts: parts)
        applications = MyApplicationsService(parts: parts)
        forms = FormService(parts: parts, join: join)
        unanswered = UnansweredService(parts: parts)
        memberCenter = MemberCenterService(parts: parts)
        pageForms = PageFormService(parts: parts)
        activities = ActivityService(parts: parts)
        clubs = ClubService(parts: parts)
    }

    /// How the member pages are reached: how members sign in, and the gateway's address.
    public struct MemberPages: Sendable {
        public var signIn: MemberSignIn
        public var baseURL: String?
        public init(signIn: MemberSignIn, baseURL: String?) {
            self.signIn = signIn
            self.baseURL = baseURL
        }
    }

    /// The member pages' keys and links, when the desk serves them.
    public var memberAccess: MemberAccess? { parts.memberPages?.access }

    /// Who counts as a member: approved applicants (and any extra members given).
    public var members: any MembershipDirectory { self }

    public func recordNoticeReport(_ message: InboundMessage, at unixTime: Int64) async throws -> Bool {
        try await NoticeReports.record(message, at: unixTime, in: store)
    }

    public func takeHeldNotices(_ openid: String, at unixTime: Int64) async throws -> [String] {
        try await parts.held.take(openid, store: store, at: unixTime)
    }

    // MARK: Conversations in progress

    public func interceptFromMemory(_ message: InboundMessage, rules: RuleEngine, at now: Int64)
        -> FromMemory<[ReplyBody]?>
    {
        forms.interceptFromMemory(message, rules: rules, at: now)
    }

    public func intercept(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws -> Interception? {
        try await forms.intercept(message, rules: rules, at: now)
    }

    /// Removes conversations idle past the book's timeout, and finished ones whose retries are
    /// over (10 minutes); returns how many. A member who comes back to a conversation swept
    /// this way starts afresh.
    public func sweepConversations(book: RuleBook, at now: Int64) async throws -> Int {
        let idle = Int64(book.settings.conversationTimeoutMinutes) * 60
        return try await parts.conversations.sweep(idleSeconds: idle, finishedSeconds: 600, at: now)
    }

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
        case .hotline: return [.text(HotlineText.render(book.hotline, publicURL: parts.publicURL))]
        case .welfare:
            return welfareReplies.reply(rules, asEvent: message.isEvent, isMember: try await parts.isMember(openid))
        case .joinStatus: return try await join.status(openid)
        case .join: return try await join.join(openid, book: book, at: values.unixTime)
        case .suggestion:
            return try await suggestions.submit(values.content, message: message, book: book, at: values.unixTime)
        case .mySuggestions: return try await suggestions.mine(openid, book: book)
        case .myApplications: return try await applications.list(openid, book: book)
        case .form(let name): return try await forms.open(name, openid: openid, book: book, at: values.unixTime)
        case .memberCenter: return try await memberCenter.link(for: message, at: values.unixTime)
        case .workflow(let name):
            guard let workflow = book.workflows[name] else { return [.text("这项申请暂未开通，请联系工会工作人员。")] }
            return try await memberCenter.application(workflow, for: message, at: values.unixTime)
        case .activities:
            return try await activities.list(openid, asEvent: message.isEvent, book: book, at: values.unixTime)
        case .activitySignUp:
            return try await activities.signUp(values.content, message: message, book: book, at: values.unixTime)
        case .activityCancel:
            return try await activities.cancel(values.content, message: message, book: book, at: values.unixTime)
        case .myActivities: return try await activities.mine(openid, book: book)
        case .clubs: return try await clubs.list(openid, book: book)
        case .clubJoin: return try await clubs.join(values.content, message: message, book: book, at: values.unixTime)
        case .clubLeave: return try await clubs.leave(values.content, message: message, book: book, at: values.unixTime)
        case .volunteerHours: return try await clubs.hours(openid, book: book)
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
        case .hotline: return .known([.text(HotlineText.render(book.hotline, publicURL: parts.publicURL))])
        case .welfare:
            guard let isMember = parts.membershipFromMemory(openid) else { return .needsStore }
            return .known(welfareReplies.reply(rules, asEvent: message.isEvent, isMember: isMember))
        case .joinStatus: return join.statusFromMemory(openid)
        case .join: return join.joinFromMemory(openid)
        case .suggestion: return suggestions.submitFromMemory(values.content)
        case .mySuggestions: return suggestions.mineFromMemory(openid, book: book)
        case .myApplications: return .needsStore
        case .form(let name): return forms.openFromMemory(name, openid: openid, book: book)
        case .memberCenter: return memberCenter.fromMemory()
        case .activities:
            return activities.listFromMemory(openid, asEvent: message.isEvent, book: book, at: values.unixTime)
        case .workflow, .activitySignUp, .activityCancel, .myActivities, .clubs, .clubJoin, .clubLeave,
            .volunteerHours:
            return .needsStore
        }
    }

    public func membershipFromMemory(_ openid: String) -> Bool? {
        parts.membershipFromMemory(openid)
    }

    // MARK: Forms on the member pages

    /// The answers of the member's unfinished chat conversation in `form`, to fill its page.
    public func pageDraft(of form: FormDefinition, for openid: String) -> [String: String] {
        pageForms.draft(of: form, for: openid)
    }

    /// Keeps what the member typed on the page as their conversation, for the chat to go on with.
    public func savePageDraft(_ form: FormDefinition, answers: [String: String], for openid: String, at now: Int64)
        async throws
    {
        try await pageForms.saveDraft(form, answers: answers, for: openid, at: now)
    }

    /// Stores a form filled on a page, once per `key`, with its photos; returns what the member
    /// is told.
    public func submitPage(
        _ form: FormDefinition, answers: [String: String], photos: [FormPhotos.Staged] = [], for openid: String,
        key: String, book: RuleBook, at now: Int64
    ) async throws -> String {
        try await pageForms.submit(form, answers: answers, photos: photos, for: openid, key: key, book: book, at: now)
    }

    /// The member's latest join application (remembered, like the chat's 入会进度).
    public func latestApplication(of openid: String) async throws -> MembershipApplication? {
        try await parts.latestApplication(openid)
    }

    // MARK: The inbox (留言)

    public func keepsUnanswered(_ message: InboundMessage, rules: RuleEngine) -> Bool {
        unanswered.keeps(message, rules: rules)
    }

    public func receiveUnanswered(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws
        -> [ReplyBody]?
    {
        try await unanswered.receive(message, rules: rules, at: now)
    }
}

extension UnionServiceDesk: MembershipDirectory {
    /// Whether `openid`'s latest application is approved (or the extra members include them).
    public func isMember(_ openid: String) async throws -> Bool {
        try await parts.isMember(openid)
    }
}
