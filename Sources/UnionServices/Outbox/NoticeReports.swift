import Foundation
import SQLKit
import WeChatWire

/// What WeChat tells the account about notices: which subscription templates a member accepted
/// (`subscribe_msg_popup_event`, `subscribe_msg_change_event`) and how subscription
/// notifications and template messages went (`subscribe_msg_sent_event`,
/// `TEMPLATESENDJOBFINISH`). Recorded; a notice WeChat reports undelivered goes back to the
/// outbox, to be tried on the next channel.
public enum NoticeReports {
    /// Whether `message` is one of these reports (answered with nothing, after recording).
    public static func isReport(_ message: InboundMessage) -> Bool {
        guard case .event(let event) = message.kind else { return false }
        switch event {
        case .subscriptionChoices, .subscriptionSent, .templateSendJobFinished: return true
        default: return false
        }
    }

    /// Records `message` if it is a report; returns whether it was.
    public static func record(_ message: InboundMessage, at now: Int64, in store: UnionStore) async throws -> Bool {
        guard case .event(let event) = message.kind else { return false }
        let openid = message.header.sender
        switch event {
        case .subscriptionChoices(_, let choices):
            try await store.transaction { database in
                for choice in choices where !choice.templateId.isEmpty {
                    try await setSubscription(
                        openid, template: choice.templateId, status: choice.accepted ? "accept" : "reject",
                        scene: choice.popupScene, at: now, in: database)
                }
            }
        case .subscriptionSent(let results):
            try await store.transaction { database in
                for result in results {
                    try await database.insert(into: "notice_reports")
                        .columns("openid", "template_id", "msg_id", "error_code", "error_status", "received_at")
                        .values(
                            SQLBind(openid), SQLBind(result.templateId), SQLBind(result.msgId),
                            SQLBind(result.errorCode), SQLBind(result.errorStatus), SQLBind(now)
                        )
                        .run()
                    let delivered = result.errorCode == 0
                    try await settle(
                        channel: .subscription, openid: openid, msgId: result.msgId, delivered: delivered,
                        report: delivered ? "success" : "\(result.errorStatus)（\(result.errorCode)）", at: now,
                        in: database)
                }
            }
        case .templateSendJobFinished(let msgId, let status):
            try await store.transaction { database in
                try await settle(
                    channel: .template, openid: openid, msgId: String(msgId), delivered: status == "success",
                    report: status, at: now, in: database)
            }
        default:
            return false
        }
        return true
    }

    /// The member's answer for `template`: `accept`, `reject`, `used`, or nil when never asked.
    static func subscription(_ openid: String, template: String, in database: any SQLDatabase) async throws
        -> String?
    {
        try await database.select().column("status").from("notice_subscriptions")
            .where("openid", .equal, openid).where("template_id", .equal, template)
            .first(decodingColumn: "status", as: String.self)
    }

    static func setSubscription(
        _ openid: String, template: String, status: String, scene: String?, at now: Int64,
        in database: any SQLDatabase
    ) async throws {
        try await database.insert(into: "notice_subscriptions")
            .columns("openid", "template_id", "status", "scene", "updated_at")
            .values(SQLBind(openid), SQLBind(template), SQLBind(status), SQLBind(scene), SQLBind(now))
            .onConflict(with: ["openid", "template_id"]) {
                $0.set(excludedValueOf: "status").set(excludedValueOf: "scene").set(excludedValueOf: "updated_at")
            }
            .run()
    }

    /// Records WeChat's report on the notice it belongs to: the one sent on `channel` with
    /// `msgId`, or else the member's latest on that channel without a report. A delivered notice
    /// gets `delivery`; an undelivered one is queued again with that channel refused and the
    /// report in its note.
    private static func settle(
        channel: NoticeChannel, openid: String, msgId: String, delivered: Bool, report: String, at now: Int64,
        in database: any SQLDatabase
    ) async throws {
        var row = try await Outbox.select(in: database)
            .where("channel", .equal, channel.rawValue).where("wechat_msg_id", .equal, msgId)
            .where("openid", .equal, openid)
            .first(decoding: Outbox.Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        if row == nil {
            row = try await Outbox.select(in: database)
                .where("channel", .equal, channel.rawValue).where("openid", .equal, openid)
                .where("delivery", .is, SQLLiteral.null)
                .orderBy("id", .descending)
                .first(decoding: Outbox.Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        // A report WeChat sent twice changes nothing: the row is reported, or no longer on the channel.
        guard let row, row.delivery == nil else { return }
        if delivered {
            try await Outbox.markDelivered(row.id, report: report, in: database)
            return
        }
        let message = try row.message
        let note = [message.channelNote, "\(channel.chinese)未送达（\(report)）"].compactMap { $0 }.joined(separator: "；")
        try await Outbox.requeue(
            row.id, refusing: message.refused.union([channel]), note: note, at: now, in: database)
    }
}
