import Foundation
import Yams

/// Reads a Replies folder: every `.yaml` and `.yml` file in it and its subfolders, in path order.
///
/// Each file holds any of the sections `settings`, `rules`, `welcome`, `default`, `menu`,
/// `hotline` and `examples`; sections from several files are merged. All problems are collected,
/// each with its file and line, before anything is refused.
public struct RuleBookLoader: Sendable {
    /// The top-level sections a file may have.
    public static let sections: Set<String> = [
        "settings", "rules", "welcome", "default", "menu", "hotline", "examples", "join", "welfare", "forms",
    ]

    public init() {}

    /// Loads the folder at `directory`.
    ///
    /// - Returns: the rule book; its ``RuleBook/warnings`` lists problems that do not stop it.
    /// - Throws: ``RuleProblems`` when any file has an error.
    public func load(directory: String) throws -> RuleBook {
        var files: [(path: String, text: String)] = []
        var problems = ProblemCollector()
        for path in try RepliesFolder.ruleFiles(in: directory) {
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
        return result
    }
}

/// The files of a Replies folder and a cheap fingerprint of them, for hot reload.
public enum RepliesFolder {
    /// The rule files under `directory`, sorted by path.
    ///
    /// - Throws: ``RuleProblems`` when the folder does not exist.
    public static func ruleFiles(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuleProblems([RuleProblem(path: directory, line: 1, message: "找不到回复规则文件夹")])
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let enumerator = FileManager.default.enumerator(atPath: base)
        var paths: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard !name.hasPrefix("."), relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let path = base + "/" + relative
            paths.append(path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
        }
        return paths.sorted()
    }

    /// A value that changes whenever a rule file is added, removed or saved.
    public static func fingerprint(of directory: String) -> [String] {
        guard let files = try? ruleFiles(in: directory) else { return ["missing"] }
        return files.map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            return "\(path)|\(modified)|\(size)"
        }
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

    init(problems: ProblemCollector) {
        self.problems = problems
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
        let document = YAMLNode(node: root, path: path)
        guard let sections = problems.mapping(document, what: "文件", allowed: RuleBookLoader.sections) else { return }
        if let node = sections["settings"] { readSettings(node) }
        if let node = sections["rules"] {
            for item in problems.list(node) {
                if let rule = readRule(item) { rules.append(rule) }
            }
        }
        if let node = sections["welcome"] {
            if let existing = welcome {
                problems.error(node, "欢迎语已在 \(existing.source) 定义过")
            } else {
                welcome = readStandaloneReply(node, name: "welcome", trigger: .subscribe(scene: nil))
            }
        }
        if let node = sections["default"] {
            if let existing = fallback {
                problems.error(node, "默认回复已在 \(existing.source) 定义过")
            } else {
                fallback = readStandaloneReply(node, name: "default", trigger: .keywords([], .exact, .none))
            }
        }
        if let node = sections["menu"] {
            if let existing = menu {
                problems.error(node, "菜单已在 \(existing.source) 定义过")
            } else {
                menu = readMenu(node)
            }
        }
        if let node = sections["hotline"] { readHotline(node) }
        if let node = sections["join"] { readJoin(node) }
        if let node = sections["welfare"] { readWelfare(node) }
        if let node = sections["forms"] { readForms(node) }
        if let node = sections["examples"] {
            for item in problems.list(node) {
                if let example = readExample(item) { examples.append(example) }
            }
        }
    }

