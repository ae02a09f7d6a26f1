/// How notices reach members (`notices:` in `notices.yaml`): for each kind of notice, the
/// subscription notification (订阅通知) and the template message (模板消息) to try before a
/// customer-service message. A kind with nothing configured goes as a customer-service message
/// only, which is also what an empty or absent `notices:` means.
public struct NoticeSettings: Sendable, Hashable {
    /// The channels configured for each kind.
    public var routes: [NoticeKind: NoticeRoute]

    /// Creates settings; none means customer-service messages only.
    public init(routes: [NoticeKind: NoticeRoute] = [:]) {
        self.routes = routes
    }
}

/// What a notice tells the member, each with the fields its templates may use.
public enum NoticeKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// An application to join was approved or rejected.
    case membership
    /// A suggestion has a new status or a reply.
    case suggestion
    /// Staff answered a case (留言).
    case caseReply = "case_reply"
    /// A case was closed; the member is asked to rate it.
    case caseClosed = "case_closed"
    /// A form submission (法律援助, 困难帮扶 …) has a new status or a reply.
    case submission
    /// An application of a workflow (困难帮扶, 金秋助学 …) moved: passed up, sent back, approved or
    /// refused.
    case aid
    /// An activity the member signed up for: a place from the waitlist, a change of time or
    /// place, a removal by staff.
    case activity
    /// The day before an activity: a reminder to those with a place.
    case activityReminder = "activity_reminder"
    /// A request to join a club or volunteer team was approved or refused.
    case club

    /// The kind in Chinese, for staff.
    public var chinese: String {
        switch self {
        case .membership: "入会审核结果"
        case .suggestion: "合理化建议进展"
        case .caseReply: "留言答复"
        case .caseClosed: "留言办结"
        case .submission: "申请办理进展"
        case .aid: "帮扶援助审批进展"
        case .activity: "活动报名通知"
        case .activityReminder: "活动提醒"
        case .club: "俱乐部入会结果"
        }
    }

    /// The `{placeholders}` a template of this kind may use, with what each holds.
    public var fields: KeyValuePairs<String, String> {
        switch self {
        case .membership:
            ["number": "申请编号", "name": "姓名", "result": "审核结果", "reason": "未通过的原因", "unit": "单位", "date": "日期"]
        case .suggestion:
            ["number": "建议编号", "summary": "建议摘要", "status": "状态", "reply": "工会回复", "date": "日期"]
        case .caseReply: ["number": "留言编号", "reply": "答复", "date": "日期"]
        case .caseClosed: ["number": "留言编号", "date": "日期"]
        case .submission:
            ["number": "申请编号", "form": "申请事项", "status": "状态", "reply": "工会回复", "date": "日期"]
        case .aid:
            ["number": "申请编号", "form": "申请事项", "level": "审批层级", "status": "状态", "reply": "意见", "date": "日期"]
        case .activity: ["title": "活动名称", "time": "活动时间", "place": "活动地点", "status": "报名状态", "date": "日期"]
        case .activityReminder: ["title": "活动名称", "time": "活动时间", "place": "活动地点", "date": "日期"]
        case .club: ["club": "俱乐部名称", "result": "审核结果", "reason": "未通过的原因", "date": "日期"]
        }
    }

    /// Whether `name` is one of ``fields``.
    public func has(field name: String) -> Bool {
        fields.contains { $0.key == name }
    }
}

/// The channels tried for one kind of notice, in order, before a customer-service message.
public struct NoticeRoute: Sendable, Hashable {
    /// The subscription notification, sent when the member has accepted its template.
    public var subscription: NoticeTemplate?
    /// The template message.
    public var template: NoticeTemplate?

    /// Creates a route.
    public init(subscription: NoticeTemplate? = nil, template: NoticeTemplate? = nil) {
        self.subscription = subscription
        self.template = template
    }
}

/// A WeChat template (subscription or template message) and how its fields are filled.
public struct NoticeTemplate: Sendable, Hashable {
    /// WeChat's template id.
    public var templateId: String
    /// The page the notice opens (`page` of a subscription, `url` of a template message).
    public var link: String?
    /// The template's fields in the order written: WeChat's key (`thing1`) and the text, with
    /// `{placeholders}`.
    public var fields: [Field]

    /// One field of a template.
    public struct Field: Sendable, Hashable {
        /// WeChat's key, such as `thing1` or `character_string2`.
        public var key: String
        /// The text, with `{placeholders}` of the notice's kind.
        public var value: String

        /// Creates a field.
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// Creates a template.
    public init(templateId: String, link: String? = nil, fields: [Field]) {
        self.templateId = templateId
        self.link = link
        self.fields = fields
    }

    /// The fields filled with `values` and made to fit WeChat's rules (see ``NoticeFieldText``).
    public func filled(with values: [String: String]) -> [(key: String, value: String)] {
        fields.map { field in
            (field.key, NoticeFieldText.fit(NoticeFieldText.fill(field.value, with: values), key: field.key))
        }
    }
}

/// WeChat's rules for a template field's value (since May 2023): at most 20 characters, no line
/// break; a `phrase` field at most 5. A value filled in at run time is made to fit them.
public enum NoticeFieldText {
    /// The longest value of a field.
    public static let maxCharacters = 20
    /// The longest value of a `phrase…` field (a short status word).
    public static let maxPhraseCharacters = 5

    /// The longest value the field `key` takes.
    public static func limit(forKey key: String) -> Int {
        key.hasPrefix("phrase") ? maxPhraseCharacters : maxCharacters
    }

    /// `template` with each `{name}` replaced by its value ('' when `values` has none).
    public static func fill(_ template: String, with values: [String: String]) -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            result += values[name] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// The `{name}` placeholders in `template`.
    public static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// `value` made to fit the field `key`: line breaks and tabs become spaces, runs of spaces
    /// one, the ends trimmed; a longer value is cut and ends with 「…」; an empty one is 「无」.
    public static func fit(_ value: String, key: String) -> String {
        var text = ""
        var lastWasSpace = false
        for character in value {
            if character.isWhitespace || character.isNewline {
                if !lastWasSpace, !text.isEmpty { text.append(" ") }
                lastWasSpace = true
            } else {
                text.append(character)
                lastWasSpace = false
            }
        }
        while text.last == " " { text.removeLast() }
        if text.isEmpty { return "无" }
        let limit = limit(forKey: key)
        guard text.count > limit else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }
}
