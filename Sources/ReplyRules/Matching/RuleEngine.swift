import Foundation
import WeChatWire

/// What the engine needs to know besides the message.
public struct MatchContext: Sendable {
    /// The moment to match at, in Unix seconds: office hours and dates use it.
    public var unixTime: Int64
    /// Whether the sender is an approved union member.
    public var isMember: Bool

    /// Creates a context.
    public init(unixTime: Int64, isMember: Bool = false) {
        self.unixTime = unixTime
        self.isMember = isMember
    }
}

/// The rule chosen for a message, and what the reply's placeholders need from the match.
public struct RuleDecision: Sendable {
    /// Why this rule was chosen.
    public enum Reason: Sendable, Hashable {
        /// A rule matched.
        case rule
        /// A new follower, and no subscribe rule matched: the welcome reply.
        case welcome
        /// A message no rule matched: the default reply.
        case fallback
    }

    /// The rule.
    public var rule: ReplyRule
    /// Why it was chosen.
    public var reason: Reason
    /// The values for its placeholders.
    public var values: TemplateValues

    /// The replies to send: all of them, or one at random, as the rule says.
    public func replies<Random: RandomNumberGenerator>(using random: inout Random) -> [ReplyTemplate] {
        switch rule.pick {
        case .all: rule.replies
        case .randomOne: rule.replies.randomElement(using: &random).map { [$0] } ?? []
        }
    }
}

/// Chooses the rule that answers a message: the first in order of priority (then file order)
/// whose trigger matches and whose conditions hold.
///
/// A class, so that handing the engine in force to each message costs one reference, not a
/// copy of every index; it never changes after it is built.
public final class RuleEngine: Sendable {
    /// The rule book the engine was built from.
    public let book: RuleBook
    private let ranked: [ReplyRule]
    private let keywords: KeywordIndex
    private let clicks: [String: [Int]]
    private let views: [String: [Int]]
    private let anyView: [Int]
    private let subscribeScenes: [String: [Int]]
    private let anySubscribe: [Int]
    private let scanScenes: [String: [Int]]
    private let anyScan: [Int]

    /// Whether any rule depends on membership, so callers look it up only when it matters.
    public let needsMembership: Bool

    /// The most characters of a message that a regular expression sees: with the patterns
    /// ``RegexSafety`` accepts, matching then takes bounded time whatever the message.
    public static let regexTextLimit = 256

    /// Builds the indexes for `book`.
    public init(book: RuleBook) {
        self.book = book
        let ranked = book.rules.enumerated().sorted { left, right in
            left.element.priority != right.element.priority
                ? left.element.priority > right.element.priority : left.offset < right.offset
        }.map(\.element)
        self.ranked = ranked
        needsMembership = book.rules.contains { $0.conditions.needsMembership }
        var keywords = KeywordIndex()
        var clicks: [String: [Int]] = [:]
        var views: [String: [Int]] = [:]
        var anyView: [Int] = []
        var subscribeScenes: [String: [Int]] = [:]
        var anySubscribe: [Int] = []
        var scanScenes: [String: [Int]] = [:]
        var anyScan: [Int] = []
        for (rank, rule) in ranked.enumerated() {
            switch rule.trigger {
            case .keywords(let words, let mode, _):
                for word in words { keywords.add(word, mode: mode, rank: rank) }
            case .click(let key): clicks[key, default: []].append(rank)
            case .view(let url?): views[url, default: []].append(rank)
            case .view(nil): anyView.append(rank)
            case .subscribe(let scene?): subscribeScenes[scene, default: []].append(rank)
            case .subscribe(nil): anySubscribe.append(rank)
            case .scan(let scene?): scanScenes[scene, default: []].append(rank)
            case .scan(nil): anyScan.append(rank)
            }
        }
        keywords.finish()
        self.keywords = keywords
        self.clicks = clicks
        self.views = views
        self.anyView = anyView
        self.subscribeScenes = subscribeScenes
        self.anySubscribe = anySubscribe
        self.scanScenes = scanScenes
        self.anyScan = anyScan
    }

    /// The text a message offers for keyword matching: a text message's content, or the
    /// recognised speech of a voice message.
    public static func matchableText(of message: InboundMessage) -> String? {
        switch message.kind {
        case .text(let text): text.content
        case .voice(let voice): voice.recognition
        default: nil
        }
    }

    /// The rule that answers `message`, or nil when nothing should be said.
    public func decide(_ message: InboundMessage, context: MatchContext) -> RuleDecision? {
        let isMember = context.isMember
        guard
            case .decided(let decision) = decide(
                message, unixTime: context.unixTime, matchesPatterns: true,
                holds: { time, rule in rule.conditions.hold(at: time, isMember: isMember) })
        else { return nil }  // not reached: a full match always decides
        return decision
    }

    /// A decision that may be left open.
    public enum QuickDecision: Sendable {
        /// The rule that answers (nil: nothing should be said).
        case decided(RuleDecision?)
        /// Deciding needs what memory alone cannot give in bounded time: whether the sender is a
        /// member, or a regular expression (an admin's pattern can backtrack).
        case undecided
    }

