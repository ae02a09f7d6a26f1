import Foundation

extension BookReader {
    // MARK: Examples

    /// What an example may say: a member's input (or steps of them), and what to expect.
    enum ExampleKey: String, YAMLKeys {
        case name, member, steps, send, click, view, subscribe, scan, image, expect
        case expectNot = "expect_not"
        case silent
    }

    /// What a member does in a step: exactly one per step.
    enum ExampleInput: String, YAMLKeys {
        case send, click, view, subscribe, scan, image
    }

    /// What a step of several may say.
    enum StepKey: String, YAMLKeys {
        case send, click, view, subscribe, scan, image, expect
        case expectNot = "expect_not"
        case silent
    }

    mutating func readExample(_ node: YAMLNode) -> ConversationExample? {
        guard let fields = problems.mapping(node, what: "示例", keys: ExampleKey.self) else { return nil }
        let name = fields[.name].flatMap { problems.text($0, what: "示例名称") } ?? "\(node.path):\(node.line)"
        let asMember = fields[.member].flatMap { problems.bool($0, what: "member") } ?? false
        if let stepsNode = fields[.steps] {
            if ExampleInput.allCases.contains(where: { fields[ExampleKey(rawValue: $0.rawValue)!] != nil }) {
                problems.error(node, "示例「\(name)」有 steps 时，发送内容要写在每一步里")
                return nil
            }
            let items = problems.list(stepsNode)
            let steps = items.compactMap { item -> ConversationExample.Step? in
                guard let stepFields = problems.mapping(item, what: "示例步骤", keys: StepKey.self) else { return nil }
                return readStep(stepFields, at: item)
            }
            guard steps.count == items.count, !steps.isEmpty else { return nil }
            return ConversationExample(name: name, source: node.location, asMember: asMember, steps: steps)
        }
        guard let step = readStep(fields, at: node) else { return nil }
        return ConversationExample(name: name, source: node.location, asMember: asMember, steps: [step])
    }

    mutating func readStep<Key: YAMLKeys>(_ fields: [Key: YAMLNode], at node: YAMLNode) -> ConversationExample.Step? {
        guard
            let (kind, value) = problems.one(
                of: ExampleInput.self, in: fields, at: node,
                missing: "示例缺少会员的操作：send、click、view、subscribe、scan 或 image", several: { _ in "一步只能有一个操作" })
        else { return nil }
        let input: ConversationExample.Input
        switch kind {
        case .send:
            guard let text = problems.text(value, what: "发送内容") else { return nil }
            input = .text(text)
        case .click:
            guard let key = problems.text(value, what: "菜单 key") else { return nil }
            input = .click(key)
        case .view:
            guard let url = problems.text(value, what: "网址") else { return nil }
            input = .view(url)
        case .subscribe:
            let text = value.text
            input = .subscribe(scene: text == nil || ["true", "yes", "是"].contains(text!.lowercased()) ? nil : text)
        case .scan:
            guard let scene = problems.text(value, what: "场景值") else { return nil }
            input = .scan(scene)
        case .image:
            input = .image
        }
        let field = { (name: String) in Key(rawValue: name).flatMap { fields[$0] } }
        let expect = field("expect").map { problems.texts($0, what: "期望内容") } ?? []
        let expectNot = field("expect_not").map { problems.texts($0, what: "不应出现的内容") } ?? []
        let silent = field("silent").flatMap { problems.bool($0, what: "silent") } ?? false
        if expect.isEmpty, expectNot.isEmpty, !silent {
            problems.error(node, "示例要写 expect（回复应包含的文字）、expect_not 或 silent: true")
            return nil
        }
        return ConversationExample.Step(
            input: input, expect: expect, expectNot: expectNot, expectSilence: silent, source: node.location)
    }
}
