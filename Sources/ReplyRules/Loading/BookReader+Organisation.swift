import Foundation

/// `org:` — the union's organisation, a tree of units (`Replies/org.yaml`).
extension BookReader {
    /// What a unit of the organisation may say.
    enum UnitKey: String, YAMLKeys {
        case code, name, hotline, children
    }

    mutating func readOrganisation(_ node: YAMLNode) {
        if let existing = organisationSource {
            problems.error(node, "组织架构已在 \(existing) 定义过")
            return
        }
        organisationSource = node.location
        var organisation = Organisation()
        var seen: [String: SourceLocation] = [:]
        var tooMany = false
        // Depth first, each unit before the units below it, without recursion.
        var stack: [(node: YAMLNode, parent: String?, depth: Int)] = [(node, nil, 0)]
        while let (item, parent, depth) = stack.popLast() {
            guard
                let fields = problems.mapping(
                    item, what: "单位", keys: UnitKey.self)
            else { continue }
            guard let codeNode = fields[.code] else {
                problems.error(item, "单位缺少代码（code），如 code: chengdong")
                continue
            }
            guard let code = problems.text(codeNode, what: "单位代码") else { continue }
            guard Organisation.isValidCode(code) else {
                problems.error(codeNode, "单位代码「\(code)」只能用英文字母、数字和 -，最长 59 个字符")
                continue
            }
            if let earlier = seen[code] {
                problems.error(codeNode, "单位代码「\(code)」重复，已在 \(earlier) 用过")
                continue
            }
            seen[code] = codeNode.location
            let name =
                fields[.name].flatMap { problems.text($0, what: "单位名称") }?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if name.isEmpty {
                problems.error(fields[.name] ?? item, "单位「\(code)」的名称（name）不能为空")
            }
            guard depth < Organisation.maxLevels else {
                problems.error(item, "组织层级太深：最多 \(Organisation.maxLevels) 级（总工会算第 1 级），「\(name)」在第 \(depth + 1) 级")
                continue
            }
            if organisation.units.count >= Organisation.maxUnits {
                if !tooMany { problems.error(item, "单位太多：最多 \(Organisation.maxUnits) 个；从这一个起超出") }
                tooMany = true
                continue
            }
            let hotline = fields[.hotline].map { readHotlineNumbers($0) } ?? []
            organisation.units[code] = Organisation.Unit(
                code: code, name: name, hotline: hotline, parent: parent, depth: depth)
            organisation.order.append(code)
            if let parent { organisation.units[parent]?.children.append(code) } else { organisation.root = code }
            if let children = fields[.children] {
                for child in problems.list(children).reversed() { stack.append((child, code, depth + 1)) }
            }
        }
        self.organisation = organisation
    }

    /// The organisation the join form uses: `org:` when written, otherwise an old `join.units`
    /// list as one level under the union.
    mutating func settleOrganisation() {
        if let organisation, !organisation.isEmpty {
            if !join.units.isEmpty, let joinSource {
                problems.warning(at: joinSource, "已有组织架构（org），join 里的 units 不再使用，可以删去")
            }
            join.organisation = organisation
        } else {
            join.organisation = Organisation.legacy(units: join.units, unionName: settings.unionName)
        }
    }
}
