import ReplyRules
import Synchronization
import WeChatWire

/// The welfare answer: cards for a menu tap (up to eight), one card with the rest listed in its
/// description for a text message (WeChat allows one card there). Members-only items are shown
/// to members; others see them named with an invitation to join.
public enum WelfareReply {
    /// The reply for `catalogue`, to a menu tap (`asEvent`) or a message, for a member or not.
    public static func reply(_ catalogue: WelfareCatalogue, asEvent: Bool, isMember: Bool) -> [ReplyBody] {
        let visible = catalogue.items.filter { isMember || !$0.membersOnly }
        let hidden = catalogue.items.filter { !isMember && $0.membersOnly }
        let invitation = "以下福利仅限工会会员：\(hidden.map(\.title).joined(separator: "、"))。回复「入会」即可申请加入工会。"
        guard !visible.isEmpty else {
            if hidden.isEmpty { return [.text("工会福利正在整理中，敬请期待。如需帮助，请拨打 12351。")] }
            return [.text(invitation)]
        }
        let cards = visible.map {
            Article(title: $0.title, description: $0.description, picURL: $0.picURL, url: $0.url)
        }
        if asEvent {
            var replies: [ReplyBody] = [.news(Array(cards.prefix(ReplyLimits.maxArticlesAnsweringEvent)))]
            if !hidden.isEmpty { replies.append(.text(invitation)) }
            return replies
        }
        var top = cards[0]
        var lines = [top.description].filter { !$0.isEmpty }
        if cards.count > 1 {
            lines.append("更多福利：" + cards.dropFirst().map(\.title).joined(separator: "、") + "（点菜单「职工福利」查看全部）")
        }
        if !hidden.isEmpty { lines.append(invitation) }
        top.description = lines.joined(separator: "\n")
        return [.news([top])]
    }

    /// The replies of the rules in force, each made the first time it is asked for: each of
    /// the four (tap or message, member or not) is the same for everyone who gets it.
    public final class Kept: Sendable {
        private let replies = Mutex<(engine: RuleEngine?, made: [Int: [ReplyBody]])>((nil, [:]))

        public init() {}

        /// The reply of `rules`' catalogue.
        public func reply(_ rules: RuleEngine, asEvent: Bool, isMember: Bool) -> [ReplyBody] {
            let form = (asEvent ? 2 : 0) + (isMember ? 1 : 0)
            if let made = replies.withLock({ $0.engine === rules ? $0.made[form] : nil }) { return made }
            let reply = WelfareReply.reply(rules.book.welfare, asEvent: asEvent, isMember: isMember)
            replies.withLock {
                if $0.engine !== rules { $0 = (rules, [:]) }
                $0.made[form] = reply
            }
            return reply
        }
    }
}
