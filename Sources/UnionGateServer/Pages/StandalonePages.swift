import Foundation
import HTTPTypes
import Hummingbird
import ReplyRules

/// The 一键拨号 page at `GET /hotline` (`hotline.mustache`): one large `tel:` button per number,
/// readable on a small phone, with no external assets (WeChat's in-app browser then offers the
/// call).
struct HotlinePage: Encodable {
    struct Number: Encodable {
        let name: String
        let number: String
        /// What the `tel:` link dials: the digits and `+` of the number.
        let dial: String
        let hours: String?
    }
    let union: String
    let numbers: [Number]

    init(_ numbers: [HotlineNumber], unionName: String) {
        let shown = numbers.isEmpty ? [HotlineNumber(name: "全国总工会职工服务热线", number: "12351", hours: "全天")] : numbers
        union = unionName
        self.numbers = shown.map {
            Number(
                name: $0.name, number: $0.number, dial: $0.number.filter { $0.isNumber || $0 == "+" }, hours: $0.hours)
        }
    }
}

/// The printable poster of a unit's join code (`qr-poster.mustache`): one A4 page with the
/// union's name, the unit's name, the code (inline, so the page needs nothing else) and how to
/// use it.
struct QRPosterPage: Encodable {
    let union: String
    let unit: String
    /// The code as a `data:` URL.
    let image: String

    init(unionName: String, unit: Organisation.Unit, image: Data) {
        let type =
            image.starts(with: [0x89, 0x50, 0x4E, 0x47])
            ? "image/png" : image.starts(with: [0x42, 0x4D]) ? "image/bmp" : "image/jpeg"
        union = unionName
        self.unit = unit.name
        self.image = "data:\(type);base64,\(image.base64EncodedString())"
    }
}

extension PageLibrary {
    /// An HTML response of `template` filled from `view`.
    func response<View: Encodable>(
        _ view: View, template: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) throws -> Response {
        try response(try PageValue.of(view), template: template, status: status, headers: headers)
    }

    /// An HTML response of `template` filled from `values`.
    func response(_ values: PageValue, template: String, status: HTTPResponse.Status, headers: HTTPFields) throws
        -> Response
    {
        guard let html = render(values, with: template) else {
            throw HTTPError(.internalServerError, message: "no page template \(template)")
        }
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The headers of every page behind a session (the console, the member pages): never cached,
    /// never framed, no script, forms only to this site.
    static let sessionPageHeaders: HTTPFields = [
        .cacheControl: "no-store",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
    ]
}
