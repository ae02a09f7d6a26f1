import Synchronization

/// The union's organisation (`org:` in `Replies/org.yaml`): a tree of units — the 总工会 at the
/// root, town or branch unions below it, grassroots unions in each enterprise, teams under them.
/// Members join a unit without units below it (a grassroots union or a team).
///
/// An old `join.units` list is read as one level under a root named after the union.
public struct Organisation: Sendable, Hashable {
    /// One unit.
    public struct Unit: Sendable, Hashable {
        /// Its stable code: letters, digits and `-`. QR codes and records name units by it.
        public var code: String
        /// Its Chinese name, such as 城东环卫所工会.
        public var name: String
        /// Its own hotline numbers.
        public var hotline: [HotlineNumber]
        /// The unit above it; nil for the root.
        public var parent: String?
        /// The units below it, in the order written.
        public var children: [String]
        /// How far below the root: 0 for the root.
        public var depth: Int

        /// Creates a unit.
        public init(
            code: String, name: String, hotline: [HotlineNumber] = [], parent: String? = nil, children: [String] = [],
            depth: Int = 0
        ) {
            self.code = code
            self.name = name
            self.hotline = hotline
            self.parent = parent
            self.children = children
            self.depth = depth
        }

        /// Whether members join it (no units below it).
        public var isLeaf: Bool { children.isEmpty }
    }

    /// The most levels, the root included.
    public static let maxLevels = 6
    /// The most units.
    public static let maxUnits = 10_000
    /// A tree whose root has at most this many units below it, all without children, is asked
    /// as a plain numbered choice, as a `join.units` list always was.
    public static let plainChoiceLimit = 20

    /// The root's code; nil for no organisation.
    public var root: String?
    /// The units by code.
    public var units: [String: Unit] { didSet { prepared = Prepared() } }
    /// Every code, in the order written (each unit before the units below it).
    public var order: [String] { didSet { prepared = Prepared() } }
    /// The leaves and their names as searches compare them, worked out once per tree (a member's
    /// search runs over thousands of units).
    private var prepared = Prepared()
    /// Whether it came from an old `join.units` list.
    public var isLegacyList: Bool

    /// Creates an organisation.
    public init(root: String? = nil, units: [String: Unit] = [:], order: [String] = [], isLegacyList: Bool = false) {
        self.root = root
        self.units = units
        self.order = order
        self.isLegacyList = isLegacyList
    }

    /// The organisation of an old `join.units` list: a root named `unionName` and one unit per
    /// name below it, coded `unit-1`, `unit-2`… in the list's order.
    public static func legacy(units names: [String], unionName: String) -> Organisation {
        guard !names.isEmpty else { return Organisation() }
        var organisation = Organisation(root: "root", isLegacyList: true)
        let codes = names.indices.map { "unit-\($0 + 1)" }
        organisation.units["root"] = Unit(code: "root", name: unionName, children: codes)
        organisation.order = ["root"] + codes
        for (code, name) in zip(codes, names) {
            organisation.units[code] = Unit(code: code, name: name, parent: "root", depth: 1)
        }
        return organisation
    }

    /// Whether there are units to choose from.
    public var isEmpty: Bool { root == nil }

    /// The units a member can join, in the order written.
    public var leaves: [Unit] { prepared.index(of: self).leaves }

    /// The unit a member can join whose name is `word` once normalised as keywords are.
    public func leaf(named word: String) -> Unit? {
        let index = prepared.index(of: self)
        return index.normalized.firstIndex(of: word).map { index.leaves[$0] }
    }

    /// Whether the join form asks for the unit as a plain numbered choice (one level, few).
    public var isPlainChoice: Bool {
        guard let root, let top = units[root] else { return true }
        return top.children.count <= Self.plainChoiceLimit && top.children.allSatisfy { units[$0]?.isLeaf ?? true }
    }

    /// `code` and every unit below it.
    public func subtree(of code: String) -> [String] {
        guard units[code] != nil else { return [] }
        var result: [String] = []
        var stack = [code]
        while let next = stack.popLast() {
            result.append(next)
            stack.append(contentsOf: (units[next]?.children ?? []).reversed())
        }
        return result
    }

    /// The units from the root down to `code`.
    public func path(to code: String) -> [Unit] {
        var path: [Unit] = []
        var current = units[code]
        while let unit = current {
            path.insert(unit, at: 0)
            current = unit.parent.flatMap { units[$0] }
        }
        return path
    }

    /// The units a member can join whose name contains `text` (ignoring spaces and case), in the
    /// order written.
    public func search(_ text: String) -> [Unit] {
        let needle = Self.searchable(text)
        guard !needle.isEmpty else { return [] }
        let index = prepared.index(of: self)
        let bytes = Array(needle.utf8)
        return zip(index.leaves, index.searchable).filter { Self.bytes($0.1, contain: bytes) }.map(\.0)
    }

    /// Whether `haystack` holds `needle` (UTF-8 bytes: a character's bytes match only at that
    /// character, so this is a substring test on characters too). Thousands of names a search:
    /// bytes, not `String.contains`.
    static func bytes(_ haystack: [UInt8], contain needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        var start = 0
        let last = haystack.count - needle.count
        while start <= last {
            if haystack[start] == first {
                var matched = 1
                while matched < needle.count, haystack[start + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return true }
            }
            start += 1
        }
        return false
    }

    static func searchable(_ text: String) -> String {
        String(text.lowercased().filter { !$0.isWhitespace })
    }

    /// Whether `code` is a valid unit code: 1–64 letters, digits and `-` (a QR scene
    /// `join:CODE` stays within WeChat's 64 characters only for codes of 59 or fewer).
    public static func isValidCode(_ code: String) -> Bool {
        !code.isEmpty && code.count <= 59 && code.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

extension Organisation {
    public static func == (lhs: Organisation, rhs: Organisation) -> Bool {
        lhs.root == rhs.root && lhs.units == rhs.units && lhs.order == rhs.order && lhs.isLegacyList == rhs.isLegacyList
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(root)
        hasher.combine(units)
        hasher.combine(order)
        hasher.combine(isLegacyList)
    }

    /// What ``Organisation/prepared`` holds once asked for.
    struct SearchIndex: Sendable {
        var leaves: [Unit]
        var searchable: [[UInt8]]
        var normalized: [String]
    }

    /// Works out the search index of the tree it belongs to on first use, and keeps it; a
    /// changed tree gets a new one.
    final class Prepared: Sendable {
        private let index = Mutex<SearchIndex?>(nil)

        func index(of organisation: Organisation) -> SearchIndex {
            if let known = index.withLock({ $0 }) { return known }
            let leaves = organisation.order.compactMap { organisation.units[$0] }.filter {
                $0.isLeaf && $0.parent != nil
            }
            let built = SearchIndex(
                leaves: leaves, searchable: leaves.map { Array(Organisation.searchable($0.name).utf8) },
                normalized: leaves.map { KeywordNormalizer.normalize($0.name) })
            index.withLock { $0 = built }
            return built
        }
    }
}
