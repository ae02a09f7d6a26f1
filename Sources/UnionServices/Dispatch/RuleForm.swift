import Foundation
import ReplyRules

/// One keyword rule as the console's form edits it: its name, keywords, match mode and text
/// reply. The form changes those keys of the rule in the YAML file's own text and nothing else:
/// the rule's other keys (priority, when), every comment, and the rest of the file stay as they
/// were, so the file remains the source of truth.
///
/// A rule the form cannot show faithfully (a flow mapping `- { … }`, cards, several replies, a
/// service) is refused with ``Unsupported``: staff edit that one in the file editor.
public struct RuleForm: Sendable, Hashable {
    public var name: String
    public var keywords: [String]
    public var match: MatchMode
    public var reply: String

    /// Creates a form's values.
    public init(name: String, keywords: [String], match: MatchMode, reply: String) {
        self.name = name
        self.keywords = keywords
        self.match = match
        self.reply = reply
    }

    /// Why the form cannot edit a rule, for staff.
    public struct Unsupported: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The keys the form shows; a rule with others than these and `priority`/`when` is left to
    /// the file editor.
    private static let editable: Set<String> = ["name", "keywords", "match", "reply", "priority", "when"]

    /// The rule whose item starts at `line` (1-based, as the loader reports it) in `text`.
    public static func read(_ text: String, line: Int) throws -> RuleForm {
        _ = try Block(text, line: line)  // an item the form can rewrite: `- key: …`, not `- { … }`
        let written: WrittenRule?
        do {
            written = try WrittenRule.read(text, line: line)
        } catch {
            throw Unsupported(description: "第 \(line) 行的规则无法读取，请直接编辑文件")
        }
        guard let written else {
            throw Unsupported(description: "第 \(line) 行不是一条规则")
        }
        if let other = written.keys.sorted().first(where: { !editable.contains($0) }) {
            throw Unsupported(description: "这条规则用了「\(other)」，表单改不了，请直接编辑文件")
        }
        guard let reply = written.reply else {
            throw Unsupported(description: "这条规则的回复不是一段文字（图文、服务或多条回复），请直接编辑文件")
        }
        guard let keywords = written.keywords else {
            throw Unsupported(description: "这条规则不是关键词规则，请直接编辑文件")
        }
        let match = written.match.flatMap { MatchMode(rawValue: $0.lowercased()) } ?? .exact
        return RuleForm(name: written.name ?? "", keywords: keywords, match: match, reply: reply)
    }

    /// `text` with the rule at `line` changed to these values. Only the lines of `name`,
    /// `keywords`, `match` and `reply` are rewritten; a missing one is added after the keywords.
    public func apply(to text: String, line: Int) throws -> String {
        _ = try Self.read(text, line: line)  // the same refusals as showing it
        let block = try Block(text, line: line)
        var lines = block.lines
        // Rewritten from the last entry up, so the earlier entries' line numbers hold.
        var edits: [(span: Range<Int>, with: [String])] = []
        var inserts: [String] = []
        let values: [(key: String, lines: [String])] = [
            ("name", [Self.entry("name", Self.scalar(name), indent: block.keyIndent)]),
            (
                "keywords",
                [
                    Self.entry(
                        "keywords", "[" + keywords.map(Self.scalar).joined(separator: ", ") + "]",
                        indent: block.keyIndent)
                ]
            ),
            (
                "match",
                match == .exact && block.entries["match"] == nil
                    ? [] : [Self.entry("match", match.rawValue, indent: block.keyIndent)]
            ),
            ("reply", Self.replyLines(reply, indent: block.keyIndent)),
        ]
        for (key, replacement) in values where !replacement.isEmpty {
            if let span = block.entries[key] {
                edits.append((span, replacement))
            } else {
                inserts += replacement
            }
        }
        if !inserts.isEmpty, let after = block.entries["keywords"] {
            edits.append((after.upperBound..<after.upperBound, inserts))
        }
        for edit in edits.sorted(by: { $0.span.lowerBound > $1.span.lowerBound }) {
            var replacement = edit.with
            // The item's first line keeps its `- ` in front of whichever key is there.
            if edit.span.lowerBound == block.start, !replacement.isEmpty {
                replacement[0] = block.dashPrefix + replacement[0].dropFirst(block.keyIndent)
            }
            lines.replaceSubrange(edit.span, with: replacement)
        }
        return lines.joined(separator: "\n")
    }

