import Foundation
import ReplyRules

/// The printable poster of a unit's join code: one A4 page with the union's name, the unit's
/// name, the code (inline, so the page needs nothing else) and how to use it.
enum QRPosterPage {
    static func html(unionName: String, unit: Organisation.Unit, image: Data) -> String {
        let type =
            image.starts(with: [0x89, 0x50, 0x4E, 0x47])
            ? "image/png" : image.starts(with: [0x42, 0x4D]) ? "image/bmp" : "image/jpeg"
        let source = "data:\(type);base64,\(image.base64EncodedString())"
        let union = HotlinePage.escape(unionName)
        let name = HotlinePage.escape(unit.name)
        return """
            <!doctype html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>扫码入会 · \(name)</title>
            <style>
            @page { size: A4; margin: 18mm; }
            html, body { margin: 0; padding: 0; }
            body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", \
            "Microsoft YaHei", sans-serif; color: #222; text-align: center; }
            .poster { max-width: 170mm; margin: 0 auto; padding: 10mm 4vw 0; box-sizing: border-box; }
            .union { font-size: 20pt; color: #b71c1c; margin: 0 0 6mm; letter-spacing: 2pt; }
            h1 { font-size: 30pt; margin: 0 0 4mm; }
            .unit { font-size: 18pt; margin: 0 0 10mm; }
            img { width: min(95mm, 86vw); height: auto; aspect-ratio: 1; image-rendering: pixelated; border: 1px solid #ddd; }
            ol { text-align: left; display: inline-block; font-size: 15pt; line-height: 1.9; margin: 10mm 0 0; \
            padding-left: 8mm; }
            .foot { margin-top: 10mm; font-size: 11pt; color: #666; }
            </style>
            </head>
            <body>
            <div class="poster">
            <p class="union">\(union)</p>
            <h1>扫码入会</h1>
            <p class="unit">\(name)</p>
            <img src="\(source)" alt="\(name)入会二维码">
            <ol>
            <li>打开微信，点右上角「+」，选「扫一扫」，扫描上方二维码。</li>
            <li>关注公众号后，按提示回复姓名和手机号，单位已自动填好。</li>
            <li>工会审核通过后会发消息通知您，回复「入会进度」可随时查看。</li>
            </ol>
            <p class="foot">职工服务热线 12351</p>
            </div>
            </body>
            </html>
            """
    }
}
