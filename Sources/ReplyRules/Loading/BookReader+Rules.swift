import Foundation

extension BookReader {
    // MARK: Rules

    /// What a rule may say.
    enum RuleKey: String, YAMLKeys {
        case name, priority, keywords, match, subscribe, scan, click, view, when, reply, replies, pick
    }

    /// What may trigger a rule: exactly one per rule.
    enum TriggerKind: String, YAMLKeys {
        case keywords, subscribe, scan, click, view
    }
    /// Values that mean "any scene" or "any address".
    static let anyValues: Set<String> = ["true", "yes", "是", "any", "*"]

    mutating func readRule(_ node: YAMLNode) -> ReplyRule? {
        guard let fields = problems.mapping(node, what: "规则", keys: RuleKey.self) else { return nil }
        let name = fields[.name].flatMap { problems.text($0, what: "规则名称") } ?? "\(node.path):\(node.line)"
        let priority = fields[.priority].flatMap { problems.integer($0, what: "优先级（priority）") } ?? 0
        guard
            let (kind, value) = problems.one(
                of: TriggerKind.self, in: fields, at: node,
                missing: "规则「\(name)」缺少触发条件：请写 keywords、subscribe、scan、click 或 view 之一",
                several: { "规则「\(name)」只能有一种触发条件，这里有 \($0)" })
        else { return nil }
        if let match = fields[.match], kind != .keywords {
            problems.error(match, "match 只能和 keywords 一起使用")
        }
        guard let trigger = readTrigger(kind, value, match: fields[.match]) else { return nil }
        let conditions = fields[.when].flatMap { readConditions($0) } ?? Conditions()
        guard
            let (replies, pick) = readReplies(
                reply: fields[.reply], replies: fields[.replies], pick: fields[.pick], owner: "规则「\(name)」", at: node)
        else { return nil }
        if case .keywords(_, .regex, _) = trigger {
        } else {
            for reply in replies { checkNoCaptures(reply, at: node, owner: name) }
        }
        return ReplyRule(
            name: name, source: node.location, priority: priority, trigger: trigger, conditions: conditions,
            replies: replies, pick: pick)
    }

    mutating func readTrigger(_ kind: TriggerKind, _ node: YAMLNode, match: YAMLNode?) -> Trigger? {
        switch kind {
        case .keywords:
            var mode = MatchMode.exact
            if let match, let text = problems.text(match, what: "匹配方式") {
                guard let parsed = MatchMode(rawValue: text.lowercased()) else {
                    problems.error(match, "匹配方式「\(text)」无效，可用：exact、contains、prefix、regex")
                    return nil
                }
                mode = parsed
            }
            let keywords = problems.texts(node, what: "关键词").filter { !$0.isEmpty }
            guard !keywords.isEmpty else {
                problems.error(node, "关键词列表不能为空")
                return nil
            }
            var regexes: [Regex<AnyRegexOutput>] = []
            if mode == .regex {
                for keyword in keywords {
                    if let problem = RegexSafety.problem(with: keyword) {
                        problems.error(node, "正则表达式「\(keyword)」\(problem)")
                        continue
                    }
                    do {
                        regexes.append(try Regex(keyword))
                    } catch {
                        problems.error(node, "正则表达式「\(keyword)」无效：\(error)")
                    }
                }
                if regexes.count != keywords.count { return nil }
            }
            return .keywords(keywords, mode, CompiledRegexes(regexes))
        case .subscribe, .scan:
            let scene: String?
            if let text = node.text, Self.anyValues.contains(text.lowercased()) {
                scene = nil
            } else {
                guard let text = problems.text(node, what: "二维码场景值") else { return nil }
                scene = text
            }
            return kind == .subscribe ? .subscribe(scene: scene) : .scan(scene: scene)
        case .click:
            guard let key = problems.text(node, what: "菜单 key") else { return nil }
            return .click(key: key)
        case .view:
            if let text = node.text, Self.anyValues.contains(text.lowercased()) {
                return .view(url: nil)
            }
            guard let url = problems.text(node, what: "网址") else { return nil }
            return .view(url: url)
        }
    }

    mutating func checkNoCaptures(_ reply: ReplyTemplate, at node: YAMLNode, owner: String) {
        let templates: [TextTemplate]
        switch reply {
        case .text(let template): templates = [template]
        case .articles(let articles): templates = articles.flatMap { [$0.title, $0.description] }
        default: templates = []
        }
        for placeholder in templates.flatMap(\.placeholders) {
            switch placeholder {
            case .capture(let number):
                problems.error(node, "规则「\(owner)」不是正则匹配，不能使用占位符 {\(number)}")
            case .namedCapture(let name):
                problems.error(node, "无法识别的占位符「{\(name)}」（可用：date、time、weekday、content、union）")
            default: break
            }
        }
    }
}