    private static func entry(_ key: String, _ value: String, indent: Int) -> String {
        String(repeating: " ", count: indent) + key + ": " + value
    }

    /// The reply as YAML lines: one line when it is one line, else a literal block.
    private static func replyLines(_ reply: String, indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        guard reply.contains("\n"), !reply.hasPrefix(" ") else { return [pad + "reply: " + scalar(reply)] }
        var body = reply
        let keepsFinalBreak = body.hasSuffix("\n")
        if keepsFinalBreak { body.removeLast() }
        let inner = String(repeating: " ", count: indent + 2)
        return [pad + "reply: " + (keepsFinalBreak ? "|" : "|-")]
            + body.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.isEmpty ? "" : inner + $0
            }
    }

    /// A YAML scalar: plain when it is plainly a string (Chinese words and letters), quoted
    /// otherwise (numbers, symbols, spaces at the ends, words YAML reads as booleans).
    static func scalar(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    ? CharacterSet.letters.contains(scalar)
                    : !CharacterSet.whitespacesAndNewlines.contains(scalar)
            }
            && !["y", "n", "yes", "no", "true", "false", "on", "off", "null"].contains(value.lowercased())
        if plain { return value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A rule's item in the file's lines: where it starts and ends, and the line span of each of
    /// its keys.
    private struct Block {
        var lines: [String]
        /// The item's first line (0-based) and the line after its last.
        var start: Int
        var end: Int
        /// The `- ` (with its indentation) in front of the first key.
        var dashPrefix: String
        /// The column of the item's keys.
        var keyIndent: Int
        /// Each key's lines: its own and its value's (trailing blank lines left out).
        var entries: [String: Range<Int>] = [:]

        init(_ text: String, line: Int) throws {
            lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            start = line - 1
            guard lines.indices.contains(start),
                let dash = lines[start].firstMatch(of: /^( *)-( +)([^ #{\[].*)$/)
            else {
                throw Unsupported(description: "第 \(line) 行不是以「- 」开头的规则，请直接编辑文件")
            }
            let dashIndent = dash.output.1.count
            keyIndent = dashIndent + 1 + dash.output.2.count
            dashPrefix = String(lines[start].prefix(keyIndent))
            end = start + 1
            while end < lines.count {
                let current = lines[end]
                if !Self.isBlank(current), Self.indent(of: current) <= dashIndent { break }
                end += 1
            }
            while end > start + 1, Self.isBlank(lines[end - 1]) { end -= 1 }
            // Keys at the item's column; a value is every deeper (or blank) line after its key.
            var keyStarts: [(key: String, line: Int)] = []
            for index in start..<end {
                let content = index == start ? String(lines[index].dropFirst(keyIndent)) : lines[index]
                if index != start, Self.isBlank(content) || Self.indent(of: content) != keyIndent { continue }
                let trimmed = content.drop { $0 == " " }
                if let key = trimmed.firstMatch(of: /^([A-Za-z_]+):(?: |$)/) {
                    keyStarts.append((String(key.output.1), index))
                }
            }
            for (key, first) in keyStarts {
                var last = first + 1
                while last < end {
                    let current = lines[last]
                    if !Self.isBlank(current), Self.indent(of: current) <= keyIndent { break }
                    last += 1
                }
                while last > first + 1, Self.isBlank(lines[last - 1]) { last -= 1 }
                entries[key] = first..<last
            }
        }

        static func isBlank(_ line: String) -> Bool { line.allSatisfy { $0 == " " || $0 == "\t" } }
        static func indent(of line: String) -> Int { line.prefix { $0 == " " }.count }
    }
}