    mutating func finish() -> RuleBook {
        checkFormReferences()
        checkMenuKeys()
        warnAboutShadowedKeywords()
        return RuleBook(
            rules: rules, welcome: welcome, fallback: fallback, menu: menu, hotline: hotline, settings: settings,
            examples: examples, join: join, welfare: welfare, forms: forms)
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

    mutating func readSettings(_ node: YAMLNode) {
        if let existing = settingsSource {
            problems.error(node, "设置已在 \(existing) 定义过")
            return
        }
        settingsSource = node.location
        guard
            let fields = problems.mapping(
                node, what: "设置", allowed: ["union_name", "utc_offset", "conversation_timeout_minutes"])
        else { return }
        if let timeout = fields["conversation_timeout_minutes"],
            let minutes = problems.integer(timeout, what: "对话超时分钟数")
        {
            if minutes >= 1 && minutes <= 1440 {
                settings.conversationTimeoutMinutes = minutes
            } else {
                problems.error(timeout, "对话超时应在 1 到 1440 分钟之间")
            }
        }
        if let name = fields["union_name"], let text = problems.text(name, what: "工会名称") {
            settings.unionName = text
        }
        if let offset = fields["utc_offset"], let text = problems.text(offset, what: "时区") {
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

    // MARK: Rules

    static let ruleKeys: Set<String> = [
        "name", "priority", "keywords", "match", "subscribe", "scan", "click", "view", "when", "reply", "replies",
        "pick",
    ]
    static let triggerKeys = ["keywords", "subscribe", "scan", "click", "view"]
    /// Values that mean "any scene" or "any address".
    static let anyValues: Set<String> = ["true", "yes", "是", "any", "*"]

    mutating func readRule(_ node: YAMLNode) -> ReplyRule? {
        guard let fields = problems.mapping(node, what: "规则", allowed: Self.ruleKeys) else { return nil }
        let name = fields["name"].flatMap { problems.text($0, what: "规则名称") } ?? "\(node.path):\(node.line)"
        let priority = fields["priority"].flatMap { problems.integer($0, what: "优先级（priority）") } ?? 0
        let triggers = Self.triggerKeys.filter { fields[$0] != nil }
        guard triggers.count == 1 else {
            problems.error(
                node,
                triggers.isEmpty
                    ? "规则「\(name)」缺少触发条件：请写 keywords、subscribe、scan、click 或 view 之一"
                    : "规则「\(name)」只能有一种触发条件，这里有 \(triggers.joined(separator: "、"))")
            return nil
        }
        if fields["match"] != nil, triggers[0] != "keywords" {
            problems.error(fields["match"]!, "match 只能和 keywords 一起使用")
        }
        guard let trigger = readTrigger(triggers[0], fields[triggers[0]]!, match: fields["match"]) else { return nil }
        let conditions = fields["when"].flatMap { readConditions($0) } ?? Conditions()
        guard let (replies, pick) = readReplies(fields, owner: "规则「\(name)」", at: node) else { return nil }
        if case .keywords(_, .regex, _) = trigger {
        } else {
            for reply in replies { checkNoCaptures(reply, at: node, owner: name) }
        }
        return ReplyRule(
            name: name, source: node.location, priority: priority, trigger: trigger, conditions: conditions,
            replies: replies,
            pick: pick)
    }

    mutating func readTrigger(_ kind: String, _ node: YAMLNode, match: YAMLNode?) -> Trigger? {
        switch kind {
        case "keywords":
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
                    do {
                        regexes.append(try Regex(keyword))
                    } catch {
                        problems.error(node, "正则表达式「\(keyword)」无效：\(error)")
                    }
                }
                if regexes.count != keywords.count { return nil }
            }
            return .keywords(keywords, mode, CompiledRegexes(regexes))
        case "subscribe", "scan":
            let scene: String?
            if let text = node.text, Self.anyValues.contains(text.lowercased()) {
                scene = nil
            } else {
                guard let text = problems.text(node, what: "二维码场景值") else { return nil }
                scene = text
            }
            return kind == "subscribe" ? .subscribe(scene: scene) : .scan(scene: scene)
        case "click":
            guard let key = problems.text(node, what: "菜单 key") else { return nil }
            return .click(key: key)
        default:  // view
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

    // MARK: Conditions

    static let dayNames: [String: Int] = [
        "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
        "周一": 1, "周二": 2, "周三": 3, "周四": 4, "周五": 5, "周六": 6, "周日": 7, "周天": 7,
        "星期一": 1, "星期二": 2, "星期三": 3, "星期四": 4, "星期五": 5, "星期六": 6, "星期日": 7, "星期天": 7,
    ]

    static func day(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let number = Int(trimmed), (1...7).contains(number) { return number }
        return dayNames[trimmed] ?? dayNames[String(trimmed.prefix(3))]
    }

    mutating func readConditions(_ node: YAMLNode) -> Conditions? {
        guard let fields = problems.mapping(node, what: "条件（when）", allowed: ["days", "hours", "members"]) else {
            return nil
        }
        var conditions = Conditions()
        if let daysNode = fields["days"] {
            var days = Set<Int>()
            for item in problems.list(daysNode) {
                guard let text = problems.text(item, what: "星期") else { continue }
                let range = text.replacingOccurrences(of: "至", with: "-").replacingOccurrences(of: "~", with: "-")
                    .split(separator: "-").map(String.init)
                if range.count == 2, let first = Self.day(range[0]), let last = Self.day(range[1]), first <= last {
                    days.formUnion(first...last)
                } else if range.count == 1, let day = Self.day(range[0]) {
                    days.insert(day)
                } else {
                    problems.error(item, "无法识别的星期「\(text)」（可写 周一、mon、1，或 周一至周五）")
                }
            }
            conditions.days = days
        }
        if let hoursNode = fields["hours"] {
            var windows: [Range<Int>] = []
            for item in problems.list(hoursNode) {
                guard let text = problems.text(item, what: "时间段") else { continue }
                guard let window = Self.window(text) else {
                    problems.error(item, "时间段「\(text)」应写成 09:00-17:30 的形式")
                    continue
                }
                windows.append(contentsOf: window)
            }
            conditions.hours = windows
        }
        if let members = fields["members"] {
            conditions.members = problems.bool(members, what: "members")
        }
        return conditions
    }

    /// "09:00-17:30" as minute ranges; a window past midnight ("22:00-06:00") is split in two.
    static func window(_ text: String) -> [Range<Int>]? {
        let normalized = text.replacingOccurrences(of: "：", with: ":").replacingOccurrences(of: "—", with: "-")
            .replacingOccurrences(of: "–", with: "-").replacingOccurrences(of: "至", with: "-")
        let parts = normalized.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else {
            return nil
        }
        return start < end ? [start..<end] : [start..<1440, 0..<end]
    }

    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...24).contains(hour),
            (0..<60).contains(minute), hour * 60 + minute <= 1440
        else { return nil }
        return hour * 60 + minute
    }

    // MARK: Replies

    /// `reply:` (one) or `replies:` (several, with `pick:`).
    mutating func readReplies(_ fields: [String: YAMLNode], owner: String, at node: YAMLNode) -> (
        [ReplyTemplate], ReplyRule.Pick
    )? {
        if fields["reply"] != nil, fields["replies"] != nil {
            problems.error(node, "\(owner)不能同时有 reply 和 replies")
            return nil
        }
        var pick = ReplyRule.Pick.all
        if let pickNode = fields["pick"], let text = problems.text(pickNode, what: "pick") {
            guard let parsed = ReplyRule.Pick(rawValue: text) else {
                problems.error(pickNode, "pick 应为 reply_all 或 random_one")
                return nil
            }
            pick = parsed
        }
        if let single = fields["reply"] {
            return readReply(single).map { ([$0], pick) }
        }
        guard let list = fields["replies"] else {
            problems.error(node, "\(owner)缺少回复：请写 reply 或 replies")
            return nil
        }
        let items = problems.list(list)
        let replies = items.compactMap { readReply($0) }
        guard replies.count == items.count else { return nil }
        guard !replies.isEmpty else {
            problems.error(list, "\(owner)的回复列表不能为空")
            return nil
        }
        return (replies, pick)
    }

    /// The welcome or default reply: a reply, a list of replies, or `{replies:, pick:}`.
    mutating func readStandaloneReply(_ node: YAMLNode, name: String, trigger: Trigger) -> ReplyRule? {
        let replies: [ReplyTemplate]
        var pick = ReplyRule.Pick.all
        if let items = node.items {
            let read = items.compactMap { readReply($0) }
            guard read.count == items.count, !read.isEmpty else {
                if items.isEmpty { problems.error(node, "回复列表不能为空") }
                return nil
            }
            replies = read
        } else if let entries = node.entries, entries.contains(where: { $0.key == "replies" || $0.key == "pick" }) {
            guard let fields = problems.mapping(node, what: "回复", allowed: ["replies", "pick"]),
                let (read, chosen) = readReplies(fields, owner: name == "welcome" ? "欢迎语" : "默认回复", at: node)
            else { return nil }
            replies = read
            pick = chosen
        } else {
            guard let reply = readReply(node) else { return nil }
            replies = [reply]
        }
        for reply in replies { checkNoCaptures(reply, at: node, owner: name) }
        return ReplyRule(name: name, source: node.location, trigger: trigger, replies: replies, pick: pick)
    }

    static let replyKeys: Set<String> = [
        "text", "articles", "image", "voice", "video", "title", "description", "service", "form", "transfer", "silence",
    ]

    mutating func readReply(_ node: YAMLNode) -> ReplyTemplate? {
        if node.scalar != nil {
            guard let text = problems.text(node, what: "回复文字") else { return nil }
            return template(text, at: node).map { .text($0) }
        }
        guard let fields = problems.mapping(node, what: "回复", allowed: Self.replyKeys) else { return nil }
        let kinds = ["text", "articles", "image", "voice", "video", "service", "form", "transfer", "silence"].filter {
            fields[$0] != nil
        }
        guard kinds.count == 1 else {
            problems.error(
                node,
                kinds.isEmpty
                    ? "回复缺少内容：请写 text、articles、image、voice、video、service、form、transfer 或 silence 之一"
                    : "一条回复只能有一种内容，这里有 \(kinds.joined(separator: "、"))")
            return nil
        }
        let value = fields[kinds[0]]!
        if kinds[0] != "video", fields["title"] != nil || fields["description"] != nil {
            problems.error(node, "title 和 description 只能用于 video（图文请写在 articles 里）")
        }
        switch kinds[0] {
        case "text":
            guard let text = problems.text(value, what: "回复文字") else { return nil }
            return template(text, at: value).map { .text($0) }
        case "articles":
            return readArticles(value).map { .articles($0) }
        case "image":
            return problems.text(value, what: "图片 media_id").map { .image(mediaId: $0) }
        case "voice":
            return problems.text(value, what: "语音 media_id").map { .voice(mediaId: $0) }
        case "video":
            guard let mediaId = problems.text(value, what: "视频 media_id") else { return nil }
            return .video(
                mediaId: mediaId, title: fields["title"].flatMap { problems.text($0, what: "视频标题") },
                description: fields["description"].flatMap { problems.text($0, what: "视频说明") })
        case "service":
            guard let name = problems.text(value, what: "服务名称") else { return nil }
            if name.hasPrefix("form:") {
                let form = String(name.dropFirst(5)).trimmingCharacters(in: .whitespaces)
                guard !form.isEmpty else {
                    problems.error(value, "form: 后面要写表单名称")
                    return nil
                }
                return .service(.form(form))
            }
            guard let action = ServiceAction.namedActions[name] else {
                let known = ServiceAction.namedActions.keys.sorted().joined(separator: "、")
                problems.error(value, "未知的服务「\(name)」（可用：\(known)，或 form: 表单名称）")
                return nil
            }
            return .service(action)
        case "form":
            return problems.text(value, what: "表单名称").map { .service(.form($0)) }
        case "transfer":
            return problems.bool(value, what: "transfer") == true ? .transferToCustomerService : nil
        default:  // silence
            return problems.bool(value, what: "silence") == true ? .silence : nil
        }
    }

    mutating func template(_ text: String, at node: YAMLNode) -> TextTemplate? {
        // A block scalar (`|`) ends with a newline the staff did not mean to send.
        var text = text
        while let last = text.last, last.isNewline { text.removeLast() }
        switch TextTemplate.parse(text) {
        case .success(let template): return template
        case .failure(let error):
            problems.error(node, error.message)
            return nil
        }
    }

    mutating func readArticles(_ node: YAMLNode) -> [ArticleTemplate]? {
        let items = problems.list(node)
        guard !items.isEmpty else {
            problems.error(node, "图文列表不能为空")
            return nil
        }
        if items.count > 8 {
            problems.error(node, "图文最多 8 条，这里有 \(items.count) 条")
        }
        var articles: [ArticleTemplate] = []
        for item in items {
            guard
                let fields = problems.mapping(
                    item, what: "图文", allowed: ["title", "description", "picture", "url"])
            else { continue }
            guard let titleNode = fields["title"] else {
                problems.error(item, "图文缺少标题（title）")
                continue
            }
            guard let title = problems.text(titleNode, what: "图文标题").flatMap({ template($0, at: titleNode) }) else {
                continue
            }
            let description =
                fields["description"].flatMap { node in
                    problems.text(node, what: "图文说明").flatMap { template($0, at: node) }
                }
                ?? TextTemplate(literal: "")
            let picture = fields["picture"].flatMap { problems.text($0, what: "图片网址") } ?? ""
            let url = fields["url"].flatMap { problems.text($0, what: "链接网址") } ?? ""
            for (value, field) in [(picture, "picture"), (url, "url")] where !value.isEmpty && !Self.isWebAddress(value)
            {
                problems.error(fields[field]!, "\(field) 应以 http:// 或 https:// 开头")
            }
            articles.append(ArticleTemplate(title: title, description: description, picURL: picture, url: url))
        }
        return articles.count == items.count ? articles : nil
    }

    static func isWebAddress(_ text: String) -> Bool {
        text.hasPrefix("https://") || text.hasPrefix("http://")
    }

    // MARK: Menu

    mutating func readMenu(_ node: YAMLNode) -> Menu? {
        let items = problems.list(node)
        if !MenuLimits.topLevel.contains(items.count) {
            problems.error(node, "菜单应有 1 到 3 个一级按钮，这里有 \(items.count) 个")
        }
        let buttons = items.compactMap { readButton($0, topLevel: true) }
        return buttons.count == items.count ? Menu(buttons: buttons, source: node.location) : nil
    }

    mutating func readButton(_ node: YAMLNode, topLevel: Bool) -> MenuButton? {
        guard
            let fields = problems.mapping(
                node, what: "菜单按钮", allowed: ["name", "click", "view", "miniprogram", "buttons"])
        else { return nil }
        guard let nameNode = fields["name"], let name = problems.text(nameNode, what: "按钮名称") else {
            if fields["name"] == nil { problems.error(node, "菜单按钮缺少名称（name）") }
            return nil
        }
        let limit = topLevel ? MenuLimits.topLevelNameBytes : MenuLimits.subButtonNameBytes
        if name.utf8.count > limit {
            problems.error(
                nameNode,
                "按钮名称「\(name)」太长：\(topLevel ? "一级" : "二级")按钮最多 \(limit) 字节（约 \(limit / 3) 个汉字），这里是 \(name.utf8.count) 字节"
            )
        }
        let kinds = ["click", "view", "miniprogram", "buttons"].filter { fields[$0] != nil }
        guard kinds.count == 1 else {
            problems.error(
                node, kinds.isEmpty ? "按钮「\(name)」缺少动作：click、view、miniprogram 或 buttons" : "按钮「\(name)」只能有一种动作")
            return nil
        }
        let value = fields[kinds[0]]!
        switch kinds[0] {
        case "click":
            guard let key = problems.text(value, what: "菜单 key") else { return nil }
            if key.utf8.count > MenuLimits.keyBytes {
                problems.error(value, "菜单 key 最多 \(MenuLimits.keyBytes) 字节")
            }
            return MenuButton(name: name, action: .click(key: key), source: node.location)
        case "view":
            guard let url = problems.text(value, what: "网址") else { return nil }
            checkURL(url, at: value)
            return MenuButton(name: name, action: .view(url: url), source: node.location)
        case "miniprogram":
            guard let program = problems.mapping(value, what: "小程序", allowed: ["appid", "pagepath", "url"]),
                let appId = program["appid"].flatMap({ problems.text($0, what: "小程序 appid") }),
                let pagePath = program["pagepath"].flatMap({ problems.text($0, what: "小程序页面") }),
                let url = program["url"].flatMap({ problems.text($0, what: "备用网址") })
            else {
                problems.error(value, "小程序按钮需要 appid、pagepath 和 url")
                return nil
            }
            checkURL(url, at: value)
            return MenuButton(
                name: name, action: .miniProgram(appId: appId, pagePath: pagePath, url: url), source: node.location)
        default:
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

    // MARK: Hotline

    mutating func readHotline(_ node: YAMLNode) {
        for item in problems.list(node) {
            guard let fields = problems.mapping(item, what: "热线", allowed: ["name", "number", "hours"]),
                let nameNode = fields["name"], let name = problems.text(nameNode, what: "热线名称"),
                let numberNode = fields["number"], let number = problems.text(numberNode, what: "号码")
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
            hotline.append(
                HotlineNumber(
                    name: name, number: number, hours: fields["hours"].flatMap { problems.text($0, what: "服务时间") }))
        }
    }

    // MARK: Examples

    static let inputKeys = ["send", "click", "view", "subscribe", "scan", "image"]

    mutating func readExample(_ node: YAMLNode) -> ConversationExample? {
        let allowed = Set(Self.inputKeys + ["name", "member", "steps", "expect", "expect_not", "silent"])
        guard let fields = problems.mapping(node, what: "示例", allowed: allowed) else { return nil }
        let name = fields["name"].flatMap { problems.text($0, what: "示例名称") } ?? "\(node.path):\(node.line)"
        let asMember = fields["member"].flatMap { problems.bool($0, what: "member") } ?? false
        if let stepsNode = fields["steps"] {
            if Self.inputKeys.contains(where: { fields[$0] != nil }) {
                problems.error(node, "示例「\(name)」有 steps 时，发送内容要写在每一步里")
                return nil
            }
            let items = problems.list(stepsNode)
            let steps = items.compactMap { item -> ConversationExample.Step? in
                guard
                    let stepFields = problems.mapping(
                        item, what: "示例步骤", allowed: Set(Self.inputKeys + ["expect", "expect_not", "silent"]))
                else { return nil }
                return readStep(stepFields, at: item)
            }
            guard steps.count == items.count, !steps.isEmpty else { return nil }
            return ConversationExample(name: name, source: node.location, asMember: asMember, steps: steps)
        }
        guard let step = readStep(fields, at: node) else { return nil }
        return ConversationExample(name: name, source: node.location, asMember: asMember, steps: [step])
    }

    mutating func readStep(_ fields: [String: YAMLNode], at node: YAMLNode) -> ConversationExample.Step? {
        let inputs = Self.inputKeys.filter { fields[$0] != nil }
        guard inputs.count == 1 else {
            problems.error(node, inputs.isEmpty ? "示例缺少会员的操作：send、click、view、subscribe、scan 或 image" : "一步只能有一个操作")
            return nil
        }
        let value = fields[inputs[0]]!
        let input: ConversationExample.Input
        switch inputs[0] {
        case "send":
            guard let text = problems.text(value, what: "发送内容") else { return nil }
            input = .text(text)
        case "click":
            guard let key = problems.text(value, what: "菜单 key") else { return nil }
            input = .click(key)
        case "view":
            guard let url = problems.text(value, what: "网址") else { return nil }
            input = .view(url)
        case "subscribe":
            let text = value.text
            input = .subscribe(scene: text == nil || ["true", "yes", "是"].contains(text!.lowercased()) ? nil : text)
        case "scan":
            guard let scene = problems.text(value, what: "场景值") else { return nil }
            input = .scan(scene)
        default:
            input = .image
        }
        let expect = fields["expect"].map { problems.texts($0, what: "期望内容") } ?? []
        let expectNot = fields["expect_not"].map { problems.texts($0, what: "不应出现的内容") } ?? []
        let silent = fields["silent"].flatMap { problems.bool($0, what: "silent") } ?? false
        if expect.isEmpty, expectNot.isEmpty, !silent {
            problems.error(node, "示例要写 expect（回复应包含的文字）、expect_not 或 silent: true")
            return nil
        }
        return ConversationExample.Step(
            input: input, expect: expect, expectNot: expectNot, expectSilence: silent, source: node.location)
    }
}
