import Crypto
import Foundation
import Yams

/// Reads a Replies folder: every `.yaml` and `.yml` file in it and its subfolders, in path order.
///
/// Each file holds any of the sections `settings`, `rules`, `welcome`, `default`, `menu`,
/// `hotline` and `examples`; sections from several files are merged. All problems are collected,
/// each with its file and line, before anything is refused.
public struct RuleBookLoader: Sendable {
    /// The top-level sections a file may have.
    public static var sections: Set<String> { Section.names }

    /// A top-level section.
    enum Section: String, YAMLKeys {
        case settings, rules, welcome, menu, hotline, examples, join, welfare, forms, org, cases, notices, workflows
        case fallback = "default"
    }

    public init() {}

    /// Loads the folder at `directory`.
    ///
    /// - Returns: the rule book; its ``RuleBook/warnings`` lists problems that do not stop it.
    /// - Throws: ``RuleProblems`` when any file has an error.
    public func load(directory: String) throws -> RuleBook {
        var files: [(path: String, text: String)] = []
        var problems = ProblemCollector()
        let paths = try RepliesFolder.ruleFiles(in: directory)
        if paths.isEmpty {
            // An empty folder would answer nothing to everyone: refuse it, so that a reload keeps
            // the last good rules and a start says why.
            problems.error(at: SourceLocation(path: directory, line: 1), "文件夹里没有规则文件（.yaml 或 .yml）")
        }
        for path in paths {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            guard size <= RuleBookLimits.fileBytes else {
                problems.error(
                    at: SourceLocation(path: path, line: 1),
                    "文件太大（\(size / 1024) KB），单个规则文件最多 \(RuleBookLimits.fileBytes / 1024) KB，请拆成几个文件")
                continue
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.error(at: SourceLocation(path: path, line: 1), "无法读取文件")
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                problems.error(at: SourceLocation(path: path, line: 1), "文件不是 UTF-8 编码（请用 UTF-8 保存）")
                continue
            }
            files.append((path, text))
        }
        return try load(files: files, preexisting: problems)
    }

    /// Loads rule files given as text, for tests and tools.
    ///
    /// - Throws: ``RuleProblems`` when any file has an error.
    public func load(files: [(path: String, text: String)]) throws -> RuleBook {
        try load(files: files, preexisting: ProblemCollector())
    }

    /// 12 hex digits of a SHA-256 over each file's name and text, in path order.
    static func version(of files: [(path: String, text: String)]) -> String {
        var hash = SHA256()
        for file in files {
            hash.update(data: Data((file.path as NSString).lastPathComponent.utf8))
            hash.update(data: Data([0]))
            hash.update(data: Data(file.text.utf8))
            hash.update(data: Data([0]))
        }
        return hash.finalize().prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    private func load(files: [(path: String, text: String)], preexisting: ProblemCollector) throws -> RuleBook {
        var reader = BookReader(problems: preexisting)
        for file in files {
            reader.read(path: file.path, text: file.text)
        }
        let book = reader.finish()
        let sorted = reader.problems.problems.sorted { ($0.path, $0.line) < ($1.path, $1.line) }
        if reader.problems.hasErrors {
            throw RuleProblems(sorted)
        }
        var result = book
        result.warnings = sorted
        result.version = Self.version(of: files)
        return result
    }
}

/// Reads sections into a rule book, one file at a time.
struct BookReader {
    var problems: ProblemCollector
    var rules: [ReplyRule] = []
    var welcome: ReplyRule?
    var fallback: ReplyRule?
    var menu: Menu?
    var hotline: [HotlineNumber] = []
    var settings = Settings()
    var settingsSource: SourceLocation?
    var examples: [ConversationExample] = []
    var join = JoinSettings()
    var joinSource: SourceLocation?
    var welfare = WelfareCatalogue()
    var welfareSource: SourceLocation?
    var forms: [String: FormDefinition] = [:]
    var workflows: [String: Workflow] = [:]
    var organisation: Organisation?
    var organisationSource: SourceLocation?
    var cases = CaseSettings()
    var casesSource: SourceLocation?
    var notices = NoticeSettings()
    var noticesSource: SourceLocation?

