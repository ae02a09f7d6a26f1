import Foundation

/// `workflows:` — applications that climb the union tree (`Replies/workflows.yaml`).
extension BookReader {
    enum WorkflowKey: String, YAMLKeys {
        case name, title, intro, prefix, keywords, click, who, steps, levels, done
    }

    enum WorkflowStepKey: String, YAMLKeys {
        case title, hint, fields
    }

    enum LevelKey: String, YAMLKeys {
        case name, unit, roles, days, record
    }

    /// The roles that may decide at a level.
    static let decidingRoles = ["admin", "approver"]
    /// The most levels a workflow has.
    static let maxWorkflowLevels = 6

    mutating func readWorkflows(_ node: YAMLNode) {
        for item in problems.list(node) {
            guard let fields = problems.mapping(item, what: "申请流程", keys: WorkflowKey.self) else { continue }
            guard let nameNode = fields[.name], let name = problems.text(nameNode, what: "申请事项名称") else {
                if fields[.name] == nil { problems.error(item, "申请流程缺少名称（name），如 name: 困难帮扶") }
                continue
            }
            guard !name.contains("/"), name.count <= 30 else {
                problems.error(nameNode, "申请事项名称不能含 /，最长 30 个字")
                continue
            }
            if let existing = workflows[name] {
                problems.error(nameNode, "申请流程「\(name)」已在 \(existing.source) 定义过")
                continue
            }
            var prefix = "SQ"
            if let prefixNode = fields[.prefix], let text = problems.text(prefixNode, what: "编号前缀") {
                if text.count <= 6, !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) {
                    prefix = text
                } else {
                    problems.error(prefixNode, "编号前缀应为 1–6 个大写字母或数字，例如 KB")
                }
            }
            var applicants = Workflow.Applicants.members
            if let whoNode = fields[.who], let who = problems.text(whoNode, what: "who") {
                switch who {
                case "members", "会员": applicants = .members
                case "anyone", "所有人": applicants = .anyone
                default: problems.error(whoNode, "who 只能写 members（仅会员）或 anyone（所有关注者）")
                }
            }
            guard let stepsNode = fields[.steps] else {
                problems.error(item, "申请流程「\(name)」缺少填写步骤（steps）")
                continue
            }
            // Both are read whatever is wrong with the other, so that every mistake is named at once.
            let steps = readSteps(stepsNode, workflow: name)
            guard let levelsNode = fields[.levels] else {
                problems.error(item, "申请流程「\(name)」缺少审批层级（levels）")
                continue
            }
            let keys = Set((steps ?? []).flatMap(\.fields).map(\.key))
            guard let levels = readLevels(levelsNode, workflow: name, answerKeys: keys), let steps else { continue }
            let keywords = fields[.keywords].map { problems.texts($0, what: "关键词") } ?? []
            let click = fields[.click].flatMap { problems.text($0, what: "菜单 key") }
            let workflow = Workflow(
                name: name, title: fields[.title].flatMap { problems.text($0, what: "标题") } ?? name,
                intro: fields[.intro].flatMap { problems.text($0, what: "说明") }, prefix: prefix, keywords: keywords,
                click: click, applicants: applicants, steps: steps, levels: levels,
                done: fields[.done].flatMap { problems.text($0, what: "提交后的回复") }
                    ?? "已收到您的「\(name)」申请，编号 {number}。审批进展会通知您，也可以在「我的申请」查看。",
                source: item.location)
            workflows[name] = workflow
            if !keywords.isEmpty {
                rules.append(
                    ReplyRule(
                        name: "申请-\(name)", source: item.location, trigger: .keywords(keywords, .exact, .none),
                        replies: [.service(.workflow(name))]))
            }
            if let click {
                rules.append(
                    ReplyRule(
                        name: "菜单-申请-\(name)", source: item.location, trigger: .click(key: click),
                        replies: [.service(.workflow(name))]))
            }
        }
    }

    private mutating func readSteps(_ node: YAMLNode, workflow: String) -> [WorkflowStep]? {
        let items = problems.list(node)
        guard !items.isEmpty else {
            problems.error(node, "申请流程「\(workflow)」至少要有一个填写步骤")
            return nil
        }
        var steps: [WorkflowStep] = []
        var keys: Set<String> = []
        var failed = false
        for (index, item) in items.enumerated() {
            guard let fields = problems.mapping(item, what: "填写步骤", keys: WorkflowStepKey.self) else {
                failed = true
                continue
            }
            guard let fieldsNode = fields[.fields] else {
                problems.error(item, "第 \(index + 1) 步缺少问题列表（fields）")
                failed = true
                continue
            }
            let stepFields = readFields(fieldsNode, reserved: keys, place: .workflowStep)
            if stepFields.isEmpty {
                failed = true
                continue
            }
            if index < items.count - 1, let photo = stepFields.first(where: \.isPhoto) {
                problems.error(item, "照片（「\(photo.label)」）请放在最后一步：照片随提交一起上传")
                failed = true
            }
            keys.formUnion(stepFields.map(\.key))
            steps.append(
                WorkflowStep(
                    title: fields[.title].flatMap { problems.text($0, what: "步骤标题") } ?? "第 \(index + 1) 步",
                    hint: fields[.hint].flatMap { problems.text($0, what: "提示") }, fields: stepFields))
        }
        return failed ? nil : steps
    }

    private mutating func readLevels(_ node: YAMLNode, workflow: String, answerKeys: Set<String>) -> [WorkflowLevel]? {
        let items = problems.list(node)
        guard (1...Self.maxWorkflowLevels).contains(items.count) else {
            problems.error(node, "申请流程「\(workflow)」的审批层级应有 1 到 \(Self.maxWorkflowLevels) 级")
            return nil
        }
        var levels: [WorkflowLevel] = []
        var recorded = answerKeys
        var failed = false
        var lastDepth = Int.max
        for (index, item) in items.enumerated() {
            guard let fields = problems.mapping(item, what: "审批层级", keys: LevelKey.self) else {
                failed = true
                continue
            }
            let name = fields[.name].flatMap { problems.text($0, what: "层级名称") } ?? "第 \(index + 1) 级审批"
            guard let unitNode = fields[.unit], let written = problems.text(unitNode, what: "审批单位") else {
                problems.error(item, "「\(name)」缺少审批单位（unit），可写：本单位、上一级、总工会、第N级")
                failed = true
                continue
            }
            guard let unit = WorkflowLevel.UnitChoice(written: written) else {
                problems.error(unitNode, "审批单位「\(written)」看不懂，可写：本单位、上一级、总工会、第N级（总工会是第1级）")
                failed = true
                continue
            }
            // The levels climb the tree: 本单位 first, 第N级 with N falling, nothing after 总工会.
            if unit == .member, index > 0 {
                problems.error(unitNode, "「本单位」只能是第一级审批")
                failed = true
            }
            if lastDepth == 1 {
                problems.error(unitNode, "总工会已经审批过，「\(name)」不能排在它后面")
                failed = true
            }
            let depth: Int? =
                switch unit {
                case .top: 1
                case .level(let depth): depth
                case .member, .parent: nil
                }
            if let depth {
                if depth >= lastDepth {
                    problems.error(unitNode, "审批层级应从下往上：「\(name)」（\(written)）不能排在更高的一级之后")
                    failed = true
                }
                lastDepth = depth
            }
            var roles = ["approver", "admin"]
            if let rolesNode = fields[.roles] {
                roles = problems.texts(rolesNode, what: "角色")
                for role in roles where !Self.decidingRoles.contains(role) {
                    problems.error(rolesNode, "角色「\(role)」不能审批，可写：admin（管理员）、approver（审核员）")
                    failed = true
                }
                if roles.isEmpty {
                    problems.error(rolesNode, "「\(name)」至少要有一个审批角色")
                    failed = true
                }
            }
            var days = 5
            if let daysNode = fields[.days] {
                if let value = problems.integer(daysNode, what: "工作日"), (1...60).contains(value) {
                    days = value
                } else {
                    problems.error(daysNode, "办理期限（days）应为 1 到 60 个工作日")
                    failed = true
                }
            }
            var record: [FormField] = []
            if let recordNode = fields[.record] {
                record = readFields(recordNode, reserved: recorded, place: .record)
                if record.isEmpty { failed = true }
                recorded.formUnion(record.map(\.key))
            }
            levels.append(WorkflowLevel(name: name, unit: unit, roles: roles, days: days, record: record))
        }
        return failed ? nil : levels
    }

    /// Every `service: workflow:NAME` names a declared workflow, and no workflow keyword is a
    /// form's too.
    mutating func checkWorkflows() {
        for rule in rules {
            for case .service(.workflow(let name)) in rule.replies where workflows[name] == nil {
                problems.error(at: rule.source, "规则「\(rule.name)」用到的申请流程「\(name)」没有定义（请在 workflows: 里定义它）")
            }
        }
        for workflow in workflows.values.sorted(by: { $0.name < $1.name }) {
            if let form = forms[workflow.name] {
                problems.error(
                    at: workflow.source, "「\(workflow.name)」已是 \(form.source) 的表单名称；同一件事请只用表单或申请流程之一")
            }
        }
    }
}
