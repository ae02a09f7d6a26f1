import ReplyRules
import WeChatWire

/// Where rules hand messages to the built-in services.
public protocol ServiceDesk: Sendable {
    /// Gives a service the first look at a message, before any rule: a member in the middle of
    /// a form is answering its question. Returns nil to let the rules answer.
    func intercept(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64) async throws -> Interception?

    /// Notices WeChat would not deliver earlier, to show the member now; taking them marks them delivered.
    func takeHeldNotices(_ openid: String, at unixTime: Int64) async throws -> [String]

    /// Performs `action` for `message`, which a rule handed over.
    func perform(_ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine)
        async throws -> [ReplyBody]

    /// What ``intercept(_:rules:at:)`` and ``takeHeldNotices(_:at:)`` together would do, when
    /// memory alone can tell and nothing has to be written: `.known(nil)` when the rules answer,
    /// `.known(replies)` when a form in progress does. Never waits.
    func interceptFromMemory(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64)
        -> FromMemory<[ReplyBody]?>

    /// What ``perform(_:for:values:rules:)`` would answer, when memory alone can tell and the
    /// action writes nothing. Never waits.
    func performFromMemory(
        _ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine
    )
        -> FromMemory<[ReplyBody]>

    /// Whether `openid` is a member, when memory alone can tell (nil otherwise). Never waits.
    func membershipFromMemory(_ openid: String) -> Bool?

    /// Whether a message no rule answers goes to the inbox (and so needs the store). Never waits.
    func keepsUnanswered(_ message: InboundMessage, rules: RuleEngine) -> Bool

    /// Keeps a message no rule answers for the union's staff, and returns what the member is
    /// told; nil when the inbox does not take it (the default reply answers).
    func receiveUnanswered(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64) async throws
        -> [ReplyBody]?

    /// Records WeChat's report about notices (a member's subscription choices, a delivery
    /// result); returns whether `message` was one. Such a message is answered with nothing.
    func recordNoticeReport(_ message: InboundMessage, at unixTime: Int64) async throws -> Bool
}

/// An answer from memory, or the news that it needs the store.
public enum FromMemory<Value: Sendable>: Sendable {
    /// Memory knows the answer.
    case known(Value)
    /// The answer needs the store (a read or a write): ask the async way.
    case needsStore
}

extension ServiceDesk {
    public func takeHeldNotices(_ openid: String, at unixTime: Int64) async throws -> [String] { [] }
    public func interceptFromMemory(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64)
        -> FromMemory<[ReplyBody]?>
    { .needsStore }
    public func performFromMemory(
        _ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine
    ) -> FromMemory<[ReplyBody]> { .needsStore }
    public func membershipFromMemory(_ openid: String) -> Bool? { nil }
    public func keepsUnanswered(_ message: InboundMessage, rules: RuleEngine) -> Bool { false }
    public func receiveUnanswered(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64) async throws
        -> [ReplyBody]?
    { nil }
    public func recordNoticeReport(_ message: InboundMessage, at unixTime: Int64) async throws -> Bool { false }
}

/// Tells whether a member's join application was approved.
public protocol MembershipDirectory: Sendable {
    /// Whether `openid` belongs to an approved union member.
    func isMember(_ openid: String) async throws -> Bool
}

/// A membership directory with a fixed list, for tests and for examples that play a member.
public struct FixedMembership: MembershipDirectory {
    private let members: Set<String>

    /// Creates it with the members' openids.
    public init(_ members: Set<String>) {
        self.members = members
    }

    public func isMember(_ openid: String) async throws -> Bool {
        members.contains(openid)
    }
}

/// What a service's first look at a message decided.
public enum Interception: Sendable, Hashable {
    /// The service answers; the rules are not consulted.
    case replies([ReplyBody])
    /// The rules answer, with this note in front (an expired form, say).
    case note(String)
}

/// Members are those in either directory: for examples that play a member beside real data.
public struct CombinedMembership: MembershipDirectory {
    private let directories: [any MembershipDirectory]

    /// Creates the union of `directories`.
    public init(_ directories: [any MembershipDirectory]) {
        self.directories = directories
    }

    public func isMember(_ openid: String) async throws -> Bool {
        for directory in directories where try await directory.isMember(openid) {
            return true
        }
        return false
    }
}
