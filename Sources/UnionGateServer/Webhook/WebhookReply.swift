import Foundation
import HTTPTypes

/// A webhook response: its status, content type and body. The route and the fast lane both
/// write it with ``headers(date:serverName:)``, so the two send the same bytes.
struct WebhookReply: Sendable {
    var status: HTTPResponse.Status
    var contentType: String?
    var body: [UInt8]
    /// The connection closes after this response (`Connection: close` is sent).
    var closes = false

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

    /// The response's header fields, in the order they go on the wire. Plain pairs, because the
    /// fast lane writes them straight into its buffer; the route makes ``HTTPFields`` of them.
    func headers(date: String, serverName: String?) -> [(name: HTTPField.Name, value: String)] {
        var headers: [(name: HTTPField.Name, value: String)] = []
        headers.reserveCapacity(4)
        if let contentType { headers.append((.contentType, contentType)) }
        headers.append((.contentLength, String(body.count)))
        headers.append((.date, date))
        if let serverName { headers.append((.server, serverName)) }
        if closes { headers.append((.connection, "close")) }
        return headers
    }

    /// ``headers(date:serverName:)`` as header fields.
    func headerFields(date: String, serverName: String?) -> HTTPFields {
        HTTPFields(headers(date: date, serverName: serverName).map { HTTPField(name: $0.name, value: $0.value) })
    }
}

/// The `Date` header's value (RFC 9110's IMF-fixdate), formatted once a second. Not shared
/// between threads: each fast lane (one per connection, on its event loop) keeps its own, so
/// reading it takes no lock.
struct HTTPDate {
    private var second = -1
    private var text = ""

    /// The value for now.
    mutating func now() -> String {
        let current = Int(Date().timeIntervalSince1970)
        if current != second {
            second = current
            text = Self.format(current)
        }
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
