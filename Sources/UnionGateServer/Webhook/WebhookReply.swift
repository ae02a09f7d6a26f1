import Foundation
import HTTPTypes
import Synchronization

/// A webhook response: its status, content type and body. The route and the fast lane both
/// write it with ``headerFields(date:serverName:)``, so the two send the same bytes.
struct WebhookReply: Sendable {
    var status: HTTPResponse.Status
    var contentType: String?
    var body: [UInt8]

    /// A reply message (XML) or `success` (plain text).
    static func answer(_ body: [UInt8], isSuccess: Bool) -> WebhookReply {
        WebhookReply(
            status: .ok, contentType: isSuccess ? "text/plain; charset=utf-8" : "application/xml; charset=utf-8",
            body: body)
    }

    /// A refusal: the status alone, no detail for the stranger.
    static func refusal(_ status: HTTPResponse.Status) -> WebhookReply {
        WebhookReply(status: status, contentType: nil, body: [])
    }

    /// The response's header fields, in the order they go on the wire.
    func headerFields(date: String, serverName: String?) -> HTTPFields {
        var fields = HTTPFields()
        fields.reserveCapacity(4)
        if let contentType { fields[.contentType] = contentType }
        fields[.contentLength] = String(body.count)
        fields[.date] = date
        if let serverName { fields[.server] = serverName }
        return fields
    }
}

/// The `Date` header's value, formatted once a second (RFC 9110's IMF-fixdate).
final class HTTPDateCache: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((-1, ""))

    /// The value for now.
    var now: String {
        let second = Int(Date().timeIntervalSince1970)
        if let text = cached.withLock({ $0.second == second ? $0.text : nil }) { return text }
        let text = Self.format(second)
        cached.withLock { $0 = (second, text) }
        return text
    }

    static func format(_ second: Int) -> String {
        Date(timeIntervalSince1970: TimeInterval(second)).formatted(
            Date.VerbatimFormatStyle(
                format:
                    "\(weekday: .abbreviated), \(day: .twoDigits) \(month: .abbreviated) \(year: .padded(4)) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits) GMT",
                locale: Locale(identifier: "en_US_POSIX"), timeZone: TimeZone(identifier: "GMT")!,
                calendar: Calendar(identifier: .gregorian)))
    }
}
