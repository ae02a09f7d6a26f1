import Foundation
import ReplyRules
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
    /// Where it is.
    public var status: Status
    /// How many sends were tried.
    public var attempts: Int
    /// The last failure, if any.
    public var lastError: String?
    /// When it was queued, Unix seconds.
    public var createdAt: Int64
    /// When it was sent, Unix seconds.
    public var sentAt: Int64?
    /// For a notice: its kind and fields, from which templates are filled.
    public var notice: NoticeContent?
    /// The channel that reached the member, once one did.
    public var channel: NoticeChannel?
    /// Why earlier channels did not (for staff, in Chinese), or nil.
    public var channelNote: String?
    /// WeChat's delivery report, when one came: `success`, or why it failed.
    public var delivery: String?
    /// Channels WeChat refused for this message; they are not tried again.
    public var refused: Set<NoticeChannel> = []

    /// Where a message in the outbox is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting to be sent.
        case queued
        /// Claimed by a worker, being sent.
        case sending
        /// Sent (or shown to the member in a reply).
        case sent
        /// Given up after the last attempt.
        case failed
        /// WeChat would not deliver it (outside the 48-hour window): shown in the member's next reply.
        case held
    }
}

/// The queue of messages for WeChat's customer-service API. Things that promise a member a
/// notice (an approval, a status change) add to it in their own transaction; a worker sends.
public enum Outbox {
    /// The table the outbox is kept in; its worker (`OutboxWorker`, beside it) names it through this.
    static let table = "outbox"

    /// Queues a notice for `openid`, inside the caller's transaction: its text goes as a
    /// customer-service message, and its kind and fields fill the templates of `notices.yaml`
    /// when the worker sends it.
    public static func enqueue(_ notice: Notice, to openid: String, at now: Int64, in database: any SQLDatabase)
        async throws
    {
        let encoded = String(decoding: try JSONEncoder().encode([StoredReplyBody(.text(notice.text))]), as: UTF8.self)
        let fields = String(decoding: try JSONEncoder().encode(notice.fields), as: UTF8.self)
        try await database.insert(into: "outbox")
            .columns(
                "openid", "account", "bodies", "reason", "next_attempt_at", "created_at", "notice_kind", "notice_fields"
            )
            .values(
                SQLBind(openid), SQLBind(""), SQLBind(encoded), SQLBind(LateReason.notice.rawValue), SQLBind(now),
                SQLBind(now), SQLBind(notice.kind.rawValue), SQLBind(fields)
            )
            .run()
    }

    /// Queues `bodies` for `openid`, inside the caller's transaction.
    public static func enqueue(
        _ bodies: [ReplyBody], to openid: String, account: String = "", reason: LateReason, at now: Int64,
        in database: any SQLDatabase
    ) async throws {
        // One row a message, so that each is sent, retried and recorded on its own.
        for body in bodies {
            let encoded = String(decoding: try JSONEncoder().encode([StoredReplyBody(body)]), as: UTF8.self)
            try await database.insert(into: "outbox")
                .columns("openid", "account", "bodies", "reason", "next_attempt_at", "created_at")
                .values(
                    SQLBind(openid), SQLBind(account), SQLBind(encoded), SQLBind(reason.rawValue), SQLBind(now),
                    SQLBind(now)
                )
                .run()
        }
    }

    /// Records WeChat's report that the message `id` was delivered on its channel.
    static func markDelivered(_ id: Int, report: String, in database: any SQLDatabase) async throws {
        try await database.update("outbox").set("delivery", to: report).where("id", .equal, id).run()
    }

    /// Queues the message `id` again, now, on another channel than those `refused`, with `note`
    /// saying why.
    static func requeue(
        _ id: Int, refusing refused: Set<NoticeChannel>, note: String, at now: Int64, in database: any SQLDatabase
    ) async throws {
        try await database.update("outbox")
            .set("status", to: OutboxMessage.Status.queued.rawValue).set("channel", to: SQLLiteral.null)
            .set("refused", to: refusedColumn(refused))
            .set("channel_note", to: note).set("next_attempt_at", to: now).set("sent_at", to: SQLLiteral.null)
            .where("id", .equal, id).run()
    }

