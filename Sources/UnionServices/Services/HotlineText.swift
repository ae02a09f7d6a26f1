import ReplyRules

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
    /// The address without a trailing slash.
    public func trimmingSlash() -> String {
        hasSuffix("/") ? String(dropLast()) : self
    }
}
