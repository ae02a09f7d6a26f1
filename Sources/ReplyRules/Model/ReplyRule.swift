import WeChatWire

/// One rule: what it answers (its trigger), when it applies (its conditions), and what it says.
public struct ReplyRule: Sendable {
    /// The rule's name, shown in logs and metrics.
    public var name: String
    /// Where the rule was written.
    public var source: SourceLocation
    /// Higher goes first; rules of equal priority go in the order they were written.
    public var priority: Int
    /// What the rule answers.
    public var trigger: Trigger
    /// When it applies.
    public var conditions: Conditions
    /// What it says.
    public var replies: [ReplyTemplate]
    /// Whether all replies are sent or one chosen at random.
    public var pick: Pick

    /// Creates a rule.
    public init(
        name: String, source: SourceLocation, priority: Int = 0, trigger: Trigger,
        conditions: Conditions = Conditions(),
        replies: [ReplyTemplate], pick: Pick = .all
    ) {
        self.name = name
        self.source = source
        self.priority = priority
        self.trigger = trigger
        self.conditions = conditions
        self.replies = replies
        self.pick = pick
    }

    /// How a rule with several replies uses them.
    public enum Pick: String, Sendable, Hashable {
        /// All, in order: the first as the passive reply, the rest sent afterwards.
        case all = "reply_all"
        /// One, chosen at random.
        case randomOne = "random_one"
    }
}

/// What a rule answers.
public enum Trigger: Sendable {
    /// A member's text (or the recognised text of a voice message) matching any keyword.
    case keywords([String], MatchMode, CompiledRegexes)
    /// A new follower; `scene` limits it to one parametric QR code.
    case subscribe(scene: String?)
    /// A follower scanning a parametric QR code; `scene` limits it to one code.
    case scan(scene: String?)
    /// A tap on a `click` menu button with this key.
    case click(key: String)
    /// A tap on a `view` menu button; `url` limits it to one address.
    case view(url: String?)
}

/// How a keyword is compared with what the member sent, after both are normalised (trimmed,
/// full-width forms folded to half-width, letters lower-cased).
public enum MatchMode: String, Sendable, Hashable, CaseIterable {
    /// The whole message equals the keyword.
    case exact
    /// The message contains the keyword.
    case contains
    /// The message starts with the keyword.
    case prefix
    /// The keyword is a regular expression that matches part of the message; captures can be
    /// used in the reply as `{1}` or `{name}`.
    case regex
}

/// Compiled regular expressions, kept beside their source text.
public struct CompiledRegexes: @unchecked Sendable {
    // Regex values are immutable once compiled and only read for matching.
    let regexes: [Regex<AnyRegexOutput>]

    init(_ regexes: [Regex<AnyRegexOutput>]) {
        self.regexes = regexes
    }

    static let none = CompiledRegexes([])
}

/// When a rule applies.
public struct Conditions: Sendable, Hashable {
    /// The days of the week, 1 = Monday … 7 = Sunday; nil means every day.
    public var days: Set<Int>?
    /// Time windows in minutes since local midnight, start inclusive, end exclusive; nil means all day.
    public var hours: [Range<Int>]?
    /// True: members only; false: non-members only; nil: everyone.
    public var members: Bool?

    /// Creates conditions; with no arguments, a rule always applies.
    public init(days: Set<Int>? = nil, hours: [Range<Int>]? = nil, members: Bool? = nil) {
        self.days = days
        self.hours = hours
        self.members = members
    }

    /// Whether a rule with these conditions applies at `time` for a sender who is (or is not) a member.
    public func hold(at time: LocalTime, isMember: Bool) -> Bool {
        if let days, !days.contains(time.weekday) { return false }
        if let hours, !hours.contains(where: { $0.contains(time.minuteOfDay) }) { return false }
        if let members, members != isMember { return false }
        return true
    }

    /// True when the rule depends on membership.
    public var needsMembership: Bool { members != nil }
}