    /// Decides `message` from memory, in time bounded by its length, when the rules that could
    /// answer it allow: per message, so that one regex rule or membership condition elsewhere in
    /// the book leaves every other message decidable.
    ///
    /// - Parameter isMember: whether the sender is a member, when known without waiting.
    public func decideFromMemory(_ message: InboundMessage, unixTime: Int64, isMember: Bool? = nil) -> QuickDecision {
        decide(
            message, unixTime: unixTime, matchesPatterns: false,
            holds: { time, rule in
                if rule.conditions.needsMembership {
                    guard let isMember else { return nil }
                    return rule.conditions.hold(at: time, isMember: isMember)
                }
                return rule.conditions.hold(at: time, isMember: false)
            })
    }

    /// The walk both decisions share; `holds` answers nil when it cannot tell.
    private func decide(
        _ message: InboundMessage, unixTime: Int64, matchesPatterns: Bool,
        holds timeHolds: (LocalTime, ReplyRule) -> Bool?
    ) -> QuickDecision {
        let time = LocalTime(unixSeconds: unixTime, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        var values = TemplateValues(unixTime: unixTime, clock: time, unionName: book.settings.unionName)
        func holds(_ rule: ReplyRule) -> Bool? { timeHolds(time, rule) }

        switch message.kind {
        case .event(let event):
            let ranks: [Int]
            switch event {
            case .subscribe(let scene, _):
                ranks = (scene.flatMap { subscribeScenes[$0] } ?? []) + anySubscribe
            case .scan(let scene, _):
                ranks = (scanScenes[scene] ?? []) + anyScan
            case .click(let key):
                ranks = clicks[key] ?? []
            case .view(let url, _):
                ranks = (views[url] ?? []) + anyView
            default:
                ranks = []
            }
            for rank in ranks.sorted() {
                guard let held = holds(ranked[rank]) else { return .undecided }
                if held { return .decided(RuleDecision(rule: ranked[rank], reason: .rule, values: values)) }
            }
            if case .subscribe = event, let welcome = book.welcome {
                return .decided(RuleDecision(rule: welcome, reason: .welcome, values: values))
            }
            return .decided(nil)

        default:
            let content = Self.matchableText(of: message) ?? ""
            values.content = content
            if Self.matchableText(of: message) != nil {
                switch firstKeywordRule(content: content, matchesPatterns: matchesPatterns, holds: holds) {
                case .undecided:
                    return .undecided
                case .found(let rank, let captures, let named):
                    values.captures = captures
                    values.namedCaptures = named
                    return .decided(RuleDecision(rule: ranked[rank], reason: .rule, values: values))
                case .none:
                    break
                }
            }
            if let fallback = book.fallback {
                return .decided(RuleDecision(rule: fallback, reason: .fallback, values: values))
            }
            return .decided(nil)
        }
    }

    private enum KeywordSearch {
        case found(Int, [String], [String: String])
        case none
        case undecided
    }

    /// Walks the indexed candidates and the regex rules together in rank order.
    private func firstKeywordRule(content: String, matchesPatterns: Bool, holds: (ReplyRule) -> Bool?)
        -> KeywordSearch
    {
        let normalized = KeywordNormalizer.normalize(content)
        var candidates = keywords.candidates(normalized)
        candidates.sort()
        let regexRanks = keywords.regexRanks
        var next = 0
        var regexNext = 0
        var previous = -1
        while next < candidates.count || regexNext < regexRanks.count {
            let takeRegex =
                regexNext < regexRanks.count && (next >= candidates.count || regexRanks[regexNext] < candidates[next])
            let rank = takeRegex ? regexRanks[regexNext] : candidates[next]
            if takeRegex { regexNext += 1 } else { next += 1 }
            if rank == previous { continue }
            previous = rank
            let rule = ranked[rank]
            if takeRegex {
                guard matchesPatterns else { return .undecided }
                guard case .keywords(_, _, let compiled) = rule.trigger,
                    let match = Self.firstMatch(
                        compiled,
                        in: String(content.prefix(Self.regexTextLimit)).precomposedStringWithCompatibilityMapping)
                else { continue }
                guard let held = holds(rule) else { return .undecided }
                if held { return .found(rank, match.0, match.1) }
                continue
            }
            guard let held = holds(rule) else { return .undecided }
            if held { return .found(rank, [], [:]) }
        }
        return .none
    }

    private static func firstMatch(_ compiled: CompiledRegexes, in text: String) -> ([String], [String: String])? {
        for regex in compiled.regexes {
            guard let match = try? regex.firstMatch(in: text) else { continue }
            var captures: [String] = []
            var named: [String: String] = [:]
            for index in 0..<match.output.count {
                let element = match.output[index]
                let value = element.substring.map(String.init) ?? ""
                captures.append(value)
                if let name = element.name { named[name] = value }
            }
            return (captures, named)
        }
        return nil
    }
}
