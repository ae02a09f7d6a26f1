import SQLKit

/// Something a member raised that staff answer with a status and a reply, and that tells the
/// member when either changes: a suggestion, a form submission. Cases (留言) answer in a thread
/// but share the same notice and audit steps.
protocol AnsweredRecord: Sendable {
    associatedtype Status: RawRepresentable<String> & Sendable
    /// The table its rows live in.
    static var table: String { get }
    /// Its name in the audit log and in errors: `suggestion`, `submission`.
    static var recordName: String { get }
    var number: String { get }
    var openid: String { get }
    var unitCode: String { get }
    var status: Status { get set }
    var reply: String? { get set }
}

/// The one workflow for staff answering what a member raised: check the role and the scope,
/// change the status and the reply, record both in the audit log, and queue the notice, all in
/// one transaction.
enum StaffAnswers {
    /// The reply trimmed; refuses a change with neither a status nor a reply.
    static func validated(status: (some Any)?, reply: String?) throws -> String? {
        let reply = reply?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard status != nil || (reply?.isEmpty == false) else {
            throw AdminActionError(.invalid, "give a status, a reply, or both")
        }
        return reply.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Applies a status and a reply to the record `load` finds (404 when it finds none, or one
    /// outside `actor`'s units) and queues `notice` of the changed record and the reply given now.
    static func answer<Record: AnsweredRecord>(
        _ id: Int, status: Record.Status?, reply: String?, by actor: Principal, at now: Int64, in store: UnionStore,
        load: @escaping @Sendable (any SQLDatabase) async throws -> Record?,
        notice: @escaping @Sendable (_ record: Record, _ newReply: String?) -> Notice
    ) async throws -> Record {
        try actor.require(.decide)
        let reply = try validated(status: status, reply: reply)
        return try await store.transaction { database in
            guard var record = try await load(database), actor.scope.contains(record.unitCode) else {
                throw AdminActionError(.notFound, "no \(Record.recordName) with id \(id)")
            }
            let before = record
            if let status { record.status = status }
            if let reply { record.reply = reply }
            try await database.update(Record.table)
                .set("status", to: record.status.rawValue).set("reply", to: record.reply).set("updated_at", to: now)
                .where("id", .equal, id)
                .run()
            var changedBefore = ["status": before.status.rawValue]
            var changedAfter = ["status": record.status.rawValue]
            if record.reply != before.reply {
                changedBefore["reply"] = before.reply ?? ""
                changedAfter["reply"] = record.reply ?? ""
            }
            try await AuditLog.record(
                actor, action: "\(Record.recordName).update", record: "\(Record.recordName):\(record.number)",
                unit: record.unitCode, before: changedBefore, after: changedAfter, at: now, in: database)
            try await Outbox.enqueue(notice(record, reply), to: record.openid, at: now, in: database)
            return record
        }
    }

    /// 「您的合理化建议（编号 …）有了新进展：已采纳。工会回复：… 回复「我的建议」可查看全部进度。」
    static func progressText(subject: String, number: String, status: String, reply: String?, lookup: String)
        -> String
    {
        var text = "您的\(subject)（编号 \(number)）有了新进展：\(status)。"
        if let reply { text += "\n工会回复：\(reply)" }
        return text + "\n回复「\(lookup)」可查看全部进度。"
    }
}
