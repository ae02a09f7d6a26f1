import Foundation

/// The sections the union services read: `join`, `welfare` and `forms`.
extension BookReader {
    /// A form question's `type:`.
    enum FieldType: String, YAMLKeys {
        case text, phone, number, date, choice, photo, money, group
    }

    /// What the join settings may say.
    enum JoinKey: String, YAMLKeys {
        case units, fields
    }

    mutating func readJoin(_ node: YAMLNode) {
        if let existing = joinSource {
            problems.error(node, "入会设置已在 \(existing) 定义过")
            return
        }
        joinSource = node.location
        guard let fields = problems.mapping(node, what: "入会设置", keys: JoinKey.self) else { return }
        if let units = fields[.units] {
            join.units = problems.texts(units, what: "单位名称")
            if Set(join.units).count != join.units.count {
                problems.error(units, "单位名称有重复")
            }
        }
        if let extra = fields[.fields] {
            join.extraFields = readFields(extra, reserved: ["name", "phone", "unit"])
        }
    }

    /// What a welfare item may say.
    enum WelfareKey: String, YAMLKeys {
        case title, description, picture, url, membersOnly = "members_only"
    }

    mutating func readWelfare(_ node: YAMLNode) {
        if let existing = welfareSource {
            problems.error(node, "福利目录已在 \(existing) 定义过")
            return
        }
        welfareSource = node.location
        let items = problems.list(node)
        for item in items {
            guard
                let fields = problems.mapping(
                    item, what: "福利项目", keys: WelfareKey.self),
                let titleNode = fields[.title]
                    ?? {
                        problems.error(item, "福利项目缺少标题（title）"); return nil
                    }(),
                let title = problems.text(titleNode, what: "福利标题")
            else { continue }
            let description = fields[.description].flatMap { problems.text($0, what: "福利说明") } ?? ""
            let picture = fields[.picture].flatMap { problems.text($0, what: "图片网址") } ?? ""
            let url = fields[.url].flatMap { problems.text($0, what: "链接网址") } ?? ""
            for (value, key) in [(picture, WelfareKey.picture), (url, .url)]
            where !value.isEmpty && !Self.isWebAddress(value) {
                problems.error(fields[key]!, "\(key.rawValue) 应以 http:// 或 https:// 开头")
            }
            let membersOnly = fields[.membersOnly].flatMap { problems.bool($0, what: "members_only") } ?? false
            welfare.items.append(
                WelfareItem(title: title, description: description, picURL: picture, url: url, membersOnly: membersOnly)
            )
        }
        if welfare.items.isEmpty, !items.isEmpty {
            return
        }
        if items.isEmpty {
            problems.error(node, "福利目录不能为空")
        }
    }

    /// What a form may say.
    enum FormKey: String, YAMLKeys {
        case name, title, intro, fields, prefix, done, membersOnly = "members_only", keywords, click
    }

