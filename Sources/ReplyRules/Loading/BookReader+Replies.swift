import Foundation

extension BookReader {
    // MARK: Replies

    /// `reply:` (one) or `replies:` (several, with `pick:`).
    mutating func readReplies(
        reply: YAMLNode?, replies list: YAMLNode?, pick pickNode: YAMLNode?, owner: String, at node: YAMLNode
    ) -> ([ReplyTemplate], ReplyRule.Pick)? {
        if reply != nil, list != nil {
            problems.error(node, "\(owner)不能同时有 reply 和 replies")
            return nil
        }
        var pick = ReplyRule.Pick.all
        if let pickNode, let text = problems.text(pickNode, what: "pick") {
            guard let parsed = ReplyRule.Pick(rawValue: text) else {
                problems.error(pickNode, "pick 应为 reply_all 或 random_one")
                return nil
            }
            pick = parsed
        }
        if let reply {
            return readReply(reply).map { ([$0], pick) }
        }
        guard let list else {
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

    /// What a welcome or default reply given as several may say.
    enum StandaloneReplyKey: String, YAMLKeys {
        case replies, pick
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
            guard let fields = problems.mapping(node, what: "回复", keys: StandaloneReplyKey.self),
                let (read, chosen) = readReplies(
                    reply: nil, replies: fields[.replies], pick: fields[.pick],
                    owner: name == "welcome" ? "欢迎语" : "默认回复", at: node)
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

    /// What a reply may say: its content, and a video's title and description.
    enum ReplyKey: String, YAMLKeys {
        case text, articles, image, voice, video, service, form, transfer, silence, title, description
    }

    /// A reply's content: exactly one per reply.
    enum ReplyKind: String, YAMLKeys {
        case text, articles, image, voice, video, service, form, transfer, silence
    }

    mutating func readReply(_ node: YAMLNode) -> ReplyTemplate? {
        if node.scalar != nil {
            guard let text = problems.text(node, what: "回复文字") else { return nil }
            return template(text, at: node).map { .text($0) }
        }
        guard let fields = problems.mapping(node, what: "回复", keys: ReplyKey.self),
            let (kind, value) = problems.one(
                of: ReplyKind.self, in: fields, at: node,
                missing: "回复缺少内容：请写 text、articles、image、voice、video、service、form、transfer 或 silence 之一",
                several: { "一条回复只能有一种内容，这里有 \($0)" })
        else { return nil }
        if kind != .video, fields[.title] != nil || fields[.description] != nil {
            problems.error(node, "title 和 description 只能用于 video（图文请写在 articles 里）")
        }
        switch kind {
        case .text:
            guard let text = problems.text(value, what: "回复文字") else { return nil }
            return template(text, at: value).map { .text($0) }
        case .articles:
            return readArticles(value).map { .articles($0) }
        case .image:
            return problems.text(value, what: "图片 media_id").map { .image(mediaId: $0) }
        case .voice:
            return problems.text(value, what: "语音 media_id").map { .voice(mediaId: $0) }
        case .video:
            guard let mediaId = problems.text(value, what: "视频 media_id") else { return nil }
            return .video(
                mediaId: mediaId, title: fields[.title].flatMap { problems.text($0, what: "视频标题") },
                description: fields[.description].flatMap { problems.text($0, what: "视频说明") })
        case .service:
            guard let name = problems.text(value, what: "服务名称") else { return nil }
            if name.hasPrefix("form:") {
                let form = String(name.dropFirst(5)).trimmingCharacters(in: .whitespaces)
                guard !form.isEmpty else {
                    problems.error(value, "form: 后面要写表单名称")
                    return nil
                }
                return .service(.form(form))
            }
            if name.hasPrefix("workflow:") {
                let workflow = String(name.dropFirst(9)).trimmingCharacters(in: .whitespaces)
                guard !workflow.isEmpty else {
                    problems.error(value, "workflow: 后面要写申请事项名称")
                    return nil
                }
                return .service(.workflow(workflow))
            }
            guard let action = ServiceAction.namedActions[name] else {
                let known = ServiceAction.namedActions.keys.sorted().joined(separator: "、")
                problems.error(value, "未知的服务「\(name)」（可用：\(known)，或 form: 表单名称、workflow: 申请事项名称）")
                return nil
            }
            return .service(action)
        case .form:
            return problems.text(value, what: "表单名称").map { .service(.form($0)) }
        case .transfer:
            return problems.bool(value, what: "transfer") == true ? .transferToCustomerService : nil
        case .silence:
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

    /// What an article card may say.
    enum ArticleKey: String, YAMLKeys {
        case title, description, picture, url
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
                    item, what: "图文", keys: ArticleKey.self)
            else { continue }
            guard let titleNode = fields[.title] else {
                problems.error(item, "图文缺少标题（title）")
                continue
            }
            guard let title = problems.text(titleNode, what: "图文标题").flatMap({ template($0, at: titleNode) }) else {
                continue
            }
            let description =
                fields[.description].flatMap { node in
                    problems.text(node, what: "图文说明").flatMap { template($0, at: node) }
                }
                ?? TextTemplate(literal: "")
            let picture = fields[.picture].flatMap { problems.text($0, what: "图片网址") } ?? ""
            let url = fields[.url].flatMap { problems.text($0, what: "链接网址") } ?? ""
            for (value, field) in [(picture, ArticleKey.picture), (url, .url)]
            where !value.isEmpty && !Self.isWebAddress(value) {
                problems.error(fields[field]!, "\(field.rawValue) 应以 http:// 或 https:// 开头")
            }
            articles.append(ArticleTemplate(title: title, description: description, picURL: picture, url: url))
        }
        return articles.count == items.count ? articles : nil
    }

    static func isWebAddress(_ text: String) -> Bool {
        text.hasPrefix("https://") || text.hasPrefix("http://")
    }
}
