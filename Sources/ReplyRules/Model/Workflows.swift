/// An application that climbs the union tree (`workflows:` in `Replies/workflows.yaml`): 困难帮扶,
/// 金秋助学, 法律援助 and whatever else staff declare. A member fills it in on the member pages in
/// steps; then each level, from the member's own union upwards, reviews it in turn and passes it
/// up, sends it back for more, or refuses it; the last level records what was granted.
public struct Workflow: Sendable, Hashable {
    /// Its name, in addresses (`/m/aid/困难帮扶`) and exports.
    public var name: String
    /// The title members read.
    public var title: String
    /// What the member reads before the first step.
    public var intro: String?
    /// The receipt-number prefix, such as `KB` for `KB-2026-000001`.
    public var prefix: String
    /// Keywords that answer the way to the application page.
    public var keywords: [String]
    /// A menu key that answers the way to the application page.
    public var click: String?
    /// Who may apply.
    public var applicants: Applicants
    /// The member's pages of questions, in order.
    public var steps: [WorkflowStep]
    /// Who decides, from the member's union upwards.
    public var levels: [WorkflowLevel]
    /// What the member reads after submitting; `{number}` is the receipt number.
    public var done: String
    /// Where it was written.
    public var source: SourceLocation

    /// Who may apply.
    public enum Applicants: String, Sendable, Hashable, CaseIterable {
        /// Approved members of the union only.
        case members
        /// Any follower of the account.
        case anyone
    }

    /// Creates a workflow.
    public init(
        name: String, title: String, intro: String? = nil, prefix: String, keywords: [String] = [],
        click: String? = nil, applicants: Applicants = .members, steps: [WorkflowStep], levels: [WorkflowLevel],
        done: String, source: SourceLocation
    ) {
        self.name = name
        self.title = title
        self.intro = intro
        self.prefix = prefix
        self.keywords = keywords
        self.click = click
        self.applicants = applicants
        self.steps = steps
        self.levels = levels
        self.done = done
        self.source = source
    }

    /// Every question of every step, in order.
    public var fields: [FormField] { steps.flatMap(\.fields) }

    /// The keys of the sensitive answers, the fields recorded by levels included.
    public var sensitiveKeys: Set<String> {
        Set((fields + levels.flatMap(\.record)).filter(\.sensitive).map(\.key))
    }

    /// The roles that act on it at some level.
    public var actingRoles: Set<String> { Set(levels.flatMap(\.roles)) }

    /// Who decides at each level for a member of `unit`: the unit each level resolves to (''
    /// for the top of a union without an organisation), levels that resolve to the same unit as
    /// the level above them merged into that higher one.
    public func chain(forMemberOf unit: String, in organisation: Organisation) -> [(level: Int, unit: String)] {
        let path = organisation.path(to: unit).map(\.code)
        guard !path.isEmpty else { return levels.isEmpty ? [] : [(levels.count - 1, organisation.root ?? "")] }
        var resolved: [(level: Int, unit: String)] = []
        var lastIndex = path.count
        for (index, level) in levels.enumerated() {
            let at: Int
            switch level.unit {
            case .member: at = path.count - 1
            case .parent: at = max(min(lastIndex, path.count - 1) - 1, 0)
            case .top: at = 0
            case .level(let depth): at = min(depth, path.count) - 1
            }
            if let last = resolved.last, at >= lastIndex {
                resolved[resolved.count - 1] = (index, last.unit)
            } else {
                resolved.append((index, path[at]))
                lastIndex = at
            }
        }
        return resolved
    }
}

/// One page of a workflow's questions.
public struct WorkflowStep: Sendable, Hashable {
    /// The page's title, such as 家庭成员.
    public var title: String
    /// A line under the title.
    public var hint: String?
    /// Its questions.
    public var fields: [FormField]

    public init(title: String, hint: String? = nil, fields: [FormField]) {
        self.title = title
        self.hint = hint
        self.fields = fields
    }
}

/// One level of a workflow's decision.
public struct WorkflowLevel: Sendable, Hashable {
    /// What it does, such as 基层工会审核.
    public var name: String
    /// Which unit decides, relative to the member's.
    public var unit: UnitChoice
    /// The staff roles that may act (`admin`, `approver`).
    public var roles: [String]
    /// The working days it has (the inbox's calendar) before it is overdue.
    public var days: Int
    /// What staff record when they pass it on (at the last level: the amount granted, a
    /// category, the lawyer assigned).
    public var record: [FormField]

    public init(
        name: String, unit: UnitChoice, roles: [String] = ["approver", "admin"], days: Int, record: [FormField] = []
    ) {
        self.name = name
        self.unit = unit
        self.roles = roles
        self.days = days
        self.record = record
    }

    /// The unit of a level, as staff write it.
    public enum UnitChoice: Sendable, Hashable {
        /// 本单位: the member's own unit.
        case member
        /// 上一级: the unit above the previous level's.
        case parent
        /// 总工会: the top of the tree.
        case top
        /// 第N级: the unit N levels down the member's path, the top being 1 (the member's own unit
        /// when their path is shorter).
        case level(Int)

        /// As staff write it.
        public var written: String {
            switch self {
            case .member: "本单位"
            case .parent: "上一级"
            case .top: "总工会"
            case .level(let depth): "第\(depth)级"
            }
        }

        /// From what staff wrote: 本单位, 上一级, 总工会 or 第N级 (N from 1 to 6).
        public init?(written text: String) {
            switch text {
            case "本单位": self = .member
            case "上一级", "上级": self = .parent
            case "总工会", "第1级": self = .top
            default:
                guard text.hasPrefix("第"), text.hasSuffix("级"),
                    let depth = Int(text.dropFirst().dropLast()), (2...Organisation.maxLevels).contains(depth)
                else { return nil }
                self = .level(depth)
            }
        }
    }
}
