import Foundation
import Yams

/// A YAML node with the file it came from, read as text so that YAML's guesses (`no` as false,
/// `12351` as a number) never change what the staff wrote.
struct YAMLNode {
    let node: Node
    let path: String

    var line: Int { node.mark?.line ?? 1 }
    var location: SourceLocation { SourceLocation(path: path, line: line) }

    /// The scalar's text as written, or nil for a mapping or a sequence.
    var scalar: String? {
        if case .scalar(let scalar) = node { return scalar.string }
        return nil
    }

    /// The scalar's text, or nil if it is an explicit null (`~`, `null`, or nothing).
    var text: String? {
        guard case .scalar(let scalar) = node else { return nil }
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
        return scalar.string
    }

    var isNull: Bool {
        if case .scalar = node { return text == nil }
        return false
    }

    /// The mapping's entries in order, keys as text.
    var entries: [(key: String, keyLine: Int, value: YAMLNode)]? {
        guard case .mapping(let mapping) = node else { return nil }
        return mapping.map { pair in
            (pair.key.string ?? "", pair.key.mark?.line ?? line, YAMLNode(node: pair.value, path: path))
        }
    }

    /// The sequence's items.
    var items: [YAMLNode]? {
        guard case .sequence(let sequence) = node else { return nil }
        return sequence.map { YAMLNode(node: $0, path: path) }
    }

    /// What kind of node this is, in Chinese, for messages.
    var kindName: String {
        switch node {
        case .scalar: "文字"
        case .mapping: "键值表"
        case .sequence: "列表"
        case .alias: "别名"
        }
    }
}

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
    mutating func mapping(_ node: YAMLNode, what: String, allowed: Set<String>) -> [String: YAMLNode]? {
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