    /// The newest messages first, optionally only those with `status`, read from `store`.
    public static func list(status: OutboxMessage.Status? = nil, limit: Int = 200, in store: UnionStore)
        async throws -> [OutboxMessage]
    {
        try await store.read { database in try await list(status: status, limit: limit, in: database) }
    }

    /// The newest message queued for `openid`, read from `store`.
    public static func latest(to openid: String, in store: UnionStore) async throws -> OutboxMessage? {
        try await store.read { database in try await list(to: openid, limit: 1, in: database).first }
    }

    /// The newest messages first, optionally only those with `status`.
    public static func list(status: OutboxMessage.Status? = nil, limit: Int = 200, in database: any SQLDatabase)
        async throws -> [OutboxMessage]
    {
        var query = select(in: database)
        if let status { query = query.where("status", .equal, status.rawValue) }
        return try await query.orderBy("id", .descending).limit(limit).all(
            decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase
        ).map { try $0.message }
    }

    /// The newest messages to one member first (what the console shows after a decision).
    public static func list(to openid: String, limit: Int = 5, in database: any SQLDatabase) async throws
        -> [OutboxMessage]
    {
        try await select(in: database).where("openid", .equal, openid).orderBy("id", .descending).limit(limit)
            .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map { try $0.message }
    }

    /// The `refused` column's text: the channels' names, sorted, comma-separated.
    static func refusedColumn(_ channels: Set<NoticeChannel>) -> String {
        channels.map(\.rawValue).sorted().joined(separator: ",")
    }

    /// A query for outbox rows, to narrow down; decode them as ``Row``.
    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("outbox")
    }

    /// A row of the `outbox` table.
    struct Row: Codable, Sendable {
        var id: Int
        var openid: String
        var account: String
        /// The replies, as JSON.
        var bodies: String
        var reason: String
        var status: OutboxMessage.Status
        var attempts: Int
        var lastError: String?
        var createdAt: Int64
        var sentAt: Int64?
        var noticeKind: String?
        var noticeFields: String?
        var channel: String?
        var channelNote: String?
        var wechatMsgId: String?
        var delivery: String?
        var refused: String?

        var message: OutboxMessage {
            get throws {
                let stored = try JSONDecoder().decode([StoredReplyBody].self, from: Data(bodies.utf8))
                var notice: NoticeContent?
                if let noticeKind, let kind = NoticeKind(rawValue: noticeKind) {
                    let fields = try noticeFields.map {
                        try JSONDecoder().decode([String: String].self, from: Data($0.utf8))
                    }
                    notice = NoticeContent(kind: kind, fields: fields ?? [:])
                }
                return OutboxMessage(
                    id: id, openid: openid, account: account, bodies: stored.map(\.body),
                    reason: LateReason(rawValue: reason) ?? .notice, status: status, attempts: attempts,
                    lastError: lastError, createdAt: createdAt, sentAt: sentAt, notice: notice,
                    channel: channel.flatMap(NoticeChannel.init(rawValue:)), channelNote: channelNote,
                    delivery: delivery,
                    refused: Set(
                        (refused ?? "").split(separator: ",").compactMap { NoticeChannel(rawValue: String($0)) }))
            }
        }
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
    var musicURL: String?
    var hqMusicURL: String?

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
            self.musicURL = music.musicURL
            self.hqMusicURL = music.hqMusicURL
        case .news(let articles): self.articles = articles
        case .transferToCustomerService: break
        }
    }

    var body: ReplyBody {
        switch type {
        case "image": .image(mediaId: mediaId ?? "")
        case "voice": .voice(mediaId: mediaId ?? "")
        case "video": .video(mediaId: mediaId ?? "", title: title, description: description)
        case "music":
            .music(
                Music(
                    title: title, description: description, musicURL: musicURL, hqMusicURL: hqMusicURL,
                    thumbMediaId: mediaId ?? ""))
        case "news": .news(articles ?? [])
        case "transfer_customer_service": .transferToCustomerService(agent: nil)
        default: .text(text ?? "")
        }
    }
}
