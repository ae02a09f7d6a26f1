import ReplyRules
import WeChatAPI

/// Turns the Replies menu into WeChat's menu: 一键拨号 becomes a `view` button to the hotline
/// page when the gateway has a public address, and stays a `click` button otherwise; 会员中心
/// becomes a `view` button to the member pages where members sign in by WeChat's web
/// authorisation (a personal link needs the click).
public enum MenuPublishing {
    /// WeChat's buttons for `menu`.
    public static func buttons(_ menu: Menu, publicURL: String?, memberSignIn: MemberSignIn = .link)
        -> [APIMenuButton]
    {
        menu.buttons.map { button($0, publicURL: publicURL, memberSignIn: memberSignIn) }
    }

    static func button(_ button: MenuButton, publicURL: String?, memberSignIn: MemberSignIn) -> APIMenuButton {
        switch button.action {
        case .click(let key):
            if key == MenuKey.dialHotline, let publicURL, !publicURL.isEmpty {
                return APIMenuButton(name: button.name, type: "view", url: publicURL.trimmingSlash() + "/hotline")
            }
            if key == MenuKey.memberCenter, memberSignIn == .oauth, let publicURL, !publicURL.isEmpty {
                return APIMenuButton(name: button.name, type: "view", url: publicURL.trimmingSlash() + "/m/")
            }
            return APIMenuButton(name: button.name, type: "click", key: key)
        case .view(let url):
            return APIMenuButton(name: button.name, type: "view", url: url)
        case .miniProgram(let appId, let pagePath, let url):
            return APIMenuButton(name: button.name, type: "miniprogram", url: url, appId: appId, pagePath: pagePath)
        case .subMenu(let buttons):
            return APIMenuButton(
                name: button.name,
                subButtons: buttons.map { self.button($0, publicURL: publicURL, memberSignIn: memberSignIn) })
        }
    }

    /// Lines saying how WeChat's menu differs from the Replies menu; empty when they agree.
    public static func differences(published: [APIMenuButton], wanted: [APIMenuButton]) -> [String] {
        func lines(_ buttons: [APIMenuButton]) -> [String] {
            buttons.flatMap { button in [button.summary] + button.subButtons.map { "  " + $0.summary } }
        }
        let have = lines(published)
        let want = lines(wanted)
        guard have != want else { return [] }
        return have.filter { !want.contains($0) }.map { "- \($0)（公众号上有，Replies 里没有）" }
            + want.filter { !have.contains($0) }.map { "+ \($0)（Replies 里有，公众号上还没有）" }
            + (Set(have) == Set(want) ? ["  按钮相同，但顺序不同"] : [])
    }
}
