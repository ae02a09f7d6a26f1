import ReplyRules

/// 我的申请 on the member pages: everything a member applied for (入会, suggestions, the union's
/// forms), and one of them with its answers, the union's reply and its timeline. A record is
/// found by its kind and id *and* the member's openid: another member's id finds nothing.
public struct MemberRecords: Sendable {
    let store: UnionStore

    /// The records over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// The kinds of record a member has.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case join
        case suggestion
        case form
        case aid
    }

    /// One line of the list.
    public struct Item: Sendable, Hashable {
        public var kind: Kind
        public var id: Int
        public var number: String
        /// 入会申请, 合理化建议, or the form's title.
        public var title: String
        /// The status, in Chinese.
        public var status: String
        public var createdAt: Int64
        /// Whether the union has replied (or given a reason).
        public var replied: Bool
    }

    /// A record in full.
    public struct Detail: Sendable, Hashable {
        public var item: Item
        /// What the member filled in, as label and value, in the form's order.
        public var fields: [(label: String, value: String)]
        /// The union's reply, or the reason of a refusal.
        public var reply: String?
        /// What staff asked the member to add (an aid application sent back to them).
        public var asked: String?
        /// What happened, oldest first: when, and what (in Chinese, without staff names).
        public var timeline: [(at: Int64, text: String)]

        public static func == (lhs: Detail, rhs: Detail) -> Bool {
            lhs.item == rhs.item && lhs.reply == rhs.reply && lhs.asked == rhs.asked
                && lhs.fields.map(\.label) == rhs.fields.map(\.label)
                && lhs.fields.map(\.value) == rhs.fields.map(\.value)
                && lhs.timeline.map(\.at) == rhs.timeline.map(\.at)
                && lhs.timeline.map(\.text) == rhs.timeline.map(\.text)
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(item) }
    }

    /// The member's records, newest first (at most `limit` of each kind).
    public func list(for openid: String, book: RuleBook, limit: Int = 50) async throws -> [Item] {
        let (applications, suggestions, submissions, aid) = try await store.read { database in
            (
                try await MembershipRegistry.all(of: openid, limit: limit, in: database),
                try await SuggestionBox.recent(for: openid, limit: limit, in: database),
                try await FormSubmissions.recent(for: openid, limit: limit, in: database),
                try await AidApplications.recent(for: openid, limit: limit, in: database)
            )
        }
        let items =
            applications.map(Self.item) + suggestions.map(Self.item)
            + submissions.map { Self.item($0, book: book) } + aid.map { Self.item($0, book: book) }
        return items.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }

    /// The member's record of `kind` with `id`; nil when there is none, or it is someone else's.
    public func detail(_ kind: Kind, id: Int, for openid: String, book: RuleBook) async throws -> Detail? {
        try await store.read { database -> Detail? in
            switch kind {
            case .join:
                guard let application = try await MembershipRegistry.application(id, of: openid, in: database) else {
                    return nil
                }
                var fields = [("姓名", application.name), ("手机号", application.phone), ("单位", application.unit)]
                for field in book.join.extraFields {
                    if let value = application.extra[field.key] { fields.append((field.label, value)) }
                }
                var timeline = [(application.createdAt, "提交入会申请")]
                if let decided = application.decidedAt {
                    timeline.append((decided, "审核结果：\(application.status.chinese)"))
                }
                return Detail(
                    item: Self.item(application), fields: fields, reply: application.reason, timeline: timeline)
            case .suggestion:
                guard let suggestion = try await SuggestionBox.suggestion(id, of: openid, in: database) else {
                    return nil
                }
                let history = try await AuditLog.history(
                    of: "\(Suggestion.recordName):\(suggestion.number)", in: database)
                return Detail(
                    item: Self.item(suggestion), fields: [("建议内容", suggestion.content)], reply: suggestion.reply,
                    timeline: [(suggestion.createdAt, "提交建议")]
                        + Self.timeline(history) { Suggestion.Status(rawValue: $0)?.chinese })
            case .form:
                guard let submission = try await FormSubmissions.submission(id, of: openid, in: database) else {
                    return nil
                }
                let history = try await AuditLog.history(
                    of: "\(FormSubmission.recordName):\(submission.number)", in: database)
                let definition = book.forms[submission.form]
                var fields: [(String, String)] = []
                for field in definition?.fields ?? [] {
                    if let value = submission.answers[field.key] { fields.append((field.label, value)) }
                }
                let known = Set(definition?.fields.map(\.key) ?? [])
                for (key, value) in submission.answers.sorted(by: { $0.key < $1.key })
                where !known.contains(key) && !key.hasPrefix("_") && key != PageAnswers.unitCodeKey {
                    fields.append((key, value))
                }
                return Detail(
                    item: Self.item(submission, book: book), fields: fields, reply: submission.reply,
                    timeline: [(submission.createdAt, "提交申请")]
                        + Self.timeline(history) { FormSubmission.Status(rawValue: $0)?.chinese })
            case .aid:
                guard let (application, steps) = try await AidApplications.application(id, of: openid, in: database)
                else { return nil }
                let workflow = book.workflows[application.workflow]
                var fields: [(String, String)] = []
                for field in (workflow?.fields ?? []) where !field.isPhoto {
                    if let value = application.answers[field.key] {
                        fields.append((field.label, AidApplications.display(value, of: field)))
                    }
                }
                for field in workflow?.levels.flatMap(\.record) ?? [] {
                    if let value = application.recorded[field.key] { fields.append((field.label, value)) }
                }
                return Detail(
                    item: Self.item(application, book: book), fields: fields, reply: application.reason,
                    asked: application.status == .returned ? application.asked : nil,
                    timeline: AidApplications.timeline(steps, workflow: workflow, organisation: book.join.organisation))
            }
        }
    }

    /// The staff's changes as the member sees them: a new status, a reply.
    static func timeline(_ history: [AuditEntry], status: (String) -> String?) -> [(at: Int64, text: String)] {
        history.compactMap { entry in
            var parts: [String] = []
            if let after = entry.after?["status"], after != entry.before?["status"], let chinese = status(after) {
                parts.append("状态：\(chinese)")
            }
            if let reply = entry.after?["reply"], !reply.isEmpty { parts.append("工会回复") }
            return parts.isEmpty ? nil : (entry.at, parts.joined(separator: "，"))
        }
    }

    static func item(_ application: MembershipApplication) -> Item {
        Item(
            kind: .join, id: application.id, number: application.number, title: "入会申请",
            status: application.status.chinese, createdAt: application.createdAt, replied: application.reason != nil)
    }

    static func item(_ suggestion: Suggestion) -> Item {
        Item(
            kind: .suggestion, id: suggestion.id, number: suggestion.number, title: "合理化建议",
            status: suggestion.status.chinese, createdAt: suggestion.createdAt, replied: suggestion.reply != nil)
    }

    static func item(_ application: AidApplication, book: RuleBook) -> Item {
        var status = application.status.chinese
        if application.status == .pending, let workflow = book.workflows[application.workflow],
            let level = workflow.levels[safe: application.currentLevel]
        {
            status = "\(level.name)中"
        }
        return Item(
            kind: .aid, id: application.id, number: application.number,
            title: book.workflows[application.workflow]?.title ?? application.workflow, status: status,
            createdAt: application.createdAt, replied: application.reason != nil || application.asked != nil)
    }

    static func item(_ submission: FormSubmission, book: RuleBook) -> Item {
        Item(
            kind: .form, id: submission.id, number: submission.number,
            title: book.forms[submission.form]?.title ?? submission.form, status: submission.status.chinese,
            createdAt: submission.createdAt, replied: submission.reply != nil)
    }
}
