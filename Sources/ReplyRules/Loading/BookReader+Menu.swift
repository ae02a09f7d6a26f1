import Foundation

extension BookReader {
    // MARK: Menu

    mutating func readMenu(_ node: YAMLNode) -> Menu? {
        let items = problems.list(node)
        if !MenuLimits.topLevel.contains(items.count) {
            problems.error(node, "菜单应有 1 到 3 个一级按钮，这里有 \(items.count) 个")
        }
        let buttons = items.compactMap { readButton($0, topLevel: true) }
        return buttons.count == items.count ? Menu(buttons: buttons, source: node.location) : nil
    }

    /// What a menu button may say.
    enum ButtonKey: String, YAMLKeys {
        case name, click, view, miniprogram, buttons
    }

    /// What a button does: exactly one per button.
    enum ButtonAction: String, YAMLKeys {
        case click, view, miniprogram, buttons
    }

    /// What a mini program button may say.
    enum MiniProgramKey: String, YAMLKeys {
        case appid, pagepath, url
    }

    mutating func readButton(_ node: YAMLNode, topLevel: Bool) -> MenuButton? {
        guard let fields = problems.mapping(node, what: "菜单按钮", keys: ButtonKey.self) else { return nil }
        guard let nameNode = fields[.name], let name = problems.text(nameNode, what: "按钮名称") else {
            if fields[.name] == nil { problems.error(node, "菜单按钮缺少名称（name）") }
            return nil
        }
        let limit = topLevel ? MenuLimits.topLevelNameBytes : MenuLimits.subButtonNameBytes
        if name.utf8.count > limit {
            problems.error(
                nameNode,
                "按钮名称「\(name)」太长：\(topLevel ? "一级" : "二级")按钮最多 \(limit) 字节（约 \(limit / 3) 个汉字），这里是 \(name.utf8.count) 字节"
            )
        }
        guard
            let (action, value) = problems.one(
                of: ButtonAction.self, in: fields, at: node,
                missing: "按钮「\(name)」缺少动作：click、view、miniprogram 或 buttons",
                several: { _ in "按钮「\(name)」只能有一种动作" })
        else { return nil }
        switch action {
        case .click:
            guard let key = problems.text(value, what: "菜单 key") else { return nil }
            if key.utf8.count > MenuLimits.keyBytes {
                problems.error(value, "菜单 key 最多 \(MenuLimits.keyBytes) 字节")
            }
            return MenuButton(name: name, action: .click(key: key), source: node.location)
        case .view:
            guard let url = problems.text(value, what: "网址") else { return nil }
            checkURL(url, at: value)
            return MenuButton(name: name, action: .view(url: url), source: node.location)
        case .miniprogram:
            guard let program = problems.mapping(value, what: "小程序", keys: MiniProgramKey.self),
                let appId = program[.appid].flatMap({ problems.text($0, what: "小程序 appid") }),
                let pagePath = program[.pagepath].flatMap({ problems.text($0, what: "小程序页面") }),
                let url = program[.url].flatMap({ problems.text($0, what: "备用网址") })
            else {
                problems.error(value, "小程序按钮需要 appid、pagepath 和 url")
                return nil
            }
            checkURL(url, at: value)
            return MenuButton(
                name: name, action: .miniProgram(appId: appId, pagePath: pagePath, url: url), source: node.location)
        case .buttons:
            guard topLevel else {
                problems.error(value, "二级按钮不能再有子菜单")
                return nil
            }
            let items = problems.list(value)
            if !MenuLimits.subButtons.contains(items.count) {
                problems.error(value, "子菜单应有 1 到 5 个按钮，这里有 \(items.count) 个")
            }
            let buttons = items.compactMap { readButton($0, topLevel: false) }
            guard buttons.count == items.count else { return nil }
            return MenuButton(name: name, action: .subMenu(buttons), source: node.location)
        }
    }

    mutating func checkURL(_ url: String, at node: YAMLNode) {
        if !Self.isWebAddress(url) {
            problems.error(node, "网址应以 http:// 或 https:// 开头")
        }
        if url.utf8.count > MenuLimits.urlBytes {
            problems.error(node, "网址最多 \(MenuLimits.urlBytes) 字节")
        }
    }

    /// Every click key in the menu must be answered by some rule.
    mutating func checkMenuKeys() {
        guard let menu, !problems.hasErrors else { return }
        var handled = Set<String>()
        for rule in rules {
            if case .click(let key) = rule.trigger { handled.insert(key) }
        }
        for button in menu.buttons.flatMap({ button -> [MenuButton] in
            if case .subMenu(let subs) = button.action { return subs }
            return [button]
        }) {
            if case .click(let key) = button.action, !handled.contains(key) {
                problems.error(at: button.source, "菜单按钮「\(button.name)」的 key「\(key)」没有对应的规则（请加一条 click: \(key) 的规则）")
            }
        }
    }

    /// An exact keyword repeated at the same priority with no conditions never reaches the later rule.
    mutating func warnAboutShadowedKeywords() {
        var seen: [String: ReplyRule] = [:]
        for rule in rules where rule.conditions == Conditions() {
            guard case .keywords(let keywords, .exact, _) = rule.trigger else { continue }
            for keyword in keywords {
                let key = "\(rule.priority)|\(KeywordNormalizer.normalize(keyword))"
                if let earlier = seen[key] {
                    problems.warning(
                        at: rule.source, "关键词「\(keyword)」已由规则「\(earlier.name)」（\(earlier.source)）回复，本规则不会被用到")
                } else {
                    seen[key] = rule
                }
            }
        }
    }
}
