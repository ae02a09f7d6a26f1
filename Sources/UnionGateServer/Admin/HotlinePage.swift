import ReplyRules

/// The 一键拨号 page at `GET /hotline`: one large `tel:` button per number, readable on a small
/// phone, with no external assets (WeChat's in-app browser then offers the call).
enum HotlinePage {
    static func html(_ numbers: [HotlineNumber], unionName: String) -> String {
        let shown = numbers.isEmpty ? [HotlineNumber(name: "全国总工会职工服务热线", number: "12351", hours: "全天")] : numbers
        let buttons = shown.map { (number: HotlineNumber) -> String in
            let dial = number.number.filter { $0.isNumber || $0 == "+" }
            let hours = number.hours.map { "<span class=\"hours\">\(escape($0))</span>" } ?? ""
            return """
                <a class="call" href="tel:\(escape(dial))"><span class="name">\(escape(number.name))</span>\
                <span class="number">\(escape(number.number))</span>\(hours)</a>
                """
        }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>一键拨号 · \(escape(unionName))</title>
            <style>
            body { margin: 0; padding: 16px; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; background: #f4f5f7; color: #222; }
            h1 { font-size: 22px; margin: 8px 0 16px; }
            p { font-size: 15px; color: #555; }
            .call { display: block; background: #c8102e; color: #fff; text-decoration: none; border-radius: 12px; padding: 18px 20px; margin: 0 0 14px; min-height: 48px; }
            .call:active { background: #a00d25; }
            .name { display: block; font-size: 17px; }
            .number { display: block; font-size: 30px; font-weight: bold; letter-spacing: 1px; margin-top: 4px; }
            .hours { display: block; font-size: 14px; opacity: .85; margin-top: 4px; }
            </style>
            </head>
            <body>
            <h1>☎ 一键拨号</h1>
            <p>点下面的按钮即可拨打。</p>
            \(buttons)
            <p>\(escape(unionName))</p>
            </body>
            </html>
            """
    }

    /// `text` for HTML text and attribute values. Works on Unicode scalars: a combining mark
    /// after `<` or `&` makes one character of them, which must not slip past.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