    init(problems: ProblemCollector) {
        self.problems = problems
    }

    /// The node at which a walk of `root` passes ``RuleBookLimits/nodesPerFile``, or nil. A YAML
    /// alias puts its anchor's whole tree in again, so a small file of aliases to aliases can
    /// stand for billions of nodes: the walk stops at the limit instead of expanding them.
    static func nodeBeyondLimit(_ root: Node) -> Node? {
        var stack = [root]
        var count = 0
        while let node = stack.popLast() {
            count += 1
            if count > RuleBookLimits.nodesPerFile { return node }
            switch node {
            case .scalar, .alias: break
            case .sequence(let sequence): stack.append(contentsOf: sequence)
            case .mapping(let mapping):
                for pair in mapping {
                    stack.append(pair.key)
                    stack.append(pair.value)
                }
            }
        }
        return nil
    }

    mutating func read(path: String, text: String) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            problems.error(
                at: SourceLocation(path: path, line: Self.line(of: error)), "YAML 格式错误：\(Self.problem(of: error))")
            return
        } catch {
            problems.error(at: SourceLocation(path: path, line: 1), "YAML 格式错误：\(error)")
            return
        }
        guard let root else { return }  // an empty file
        if let past = Self.nodeBeyondLimit(root) {
            problems.error(
                at: SourceLocation(path: path, line: past.mark?.line ?? 1),
                "文件展开后内容太多（超过 \(RuleBookLimits.nodesPerFile) 个节点），多半是 YAML 别名（*名字）层层引用；规则文件里请不要用别名")
            return
        }
        let document = YAMLNode(node: root, path: path)
        guard let sections = problems.mapping(document, what: "文件", keys: RuleBookLoader.Section.self) else { return }
        if let node = sections[.settings] { readSettings(node) }
        if let node = sections[.rules] {
            for item in problems.list(node) {
                if let rule = readRule(item) { rules.append(rule) }
            }
        }
        if let node = sections[.welcome] {
            if let existing = welcome {
                problems.error(node, "欢迎语已在 \(existing.source) 定义过")
            } else {
                welcome = readStandaloneReply(node, name: "welcome", trigger: .subscribe(scene: nil))
            }
        }
        if let node = sections[.fallback] {
            if let existing = fallback {
                problems.error(node, "默认回复已在 \(existing.source) 定义过")
            } else {
                fallback = readStandaloneReply(node, name: "default", trigger: .keywords([], .exact, .none))
            }
        }
        if let node = sections[.menu] {
            if let existing = menu {
                problems.error(node, "菜单已在 \(existing.source) 定义过")
            } else {
                menu = readMenu(node)
            }
        }
        if let node = sections[.hotline] { readHotline(node) }
        if let node = sections[.join] { readJoin(node) }
        if let node = sections[.welfare] { readWelfare(node) }
        if let node = sections[.forms] { readForms(node) }
        if let node = sections[.workflows] { readWorkflows(node) }
        if let node = sections[.org] { readOrganisation(node) }
        if let node = sections[.cases] { readCases(node) }
        if let node = sections[.notices] { readNotices(node) }
        if let node = sections[.examples] {
            for item in problems.list(node) {
                if let example = readExample(item) { examples.append(example) }
            }
        }
    }

    mutating func finish() -> RuleBook {
        settleOrganisation()
        checkLimits()
        checkFormReferences()
        checkWorkflows()
        checkMenuKeys()
        warnAboutShadowedKeywords()
        return RuleBook(
            rules: rules, welcome: welcome, fallback: fallback, menu: menu, hotline: hotline, settings: settings,
            examples: examples, join: join, welfare: welfare, forms: forms, workflows: workflows, cases: cases,
            notices: notices)
    }

    // MARK: YAML errors

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: 1
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        case .duplicatedKeysInMapping(let duplicates, _): "重复的键：\(duplicates.joined(separator: "、"))"
        default: "\(error)"
        }
    }

    // MARK: Settings

    /// What the settings may say.
    enum SettingKey: String, YAMLKeys {
        case unionName = "union_name", utcOffset = "utc_offset", conversationTimeoutMinutes =
            "conversation_timeout_minutes"
    }

    mutating func readSettings(_ node: YAMLNode) {
        if let existing = settingsSource {
            problems.error(node, "设置已在 \(existing) 定义过")
            return
        }
        settingsSource = node.location
        guard
            let fields = problems.mapping(
                node, what: "设置", keys: SettingKey.self)
        else { return }
        if let timeout = fields[.conversationTimeoutMinutes],
            let minutes = problems.integer(timeout, what: "对话超时分钟数")
        {
            if minutes >= 1 && minutes <= 1440 {
                settings.conversationTimeoutMinutes = minutes
            } else {
                problems.error(timeout, "对话超时应在 1 到 1440 分钟之间")
            }
        }
        if let name = fields[.unionName], let text = problems.text(name, what: "工会名称") {
            settings.unionName = text
        }
        if let offset = fields[.utcOffset], let text = problems.text(offset, what: "时区") {
            if let minutes = Self.utcOffset(text) {
                settings.utcOffsetMinutes = minutes
            } else {
                problems.error(offset, "时区应写成 +08:00 的形式")
            }
        }
    }

    static func utcOffset(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let sign = trimmed.first, sign == "+" || sign == "-" else { return nil }
        let parts = trimmed.dropFirst().split(separator: ":")
        guard parts.count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]), (0...14).contains(hours),
            (0..<60).contains(minutes)
        else { return nil }
        return (sign == "-" ? -1 : 1) * (hours * 60 + minutes)
    }

    // MARK: Hotline

    mutating func readHotline(_ node: YAMLNode) {
        hotline += readHotlineNumbers(node)
    }

    /// What a hotline number may say.
    enum HotlineKey: String, YAMLKeys {
        case name, number, hours
    }

    /// A list of hotline numbers (`hotline:`, or a unit's own).
    mutating func readHotlineNumbers(_ node: YAMLNode) -> [HotlineNumber] {
        var numbers: [HotlineNumber] = []
        for item in problems.list(node) {
            guard let fields = problems.mapping(item, what: "热线", keys: HotlineKey.self),
                let nameNode = fields[.name], let name = problems.text(nameNode, what: "热线名称"),
                let numberNode = fields[.number], let number = problems.text(numberNode, what: "号码")
            else {
                if item.entries != nil { problems.error(item, "热线需要 name 和 number") }
                continue
            }
            let digits = number.filter(\.isNumber)
            guard number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == " " || $0 == "+") }),
                digits.count >= 3
            else {
                problems.warning(numberNode, "热线「\(name)」的号码「\(number)」尚未填写或无效，会员看不到这一条")
                continue
            }
            numbers.append(
                HotlineNumber(
                    name: name, number: number, hours: fields[.hours].flatMap { problems.text($0, what: "服务时间") }))
        }
        return numbers
    }
}

