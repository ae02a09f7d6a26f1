import Logging
import ReplyRules
import WeChatWire

/// The built-in services that rules hand messages to.
///
/// The hotline is answered here from the Replies folder's numbers. Joining, suggestions, welfare
/// and admin-defined forms arrive with the union-services work; until then they answer with a
/// short note and the hotline, so a member is never left without a reply.
public struct UnionServiceDesk: ServiceDesk {
    private let store: UnionStore
    private let publicURL: String?
    private let logger: Logger

    /// Creates the desk.
    ///
    /// - Parameter publicURL: the gateway's public address, for the hotline page link.
    public init(store: UnionStore, publicURL: String?, logger: Logger) {
        self.store = store
        self.publicURL = publicURL
        self.logger = logger
    }

    public func intercept(_ message: InboundMessage, rules: RuleEngine, at unixTime: Int64) async throws -> [ReplyBody]? {
        nil
    }

    public func perform(_ action: ServiceAction, for message: InboundMessage, values: TemplateValues, rules: RuleEngine)
        async throws -> [ReplyBody]
    {
        switch action {
        case .hotline:
            return [.text(HotlineText.render(rules.book.hotline, publicURL: publicURL))]
        default:
            return [.text("该服务正在准备中，敬请期待。如需帮助，请拨打全国总工会职工服务热线：\n12351")]
        }
    }
}

/// The hotline reply: each number on a line of its own, so WeChat makes it tappable.
public enum HotlineText {
    /// The text listing `numbers`, with a link to the dialling page when the gateway has a public address.
    public static func render(_ numbers: [HotlineNumber], publicURL: String?) -> String {
        let shown = numbers.isEmpty ? [HotlineNumber(name: "全国总工会职工服务热线", number: "12351", hours: "全天")] : numbers
        var lines = ["☎ 一键拨号：点击下面的号码即可拨打"]
        for number in shown {
            lines.append("")
            lines.append(number.hours.map { "\(number.name)（\($0)）" } ?? number.name)
            lines.append(number.number)
        }
        if let publicURL, !publicURL.isEmpty {
            lines.append("")
            lines.append("<a href=\"\(publicURL.trimmingSlash())/hotline\">打开拨号页面</a>")
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func trimmingSlash() -> String {
        hasSuffix("/") ? String(dropLast()) : self
    }
}
