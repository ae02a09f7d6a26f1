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
