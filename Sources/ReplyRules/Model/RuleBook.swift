import WeChatWire

/// Everything in a Replies folder, checked and ready to use.
public struct RuleBook: Sendable {
    /// The rules, in the order they were written (matching order is by priority, then this order).
    public var rules: [ReplyRule]
    /// The welcome reply for new followers when no subscribe rule matches (关注后自动回复).
    public var welcome: ReplyRule?
    /// The reply to messages no rule matches (收到消息回复).
    public var fallback: ReplyRule?
    /// The custom menu.
    public var menu: Menu?
    /// The hotline numbers.
    public var hotline: [HotlineNumber]
    /// General settings.
    public var settings: Settings
    /// The staff's conversation examples, run by `uniongate check`.
    public var examples: [ConversationExample]
    /// What the join form asks.
    public var join: JoinSettings
    /// The welfare catalogue.
    public var welfare: WelfareCatalogue
    /// The union's own forms, by name.
    public var forms: [String: FormDefinition]
    /// The applications that climb the tree (困难帮扶 …), by name.
    public var workflows: [String: Workflow]
    /// How messages no rule answers reach the union's staff.
    public var cases: CaseSettings
    /// How notices reach members beyond customer-service messages.
    public var notices: NoticeSettings
    /// Warnings found while loading; the rules work regardless.
    public var warnings: [RuleProblem]
    /// What the files said, as 12 hex digits of a SHA-256 over their names and texts: instances
    /// serving the same Replies show the same version.
    public var version: String = ""

    /// Creates a rule book.
    public init(
        rules: [ReplyRule] = [], welcome: ReplyRule? = nil, fallback: ReplyRule? = nil, menu: Menu? = nil,
        hotline: [HotlineNumber] = [], settings: Settings = Settings(), examples: [ConversationExample] = [],
        join: JoinSettings = JoinSettings(), welfare: WelfareCatalogue = WelfareCatalogue(),
        forms: [String: FormDefinition] = [:], workflows: [String: Workflow] = [:],
        cases: CaseSettings = CaseSettings(),
        notices: NoticeSettings = NoticeSettings(), warnings: [RuleProblem] = []
    ) {
        self.workflows = workflows
        self.cases = cases
        self.notices = notices
        self.join = join
        self.welfare = welfare
        self.forms = forms
        self.rules = rules
        self.welcome = welcome
        self.fallback = fallback
        self.menu = menu
        self.hotline = hotline
        self.settings = settings
        self.examples = examples
        self.warnings = warnings
    }
}

/// General settings (`settings:`).
public struct Settings: Sendable, Hashable {
    /// The union's name, for `{union}` in replies.
    public var unionName: String
    /// The union's offset from UTC in minutes, for office hours and dates (default +08:00).
    public var utcOffsetMinutes: Int
    /// Minutes after which an unfinished form is dropped (default 30).
    public var conversationTimeoutMinutes: Int

    /// Creates settings.
    public init(unionName: String = "工会", utcOffsetMinutes: Int = 480, conversationTimeoutMinutes: Int = 30) {
        self.unionName = unionName
        self.utcOffsetMinutes = utcOffsetMinutes
        self.conversationTimeoutMinutes = conversationTimeoutMinutes
    }
}

/// A hotline number members can call.
public struct HotlineNumber: Sendable, Hashable {
    /// What the line is, such as 全国总工会职工服务热线.
    public var name: String
    /// The number, digits and dashes only.
    public var number: String
    /// When it is staffed, such as 工作日 9:00–17:00.
    public var hours: String?

    /// Creates a hotline number.
    public init(name: String, number: String, hours: String? = nil) {
        self.name = name
        self.number = number
        self.hours = hours
    }
}

/// The custom menu (自定义菜单).
public struct Menu: Sendable, Hashable {
    /// The top-level buttons, left to right.
    public var buttons: [MenuButton]
    /// Where the menu was written.
    public var source: SourceLocation

    /// Creates a menu.
    public init(buttons: [MenuButton], source: SourceLocation) {
        self.buttons = buttons
        self.source = source
    }
}

/// A menu button.
public struct MenuButton: Sendable, Hashable {
    /// The button's label.
    public var name: String
    /// What the button does.
    public var action: Action
    /// Where the button was written.
    public var source: SourceLocation

    /// Creates a button.
    public init(name: String, action: Action, source: SourceLocation) {
        self.name = name
        self.action = action
        self.source = source
    }

    /// What a button does.
    public enum Action: Sendable, Hashable {
        /// Sends a CLICK event with this key.
        case click(key: String)
        /// Opens this address.
        case view(url: String)
        /// Opens a mini program, with `url` for old clients.
        case miniProgram(appId: String, pagePath: String, url: String)
        /// Opens a sub-menu.
        case subMenu([MenuButton])
    }

    /// The click keys of this button and its sub-buttons.
    public var clickKeys: [String] {
        switch action {
        case .click(let key): [key]
        case .subMenu(let buttons): buttons.flatMap(\.clickKeys)
        default: []
        }
    }
}

/// The WeChat menu's limits.
public enum MenuLimits {
    /// Top-level buttons.
    public static let topLevel = 1...3
    /// Sub-buttons under one button.
    public static let subButtons = 1...5
    /// Bytes of a top-level button's name.
    public static let topLevelNameBytes = 16
    /// Bytes of a sub-button's name.
    public static let subButtonNameBytes = 60
    /// Bytes of a click key.
    public static let keyBytes = 128
    /// Bytes of a view address.
    public static let urlBytes = 1024
}

/// The menu keys other tools rely on: keep them exactly.
public enum MenuKey {
    /// 入会.
    public static let joinUnion = "JOIN_UNION"
    /// 合理化建议.
    public static let submitSuggestion = "SUBMIT_SUGGESTION"
    /// 职工福利.
    public static let checkWelfare = "CHECK_WELFARE"
    /// 一键拨号.
    public static let dialHotline = "DIAL_HOTLINE"
    /// 会员中心 (the member pages).
    public static let memberCenter = "MEMBER_CENTER"
    /// All four.
    public static let all = [joinUnion, submitSuggestion, checkWelfare, dialHotline]
}
