import ReplyRules

/// What the union must tell one member: an approval, a suggestion's new status, a reply to their
/// case. Its text is the customer-service message; its kind and fields fill the subscription
/// notification or template message configured for the kind in `notices.yaml`.
public struct Notice: Sendable, Hashable {
    /// What the notice is about.
    public var kind: NoticeKind
    /// The values of the kind's fields (``NoticeKind/fields``); `date` is added when sent.
    public var fields: [String: String]
    /// The whole notice as one text.
    public var text: String

    /// Creates a notice.
    public init(_ kind: NoticeKind, fields: [String: String], text: String) {
        self.kind = kind
        self.fields = fields
        self.text = text
    }
}

/// A queued notice's kind and fields.
public struct NoticeContent: Sendable, Hashable {
    /// What the notice is about.
    public var kind: NoticeKind
    /// The values of its fields.
    public var fields: [String: String]
}

/// How a message reached the member.
public enum NoticeChannel: String, Sendable, Hashable, CaseIterable, Codable {
    /// A subscription notification (订阅通知).
    case subscription
    /// A template message (模板消息).
    case template
    /// A customer-service message (客服消息).
    case custom
    /// Shown in front of the member's next reply, after WeChat would deliver nothing.
    case reply

    /// The channel in Chinese, for staff.
    public var chinese: String {
        switch self {
        case .subscription: "订阅通知"
        case .template: "模板消息"
        case .custom: "客服消息"
        case .reply: "下次回复时附带"
        }
    }
}
