import Foundation

/// Reads YAML nodes into typed values, collecting problems instead of stopping at the first.
struct ProblemCollector {
    var problems: [RuleProblem] = []

    mutating func error(_ node: YAMLNode, _ message: String) {
        problems.append(RuleProblem(path: node.path, line: node.line, message: message))
    }

    mutating func error(at location: SourceLocation, _ message: String) {
        problems.append(RuleProblem(path: location.path, line: location.line, message: message))
    }

    mutating func warning(_ node: YAMLNode, _ message: String) {
        problems.append(RuleProblem(path: node.path, line: node.line, message: message, severity: .warning))
    }

    mutating func warning(at location: SourceLocation, _ message: String) {
        problems.append(RuleProblem(path: location.path, line: location.line, message: message, severity: .warning))
    }

    var hasErrors: Bool { problems.contains { $0.severity == .error } }

    /// The mapping's entries, checking each key against `allowed`.
    private mutating func mapping(_ node: YAMLNode, what: String, allowed: Set<String>) -> [String: YAMLNode]? {
        guard let entries = node.entries else {
            error(node, "\(what)应为键值表（key: value），这里是\(node.kindName)")
            return nil
        }
        var result: [String: YAMLNode] = [:]
        for (key, keyLine, value) in entries {
            guard allowed.contains(key) else {
                let known = allowed.sorted().joined(separator: "、")
                error(at: SourceLocation(path: node.path, line: keyLine), "\(what)中有未知的项「\(key)」（可用：\(known)）")
                continue
            }
            result[key] = value
        }
        return result
    }

    /// The mapping's entries by key, checking each key is one of `Key`'s (or of `only` of them).
    mutating func mapping<Key: YAMLKeys>(_ node: YAMLNode, what: String, keys: Key.Type, only: Set<Key>? = nil)
        -> [Key: YAMLNode]?
    {
        mapping(node, what: what, allowed: only.map { Set($0.map(\.rawValue)) } ?? Key.names).map { fields in
            Dictionary(
                uniqueKeysWithValues: fields.compactMap { entry in Key(rawValue: entry.key).map { ($0, entry.value) } })
        }
    }

    /// The one key of `Kind` (a choice such as a reply's kind) present in `fields`, with its
    /// value; a problem when none or several are.
    mutating func one<Kind: YAMLKeys, Key: YAMLKeys>(
        of kind: Kind.Type, in fields: [Key: YAMLNode], at node: YAMLNode, missing: String,
        several: (String) -> String
    ) -> (Kind, YAMLNode)? {
        let present = Kind.allCases.compactMap { kind in
            Key(rawValue: kind.rawValue).flatMap { fields[$0] }.map { (kind, $0) }
        }
        guard present.count == 1 else {
            error(node, present.isEmpty ? missing : several(present.map(\.0.rawValue).joined(separator: "、")))
            return nil
        }
        return present[0]
    }

    /// A list; a single value is taken as a list of one.
    mutating func list(_ node: YAMLNode) -> [YAMLNode] {
        node.items ?? [node]
    }

    /// Text, or a problem naming `what`.
    mutating func text(_ node: YAMLNode, what: String) -> String? {
        guard let text = node.text else {
            if node.isNull {
                error(node, "\(what)不能为空")
            } else {
                error(node, "\(what)应为文字，这里是\(node.kindName)")
            }
            return nil
        }
        return text
    }

    /// A list of text values (a single value is a list of one).
    mutating func texts(_ node: YAMLNode, what: String) -> [String] {
        list(node).compactMap { text($0, what: what) }
    }

    /// A yes/no value: true/false, yes/no, 是/否.
    mutating func bool(_ node: YAMLNode, what: String) -> Bool? {
        switch node.text?.lowercased() {
        case "true", "yes", "是", "y", "on": return true
        case "false", "no", "否", "n", "off": return false
        default:
            error(node, "\(what)应为 true 或 false")
            return nil
        }
    }

    /// A whole number.
    mutating func integer(_ node: YAMLNode, what: String) -> Int? {
        guard let text = node.text, let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            error(node, "\(what)应为整数")
            return nil
        }
        return value
    }
}

/// The keys a YAML mapping may have, as an enum: an unknown key is a problem at its line, and
/// switches over the keys are exhaustive.
protocol YAMLKeys: RawRepresentable, CaseIterable, Hashable where RawValue == String {}

extension YAMLKeys {
    /// Every key's name.
    static var names: Set<String> { Set(allCases.map(\.rawValue)) }
}