    mutating func readForms(_ node: YAMLNode) {
        for item in problems.list(node) {
            guard
                let fields = problems.mapping(
                    item, what: "表单",
                    keys: FormKey.self)
            else { continue }
            guard let nameNode = fields[.name], let name = problems.text(nameNode, what: "表单名称") else {
                if fields[.name] == nil { problems.error(item, "表单缺少名称（name）") }
                continue
            }
            if name == JoinSettings.formName || name == "suggestion" {
                problems.error(nameNode, "表单名称「\(name)」是内置服务使用的，请换一个")
                continue
            }
            if let existing = forms[name] {
                problems.error(nameNode, "表单「\(name)」已在 \(existing.source) 定义过")
                continue
            }
            guard let fieldsNode = fields[.fields] else {
                problems.error(item, "表单「\(name)」缺少问题列表（fields）")
                continue
            }
            let formFields = readFields(fieldsNode, reserved: [])
            if formFields.isEmpty { continue }
            var prefix = "BD"
            if let prefixNode = fields[.prefix], let text = problems.text(prefixNode, what: "编号前缀") {
                if text.count <= 6, text.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }), !text.isEmpty {
                    prefix = text
                } else {
                    problems.error(prefixNode, "编号前缀应为 1–6 个大写字母或数字，例如 FL")
                }
            }
            let done = fields[.done].flatMap { problems.text($0, what: "提交后的回复") } ?? "已收到您的申请，编号 {number}。我们会尽快与您联系。"
            var keywords: [String] = []
            if let keywordNode = fields[.keywords] {
                keywords = problems.texts(keywordNode, what: "关键词")
            }
            let click = fields[.click].flatMap { problems.text($0, what: "菜单 key") }
            let form = FormDefinition(
                name: name, title: fields[.title].flatMap { problems.text($0, what: "表单标题") } ?? name,
                intro: fields[.intro].flatMap { problems.text($0, what: "开场白") }, fields: formFields, prefix: prefix,
                done: done,
                membersOnly: fields[.membersOnly].flatMap { problems.bool($0, what: "members_only") } ?? false,
                keywords: keywords, click: click, source: item.location)
            forms[name] = form
            // A form's own keywords and menu key become rules, so staff need not write them twice.
            if !keywords.isEmpty {
                rules.append(
                    ReplyRule(
                        name: "表单-\(name)", source: item.location, trigger: .keywords(keywords, .exact, .none),
                        replies: [.service(.form(name))]))
            }
            if let click {
                rules.append(
                    ReplyRule(
                        name: "菜单-表单-\(name)", source: item.location, trigger: .click(key: click),
                        replies: [.service(.form(name))]))
            }
        }
    }

    /// What a form's question may say.
    enum FieldKey: String, YAMLKeys {
        case key, label, type, hint, optional, choices, min, max, sensitive, fields
    }

    /// Where a list of questions stands: a form (chat and page), a workflow's step (pages only:
    /// groups allowed), a group's rows (no photos, no groups), or what staff record at a level.
    enum FieldPlace {
        case form, workflowStep, group, record
    }

    mutating func readFields(_ node: YAMLNode, reserved: Set<String>, place: FieldPlace = .form) -> [FormField] {
        var result: [FormField] = []
        var keys = reserved
        let items = problems.list(node)
        if items.isEmpty { problems.error(node, "问题列表不能为空") }
        for item in items {
            guard
                let fields = problems.mapping(
                    item, what: "问题", keys: FieldKey.self),
                let labelNode = fields[.label]
                    ?? {
                        problems.error(item, "问题缺少名称（label）"); return nil
                    }(),
                let label = problems.text(labelNode, what: "问题名称")
            else { continue }
            let key = fields[.key].flatMap { problems.text($0, what: "字段名（key）") } ?? label
            guard !keys.contains(key) else {
                problems.error(item, "字段名「\(key)」重复（可用 key: 另起一个名字）")
                continue
            }
            keys.insert(key)
            let typeName = fields[.type].flatMap { problems.text($0, what: "问题类型") } ?? "text"
            guard let type = FieldType(rawValue: typeName) else {
                let known = FieldType.allCases.map(\.rawValue).joined(separator: "、")
                problems.error(fields[.type]!, "问题类型「\(typeName)」无效，可用：\(known)")
                continue
            }
            let min = fields[.min].flatMap { problems.integer($0, what: "min") }
            let max = fields[.max].flatMap { problems.integer($0, what: "max") }
            let kind: FormField.Kind
            switch type {
            case .text:
                kind = .text(minLength: min ?? 1, maxLength: max ?? 500)
            case .phone:
                kind = .phone
            case .number:
                kind = .number(min: min ?? 0, max: max ?? 1_000_000)
            case .date:
                kind = .date
            case .choice:
                guard let choicesNode = fields[.choices] else {
                    problems.error(item, "选择题「\(label)」缺少选项（choices）")
                    continue
                }
                let choices = problems.texts(choicesNode, what: "选项")
                guard choices.count >= 2 else {
                    problems.error(choicesNode, "选择题至少要有 2 个选项")
                    continue
                }
                kind = .choice(choices)
            case .photo:
                let most = max ?? 3
                guard (1...6).contains(most) else {
                    problems.error(fields[.max] ?? item, "照片最多 1 到 6 张（max）")
                    continue
                }
                guard place == .form || place == .workflowStep else {
                    problems.error(fields[.type]!, place == .group ? "多行问题（group）里不能再传照片" : "审批时记录的内容不能是照片")
                    continue
                }
                kind = .photo(max: most)
            case .money:
                let lowest = min ?? 0
                let highest = max ?? 1_000_000
                guard lowest >= 0, highest <= 100_000_000 else {
                    problems.error(item, "金额范围应在 0 到 100000000 元之间（min、max）")
                    continue
                }
                kind = .money(min: lowest, max: highest)
            case .group:
                guard place == .workflowStep else {
                    problems.error(
                        fields[.type]!,
                        place == .group ? "多行问题（group）里不能再套多行问题" : "多行问题（group，如家庭成员）只能用在申请流程（workflows）的步骤里")
                    continue
                }
                guard let rowsNode = fields[.fields] else {
                    problems.error(item, "多行问题「\(label)」缺少每一行的问题（fields）")
                    continue
                }
                let rows = readFields(rowsNode, reserved: [], place: .group)
                if rows.isEmpty { continue }
                let most = max ?? 10
                guard (1...30).contains(most) else {
                    problems.error(fields[.max] ?? item, "多行问题最多 1 到 30 行（max）")
                    continue
                }
                kind = .group(fields: rows, min: Swift.max(min ?? 0, 0), max: most)
            }
            if type != .group, let extra = fields[.fields] {
                problems.error(extra, "只有多行问题（type: group）才写 fields")
            }
            if let min, let max, min > max {
                problems.error(item, "min 不能大于 max")
            }
            result.append(
                FormField(
                    key: key, label: label, kind: kind, hint: fields[.hint].flatMap { problems.text($0, what: "提示") },
                    optional: fields[.optional].flatMap { problems.bool($0, what: "optional") } ?? false,
                    sensitive: fields[.sensitive].flatMap { problems.bool($0, what: "sensitive") } ?? false))
        }
        return result.count == items.count ? result : []
    }

    /// Every `service: form:NAME` must name a defined form.
    mutating func checkFormReferences() {
        for rule in rules {
            for case .service(.form(let name)) in rule.replies where forms[name] == nil {
                problems.error(at: rule.source, "规则「\(rule.name)」用到的表单「\(name)」没有定义（请在 forms: 里定义它）")
            }
        }
    }
}
