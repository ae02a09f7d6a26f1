/// Finds the rules whose keywords match a text in time that does not grow with the number of
/// keywords: a hash table for exact keywords, a trie for prefixes, and an Aho–Corasick
/// automaton for "contains". Regular expressions cannot be indexed and are kept in a list.
///
/// Rules are identified by their rank: their position in matching order (priority, then file order).
struct KeywordIndex: Sendable {
    /// Exact keywords by their normalised bytes: normalised text is in one canonical form, so
    /// comparing bytes is enough, and it skips the Unicode-aware hashing String does.
    private var exact: [Bytewise: [Int]] = [:]
    private var prefixes = ByteTrie()
    private var contains = AhoCorasick()
    private(set) var regexRanks: [Int] = []

    mutating func add(_ keyword: String, mode: MatchMode, rank: Int) {
        let normalized = KeywordNormalizer.normalize(keyword)
        switch mode {
        case .exact: exact[Bytewise(normalized), default: []].append(rank)
        case .prefix: prefixes.insert(Array(normalized.utf8), rank: rank)
        case .contains: contains.insert(Array(normalized.utf8), rank: rank)
        case .regex: if regexRanks.last != rank { regexRanks.append(rank) }
        }
    }

    mutating func finish() {
        contains.build()
        regexRanks.sort()
    }

    /// The ranks of every non-regex rule that matches `normalized`, unsorted, possibly repeated.
    func candidates(_ normalized: String) -> [Int] {
        var ranks = exact[Bytewise(normalized)] ?? []
        guard !normalized.isEmpty else { return ranks }
        var text = normalized
        text.withUTF8 { bytes in
            prefixes.matches(bytes, into: &ranks)
            contains.matches(bytes, into: &ranks)
        }
        return ranks
    }
}

/// A string hashed and compared by its UTF-8 bytes: for tables looked up on every message, where
/// String's own Unicode-aware hashing costs more than it is worth (texts in one canonical form,
/// or names compared as written).
public struct Bytewise: Hashable, Sendable {
    /// The string.
    public let string: String

    /// Wraps `string`.
    public init(_ string: String) { self.string = string }

    public static func == (left: Bytewise, right: Bytewise) -> Bool {
        left.string.utf8.elementsEqual(right.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var string = self.string
        string.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A trie over UTF-8 bytes whose nodes hold the ranks of the keywords ending there.
struct ByteTrie: Sendable {
    /// Each node's children by byte; node 0 is the root.
    fileprivate(set) var children: [[UInt8: Int32]] = [[:]]
    /// The ranks of the keywords ending at each node.
    fileprivate(set) var ranks: [[Int]] = [[]]

    mutating func insert(_ bytes: [UInt8], rank: Int) {
        var node = 0
        for byte in bytes {
            if let next = children[node][byte] {
                node = Int(next)
            } else {
                children.append([:])
                ranks.append([])
                children[node][byte] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        ranks[node].append(rank)
    }

    /// Appends the ranks of every keyword that `bytes` starts with.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>, into result: inout [Int]) {
        guard children.count > 1 else { return }
        var node = 0
        result.append(contentsOf: ranks[0])
        for byte in bytes {
            guard let next = children[node][byte] else { return }
            node = Int(next)
            result.append(contentsOf: ranks[node])
        }
    }
}

/// The Aho–Corasick automaton over UTF-8 bytes: one pass over the text finds every keyword in it.
struct AhoCorasick: Sendable {
    /// The keywords' trie; the automaton adds failure links over it.
    private var trie = ByteTrie()
    private var fail: [Int32] = []
    /// The ranks of keywords ending at each node, including those reached through failure links.
    private var outputs: [[Int]] = [[]]

    mutating func insert(_ bytes: [UInt8], rank: Int) {
        guard !bytes.isEmpty else { return }
        trie.insert(bytes, rank: rank)
    }

    /// Computes failure links breadth first, merging outputs along them.
    mutating func build() {
        fail = [Int32](repeating: 0, count: trie.children.count)
        outputs = trie.ranks
        var queue: [Int] = []
        for (_, child) in trie.children[0] {
            fail[Int(child)] = 0
            queue.append(Int(child))
        }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for (byte, child) in trie.children[node] {
                var state = Int(fail[node])
                while state != 0, trie.children[state][byte] == nil {
                    state = Int(fail[state])
                }
                let target = trie.children[state][byte].map(Int.init) ?? 0
                fail[Int(child)] = Int32(target == Int(child) ? 0 : target)
                outputs[Int(child)].append(contentsOf: outputs[Int(fail[Int(child)])])
                queue.append(Int(child))
            }
        }
    }

    /// Appends the ranks of every keyword that occurs in `bytes`.
    func matches(_ bytes: UnsafeBufferPointer<UInt8>, into result: inout [Int]) {
        guard trie.children.count > 1 else { return }
        var state = 0
        for byte in bytes {
            while state != 0, trie.children[state][byte] == nil {
                state = Int(fail[state])
            }
            state = trie.children[state][byte].map(Int.init) ?? 0
            if !outputs[state].isEmpty {
                result.append(contentsOf: outputs[state])
            }
        }
    }
}
