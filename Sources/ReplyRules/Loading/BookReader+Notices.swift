import Foundation

extension BookReader {
    // MARK: Notices (notices:)

    mutating func readNotices(_ node: YAMLNode) {
        if let existing = noticesSource {
            problems.error(node, "通知设置（notices）已在 \(existing) 定义过")
            return
        }
        noticesSource = node.location
        if node.isNull { return }  // `notices:` with nothing under it: customer-service messages only
        guard let entries = problems.mapping(node, what: "通知设置（notices）", keys: NoticeKind.self) else { return }
        for (kind, value) in entries.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            if let route = readNoticeRoute(value, kind: kind) { notices.routes[kind] = route }
        }
    }

    /// What a notice kind's channels may say.
    enum NoticeRouteKey: String, YAMLKeys {
        case subscription, template
    }

    private mutating func readNoticeRoute(_ node: YAMLNode, kind: NoticeKind) -> NoticeRoute? {
        guard
            let fields = problems.mapping(
                node, what: "「\(kind.chinese)」（\(kind.rawValue)）", keys: NoticeRouteKey.self)
        else { return nil }
        var route = NoticeRoute()
        if let subscription = fields[.subscription] {
            route.subscription = readNoticeTemplate(subscription, kind: kind, link: .page, what: "订阅通知")
        }
        if let template = fields[.template] {
            route.template = readNoticeTemplate(template, kind: kind, link: .url, what: "模板消息")
        }
        if fields.isEmpty {
            problems.error(node, "「\(kind.chinese)」要写 subscription（订阅通知）或 template（模板消息），或整项删去")
            return nil
        }
        return route
    }

    /// What a notice's template may say: its link is `page` (a subscription notice) or `url`
    /// (a template message), not both.
    enum NoticeTemplateKey: String, YAMLKeys {
        case templateId = "template_id", page, url, data
    }

    private mutating func readNoticeTemplate(
        _ node: YAMLNode, kind: NoticeKind, link: NoticeTemplateKey, what: String
    ) -> NoticeTemplate? {
        guard
            let fields = problems.mapping(
                node, what: "\(what)（\(kind.rawValue)）", keys: NoticeTemplateKey.self,
                only: [.templateId, link, .data])
        else { return nil }
        var valid = true
        var templateId = ""
        if let idNode = fields[.templateId], let text = problems.text(idNode, what: "模板 ID（template_id）") {
            let allowed = text.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-")
            }
            if allowed, (1...128).contains(text.utf8.count) {
                templateId = text
            } else {
                problems.error(idNode, "模板 ID「\(text)」应是公众平台上复制来的 ID（字母、数字、- 和 _，最多 128 个）")
                valid = false
            }
        } else if fields[.templateId] == nil {
            problems.error(node, "\(what)缺少模板 ID（template_id），请从公众平台「\(what)」里复制")
            valid = false
        } else {
            valid = false
        }
        var linkValue: String?
        if let linkNode = fields[link], let text = problems.text(linkNode, what: link.rawValue) {
            if (text.hasPrefix("https://") || text.hasPrefix("http://")) && text.utf8.count <= 1024 {
                linkValue = text
            } else {
                problems.error(linkNode, "\(link.rawValue) 应是 http:// 或 https:// 开头的网址（最多 1024 字节）")
                valid = false
            }
        }
        var templateFields: [NoticeTemplate.Field] = []
        if let dataNode = fields[.data] {
            if let entries = dataNode.entries {
                for (key, keyLine, valueNode) in entries {
                    if let field = readNoticeField(key: key, line: keyLine, valueNode, kind: kind) {
                        templateFields.append(field)
                    } else {
                        valid = false
                    }
                }
                if entries.isEmpty {
                    problems.error(dataNode, "data 要列出模板的字段，如 thing1: \"{number}\"")
                    valid = false
                }
            } else {
                problems.error(dataNode, "data 应为键值表（字段: 内容），这里是\(dataNode.kindName)")
                valid = false
            }
        } else {
            problems.error(node, "\(what)缺少 data（模板的字段和内容）")
            valid = false
        }
        return valid ? NoticeTemplate(templateId: templateId, link: linkValue, fields: templateFields) : nil
    }

    /// One field: a WeChat key and a value that fits WeChat's rules once filled in.
    private mutating func readNoticeField(key: String, line: Int, _ node: YAMLNode, kind: NoticeKind)
        -> NoticeTemplate.Field?
    {
        let keyIsValid =
            key.first.map { $0.isASCII && $0.isLetter } == true
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } && key.count <= 64
        guard keyIsValid else {
            problems.error(
                at: SourceLocation(path: node.path, line: line), "字段名「\(key)」应是模板里的字段名，如 thing1、character_string2、time3"
            )
            return nil
        }
        guard let value = problems.text(node, what: "字段 \(key) 的内容") else { return nil }
        var valid = true
        if value.contains(where: \.isNewline) {
            problems.error(node, "字段 \(key) 的内容不能换行（微信模板规则：字段内容不能有换行）")
            valid = false
        }
        let names = NoticeFieldText.placeholders(in: value)
        for name in names where !kind.has(field: name) {
            let known = kind.fields.map { "{\($0.key)}（\($0.value)）" }.joined(separator: "、")
            problems.error(node, "字段 \(key) 里的 {\(name)} 不是「\(kind.chinese)」的内容，可用：\(known)")
            valid = false
        }
        // The written part alone must fit; what a placeholder brings is cut to fit when sent.
        let written = NoticeFieldText.fill(value, with: [:])
        let limit = NoticeFieldText.limit(forKey: key)
        if written.count > limit {
            problems.error(
                node, "字段 \(key) 的内容有 \(written.count) 个字，超过微信模板的上限 \(limit) 个字（2023 年 5 月起的规则），请缩短")
            valid = false
        }
        // What a placeholder brings is not refused: it is shortened to fit when sent (「…」).
        return valid ? NoticeTemplate.Field(key: key, value: value) : nil
    }
}

/// The notice kinds are the keys of `notices:`.
extension NoticeKind: YAMLKeys {}
