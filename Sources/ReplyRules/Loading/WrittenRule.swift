import Yams

/// One rule as written in a Replies file, read with the loader's own reader: every value is the
/// text the staff wrote, never YAML's guess at it (`yes` stays 「yes」, not true; `0x10` stays
/// 「0x10」, not 16). The console's rule form shows and checks a rule through this, so the form
/// and the loader cannot read the same file differently.
public struct WrittenRule: Sendable, Hashable {
    /// The rule's keys, in the order written.
    public var keys: [String]
    public var name: String?
    /// The keywords: a list's items, or a single value as a list of one; nil when there are none.
    public var keywords: [String]?
    public var match: String?
    /// The reply when it is one text; nil when it is anything else (cards, a service) or absent.
    public var reply: String?

    /// A file that is not YAML.
    public struct Unreadable: Error, Sendable {}

    /// The rule whose item starts at `line` (1-based, as the loader reports a rule's place) in
    /// `text`, or nil when no rule under `rules:` starts there.
    public static func read(_ text: String, line: Int) throws -> WrittenRule? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Unreadable()
        }
        guard let root,
            let sections = YAMLNode(node: root, path: "").entries,
            let rules = sections.first(where: { $0.key == RuleBookLoader.Section.rules.rawValue })?.value.items,
            let item = rules.first(where: { $0.line == line }),
            let entries = item.entries
        else { return nil }
        var fields: [BookReader.RuleKey: YAMLNode] = [:]
        for entry in entries {
            if let key = BookReader.RuleKey(rawValue: entry.key) { fields[key] = entry.value }
        }
        return WrittenRule(
            keys: entries.map(\.key), name: fields[.name]?.text,
            keywords: fields[.keywords].map { node in (node.items ?? [node]).compactMap(\.text) },
            match: fields[.match]?.text, reply: fields[.reply]?.text)
    }
}
