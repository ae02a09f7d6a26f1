import Foundation
import SQLKit
import WeChatWire

/// A message waiting in the outbox.
public struct OutboxMessage: Sendable, Hashable {
    /// The row id.
    public var id: Int
    /// The member.
    public var openid: String
    /// The account, when known.
    public var account: String
    /// What to send.
    public var bodies: [ReplyBody]
    /// Why it is sent.
    public var reason: LateReason
    /// Where it is: queued, sending, sent, failed or held.
    public var status: String
    /// How many sends were tried.
    public var attempts: Int
    /// The last failure, if any.
    public var lastError: String?
    /// When it was queued, Unix seconds.
    public var createdAt: Int64
    /// When it was sent, Unix seconds.
    public var sentAt: Int64?
}

/// The queue of messages for WeChat's customer-service API. Things that promise a member a
/// notice (an approval, a status change) add to it in their own transaction; a worker sends.
public enum Outbox {
    /// Queues `bodies` for `openid`, inside the caller's transaction.
    public static func enqueue(
        _ bodies: [ReplyBody], to openid: String, account: String = "", reason: LateReason, at now: Int64,
        in database: any SQLDatabase
    ) async throws {
        // One row a message, so that each is sent, retried and recorded on its own.
        for body in bodies {
            let encoded = String(decoding: try JSONEncoder().encode([StoredReplyBody(body)]), as: UTF8.self)
            try await database.raw(
                """
                INSERT INTO outbox (openid, account, bodies, reason, next_attempt_at, created_at)
                VALUES (\(bind: openid), \(bind: account), \(bind: encoded), \(bind: reason.rawValue), \(bind: now), \(bind: now))
                """
            ).run()
        }
    }

    /// The newest messages first, optionally only those with `status`.
    public static func list(status: String? = nil, limit: Int = 200, in database: any SQLDatabase) async throws
        -> [OutboxMessage]
    {
        let rows: [any SQLRow]
        if let status {
            rows = try await database.raw(
                "SELECT * FROM outbox WHERE status = \(bind: status) ORDER BY id DESC LIMIT \(bind: limit)"
            ).all()
        } else {
            rows = try await database.raw("SELECT * FROM outbox ORDER BY id DESC LIMIT \(bind: limit)").all()
        }
        return try rows.map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> OutboxMessage {
        let stored = try JSONDecoder().decode(
            [StoredReplyBody].self, from: Data(try row.decode(column: "bodies", as: String.self).utf8))
        return OutboxMessage(
            id: try row.decode(column: "id", as: Int.self), openid: try row.decode(column: "openid", as: String.self),
            account: try row.decode(column: "account", as: String.self), bodies: stored.map(\.body),
            reason: LateReason(rawValue: try row.decode(column: "reason", as: String.self)) ?? .notice,
            status: try row.decode(column: "status", as: String.self),
            attempts: try row.decode(column: "attempts", as: Int.self),
            lastError: try row.decode(column: "last_error", as: String?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            sentAt: try row.decode(column: "sent_at", as: Int64?.self))
    }
}

/// A reply body as stored in the outbox (text and single articles are what the customer-service
/// API sends; the rest are kept so nothing is lost).
struct StoredReplyBody: Codable {
    var type: String
    var text: String?
    var mediaId: String?
    var title: String?
    var description: String?
    var articles: [Article]?

    init(_ body: ReplyBody) {
        type = body.msgType
        switch body {
        case .text(let text): self.text = text
        case .image(let mediaId), .voice(let mediaId): self.mediaId = mediaId
        case .video(let mediaId, let title, let description):
            self.mediaId = mediaId
            self.title = title
            self.description = description
        case .music(let music):
            self.title = music.title
            self.description = music.description
            self.mediaId = music.thumbMediaId
        case .news(let articles): self.articles = articles
        case .transferToCustomerService: break
        }
    }

    var body: ReplyBody {
        switch type {
        case "image": .image(mediaId: mediaId ?? "")
        case "voice": .voice(mediaId: mediaId ?? "")
        case "video": .video(mediaId: mediaId ?? "", title: title, description: description)
        case "music": .music(Music(title: title, description: description, thumbMediaId: mediaId ?? ""))
        case "news": .news(articles ?? [])
        case "transfer_customer_service": .transferToCustomerService(agent: nil)
        default: .text(text ?? "")
        }
    }
}