/// How much a Replies folder may hold: enough for any union, small enough that no file can make
/// loading (at start, in `check`, or in a hot reload) slow or large.
public enum RuleBookLimits {
    /// The largest rule file.
    public static let fileBytes = 4 * 1024 * 1024
    /// The most rules in the whole folder.
    public static let rules = 20_000
    /// The most keywords over all rules.
    public static let keywords = 100_000
    /// The most YAML nodes in one file, counted with aliases expanded (a 4 MiB file written out
    /// in full has fewer).
    public static let nodesPerFile = 1_000_000
}

extension BookReader {
    /// Refuses a folder with more rules or keywords than ``RuleBookLimits`` allows.
    mutating func checkLimits() {
        if rules.count > RuleBookLimits.rules {
            problems.error(
                at: rules[RuleBookLimits.rules].source,
                "规则太多（共 \(rules.count) 条），最多 \(RuleBookLimits.rules) 条；从这一条起超出")
        }
        var keywords = 0
        for rule in rules {
            guard case .keywords(let words, _, _) = rule.trigger else { continue }
            keywords += words.count
            if keywords > RuleBookLimits.keywords {
                problems.error(at: rule.source, "关键词太多：全部规则最多 \(RuleBookLimits.keywords) 个关键词；从这一条起超出")
                break
            }
        }
    }
}
