import Synchronization

/// What the services remember about the members seen lately, so that 入会进度, 我的建议 and the
/// member's welfare need no database read: each member's latest join application and recent
/// suggestions.
///
/// A cache in front of the store, never the truth:
/// - it is filled inside the store's read (``UnionStore/read(_:)``), so no write of this process
///   lands between reading a fact and remembering it;
/// - whoever changes a member's facts forgets them after the commit;
/// - a change from outside this process (`uniongate members approve`, another tool on the file)
///   is noticed by ``UnionStore/noticeOutsideWrites()``, which forgets everything.
///
/// Bounded: two generations of at most `capacity` members each; when the newer is full, the
/// older is dropped, and a member looked up in the older moves to the newer.
public final class MemberFacts: Sendable {
    struct Facts: Sendable {
        /// The latest application: `.some(nil)` when the member has none.
        var application: MembershipApplication??
        /// The most recent suggestions, newest first.
        var suggestions: [Suggestion]?
    }

    private struct Generations {
        var current: [String: Facts] = [:]
        var previous: [String: Facts] = [:]
    }

    private let generations = Mutex(Generations())
    /// The most members a generation holds.
    let capacity: Int

    /// Whether anything is remembered: not when several gateway instances share the database,
    /// since another instance's change would go unseen.
    let enabled: Bool

    /// Creates an empty cache (one that remembers nothing when not `enabled`).
    public init(capacity: Int = 50_000, enabled: Bool = true) {
        self.capacity = capacity
        self.enabled = enabled
    }

    /// The member's latest application (`.some(nil)`: none), or nil when it is not known here.
    func application(for openid: String) -> MembershipApplication?? {
        facts(for: openid)?.application
    }

    /// The member's recent suggestions, newest first, or nil when they are not known here.
    func suggestions(for openid: String) -> [Suggestion]? {
        facts(for: openid)?.suggestions
    }

    /// Remembers what the store says; call it inside the read that found it.
    func remember(application: MembershipApplication?, for openid: String) {
        update(openid) { $0.application = .some(application) }
    }

    /// Remembers what the store says; call it inside the read that found it.
    func remember(suggestions: [Suggestion], for openid: String) {
        update(openid) { $0.suggestions = suggestions }
    }

    /// Forgets the member's application, after it changed.
    func forgetApplication(of openid: String) {
        update(openid) { $0.application = nil }
    }

    /// Forgets the member's suggestions, after they changed.
    func forgetSuggestions(of openid: String) {
        update(openid) { $0.suggestions = nil }
    }

    /// Forgets everything: the store was written from outside.
    func forgetAll() {
        generations.withLock { $0 = Generations() }
    }

    private func facts(for openid: String) -> Facts? {
        guard enabled else { return nil }
        return generations.withLock { generations in
            if let facts = generations.current[openid] { return facts }
            guard let facts = generations.previous.removeValue(forKey: openid) else { return nil }
            Self.insert(facts, for: openid, into: &generations, capacity: capacity)
            return facts
        }
    }

    private func update(_ openid: String, _ change: (inout Facts) -> Void) {
        guard enabled else { return }
        generations.withLock { generations in
            var facts = generations.current[openid] ?? generations.previous.removeValue(forKey: openid) ?? Facts()
            change(&facts)
            Self.insert(facts, for: openid, into: &generations, capacity: capacity)
        }
    }

    private static func insert(_ facts: Facts, for openid: String, into generations: inout Generations, capacity: Int) {
        if generations.current[openid] == nil, generations.current.count >= capacity {
            // The oldest generation's members are freed on a background task, not under this
            // lock on the caller's event loop; the new one has its room from the start.
            let oldest = generations.previous
            generations.previous = generations.current
            generations.current = Dictionary(minimumCapacity: capacity)
            dropInBackground(oldest)
            generations.previous.removeValue(forKey: openid)
        }
        generations.current[openid] = facts
    }

    /// How many members are remembered (for tests).
    var count: Int { generations.withLock { $0.current.count + $0.previous.count } }
}
