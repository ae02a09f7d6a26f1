import Foundation
import ReplyRules
import SQLKit
import WeChatWire

/// What a member raised (留言): the messages no rule answered, gathered into one case a day,
/// with a number, the member's unit, a due time and the staff's replies.
public struct MemberCase: Sendable, Hashable {
    public var id: Int
    /// `LY-2026-000001`.
    public var number: String
    public var openid: String
    /// The member's unit when the case opened ('' when unknown).
    public var unitCode: String
    public var status: Status
    /// The staff member it is assigned to, if any.
    public var assignedStaff: String?
    /// The unit it was escalated to when overdue, if any.
    public var escalatedTo: String?
    /// When an answer is due, Unix seconds.
    public var dueAt: Int64
    public var createdAt: Int64
    public var updatedAt: Int64
    /// When the member last wrote to it.
    public var lastMemberAt: Int64
    public var closedAt: Int64?
    /// The member's rating of the answer, 1–5.
    public var rating: Int?

    /// Where a case is.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Waiting for the staff.
        case open
        /// The staff replied; the member may write more.
        case answered
        /// Done.
        case closed

        public var chinese: String {
            switch self {
            case .open: "待答复"
            case .answered: "已答复"
            case .closed: "已办结"
            }
        }
    }

    /// Whether it waits for an answer past its due time.
    public func isOverdue(at now: Int64) -> Bool { status == .open && dueAt < now }
}

/// One message of a case's thread: the member's, or a staff reply.
public struct CaseMessage: Sendable, Hashable {
    public var id: Int
    /// `member` or `staff`.
    public var direction: String
    /// The staff member who replied (nil for the member's messages).
    public var author: String?
    /// `text`, `voice`, `image`, `video`, `location`, `link` or `file`.
    public var kind: String
    /// The text, the voice's recognised text, or a description of what was sent.
    public var content: String
    /// WeChat's media id, for media messages.
    public var mediaId: String?
    /// Where the downloaded media is kept: `pending`, `stored`, `failed`; nil for none.
    public var mediaStatus: String?
    /// The stored file's name (or a video's address), its type, and why a download failed.
    public var mediaPath: String?
    public var mediaType: String?
    public var mediaError: String?
    public var createdAt: Int64
}

/// The inbox: cases and their threads.
public struct Inbox: Sendable {
    let store: UnionStore

    public init(store: UnionStore) {
        self.store = store
    }

    /// A member's messages within this long of their last go to the same open case.
    public static let gatherSeconds: Int64 = 24 * 3600
    /// A closed case takes a rating within this long of closing.
    public static let ratingSeconds: Int64 = 7 * 86_400
    /// The prefix of case numbers.
    public static let prefix = "LY"

    /// What kind of case message `message` is, and its text and media: nil for what the inbox
    /// does not keep (events).
    public static func entry(of message: InboundMessage) -> (kind: String, content: String, mediaId: String?)? {
        switch message.kind {
        case .text(let text): return ("text", text.content, nil)
        case .voice(let voice):
            return ("voice", voice.recognition.map { "[语音] \($0)" } ?? "[语音]", voice.mediaId)
        case .image(let image): return ("image", "[图片]", image.mediaId)
        case .video(let video), .shortVideo(let video): return ("video", "[视频]", video.mediaId)
        case .location(let location):
            return ("location", "[位置] \(location.label)（\(location.latitude), \(location.longitude)）", nil)
        case .link(let link): return ("link", "[链接] \(link.title) \(link.url)", nil)
        case .unknown(let type, let fields) where type == "file":
            let title = fields.first { $0.name == "Title" }?.text ?? ""
            return ("file", "[文件] \(title)", nil)
        case .event, .unknown: return nil
        }
    }

    /// Adds `message` to the member's open case (one they wrote to within a day), or opens a
    /// new one, inside the caller's transaction. A retry of the same message adds nothing and
    /// returns the same case.
    static func receive(
        _ message: InboundMessage, settings: CaseSettings, utcOffsetMinutes offset: Int, at now: Int64, year: Int,
        in database: any SQLDatabase
    ) async throws -> (MemberCase, opened: Bool)? {
        guard let entry = entry(of: message) else { return nil }
        return try await receive(
            entry, from: message.header.sender, key: MessageKey.of(message), unit: nil, settings: settings,
            utcOffsetMinutes: offset, at: now, year: year, in: database)
    }

    /// Adds a line from the member (what they wrote, or what a member page did for them that
    /// staff must look at) to their open case, or opens one, in `unit` (by default the unit of
    /// their latest application), inside the caller's transaction; `key` makes it once.
    static func receive(
        _ entry: (kind: String, content: String, mediaId: String?), from openid: String, key: String,
        unit wanted: String?,
        settings: CaseSettings, utcOffsetMinutes offset: Int, at now: Int64, year: Int,
        in database: any SQLDatabase
    ) async throws -> (MemberCase, opened: Bool) {
        if let seen = try await database.select().column("case_id").from("case_messages")
            .where("message_key", .equal, key).first()?.decode(column: "case_id", as: Int.self),
            let existing = try await find(seen, in: database)
        {
            let first = try await database.select().column("message_key").from("case_messages")
                .where("case_id", .equal, seen).orderBy("id").limit(1).first()?
                .decode(column: "message_key", as: String?.self)
            return (existing, first == key)
        }
        var current = try await select(in: database).where("openid", .equal, openid)
            .where("status", .notEqual, MemberCase.Status.closed.rawValue)
            .where("last_member_at", .greaterThanOrEqual, now - gatherSeconds)
            .orderBy("id", .descending).limit(1)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.memberCase
        let opened = current == nil
        if current == nil {
            let number = try await ReceiptNumbers.next(prefix: prefix, year: year, in: database)
            var unit = wanted ?? ""
            if wanted == nil { unit = try await MembershipRegistry.unitCode(of: openid, in: database) }
            try await database.insert(into: "cases")
                .columns(
                    "number", "openid", "unit_code", "status", "due_at", "created_at", "updated_at", "last_member_at"
                )
                .values(
                    SQLBind(number), SQLBind(openid), SQLBind(unit), SQLBind(MemberCase.Status.open.rawValue),
                    SQLBind(settings.dueTime(from: now, utcOffsetMinutes: offset)), SQLBind(now), SQLBind(now),
                    SQLBind(now)
                )
                .run()
            current = try await select(in: database).where("number", .equal, number)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.memberCase
        } else if let existing = current {
            // The member wrote again: the case waits for the staff again.
            try await database.update("cases").set("last_member_at", to: now).set("updated_at", to: now)
                .set("status", to: MemberCase.Status.open.rawValue)
                .where("id", .equal, existing.id).run()
            current?.status = .open
            current?.lastMemberAt = now
        }
        guard let memberCase = current else { throw StoreError("a case vanished after it was written") }
        try await database.insert(into: "case_messages")
            .columns("case_id", "direction", "kind", "content", "media_id", "media_status", "message_key", "created_at")
            .values(
                SQLBind(memberCase.id), SQLBind("member"), SQLBind(entry.kind), SQLBind(entry.content),
                SQLBind(entry.mediaId), SQLBind(entry.mediaId == nil ? nil : "pending"), SQLBind(key), SQLBind(now)
            )
            .run()
        return (memberCase, opened)
    }

    /// What the member is told: the acknowledgement with the case's number and promise, and
    /// when staff are back if they are out.
    public static func acknowledgement(
        _ memberCase: MemberCase, opened: Bool, settings: CaseSettings, utcOffsetMinutes offset: Int, at now: Int64
    ) -> String {
        var text = (opened ? settings.acknowledgement : settings.followUp)
            .replacingOccurrences(of: "{number}", with: memberCase.number)
            .replacingOccurrences(of: "{due}", with: settings.due.chinese)
        if !settings.isOfficeOpen(at: now, utcOffsetMinutes: offset),
            let opening = settings.nextOpening(after: now, utcOffsetMinutes: offset)
        {
            text +=
                "\n"
                + settings.afterHours.replacingOccurrences(
                    of: "{opening}", with: CaseSettings.describe(opening, utcOffsetMinutes: offset))
        }
        return text
    }

    // MARK: Ratings

    /// Stores `rating` (1–5) for the member's latest closed case that asked for one within
    /// ``ratingSeconds``, inside the caller's transaction; nil when no case waits for one.
    static func rate(_ openid: String, rating: Int, at now: Int64, in database: any SQLDatabase) async throws
        -> MemberCase?
    {
        guard
            var memberCase = try await select(in: database).where("openid", .equal, openid)
                .where("status", .equal, MemberCase.Status.closed.rawValue)
                .where(SQLColumn("rating"), .is, SQLLiteral.null)
                .where("closed_at", .greaterThanOrEqual, now - ratingSeconds)
                .orderBy("id", .descending).limit(1)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.memberCase
        else { return nil }
        try await database.update("cases").set("rating", to: rating).set("rated_at", to: now)
            .where("id", .equal, memberCase.id).run()
        memberCase.rating = rating
        return memberCase
    }

    /// The rating a message gives, when it is one digit from 1 to 5.
    public static func rating(in message: InboundMessage) -> Int? {
        // A digit with a few spaces or marks around it. A longer text is not normalised for it,
        // nor one with a CJK ideograph (UTF-8 lead bytes E4 to E9: U+4000 to U+9FFF), which
        // normalising keeps and which is no digit: most of what members send.
        guard case .text(let text) = message.kind, text.content.utf8.count <= 24,
            !text.content.utf8.contains(where: { (0xE4...0xE9).contains($0) })
        else { return nil }
        let word = KeywordNormalizer.normalize(text.content)
        guard word.count == 1, let value = Int(word), (1...5).contains(value) else { return nil }
        return value
    }

    // MARK: Staff

    /// A page of cases, newest first, overdue ones only when asked.
    public func page(_ filter: RecordFilter, overdueAt now: Int64? = nil, request: PageRequest) async throws
        -> Page<MemberCase>
    {
        let dialect = store.dialect
        return try await store.page(
            from: "cases", request: request,
            filter: { query in
                var query = filter.restrict(query, dialect: dialect, searching: ["number"], byMember: true)
                if let now { query = Self.overdue(query, at: now) }
                return query
            }, decoding: Row.self, searching: filter.isSearching
        ).map(\.memberCase)
    }

    /// The downloaded file of a media message in case `id` (same scope as the case): its
    /// contents and content type.
    ///
    /// - Parameter directory: where the media files are kept.
    /// - Throws: ``AdminActionError`` (not found) when the message has no stored file.
    public func storedMedia(_ id: Int, message wanted: Int, for actor: Principal, in directory: String)
        async throws -> (data: Data, type: String)
    {
        let (_, messages) = try await thread(id, for: actor)
        guard let message = messages.first(where: { $0.id == wanted }), message.mediaStatus == "stored",
            let name = message.mediaPath, !name.contains("/"),
            let data = FileManager.default.contents(
                atPath: URL(fileURLWithPath: directory).appendingPathComponent(name).path)
        else { throw AdminActionError(.notFound, "no stored media for message \(wanted)") }
        return (data, message.mediaType ?? "application/octet-stream")
    }

    /// A case and its thread, oldest message first; 404 outside `actor`'s units.
    public func thread(_ id: Int, for actor: Principal) async throws -> (MemberCase, [CaseMessage]) {
        try actor.require(.read)
        return try await store.read { database in
            guard let memberCase = try await Self.find(id, in: database), actor.scope.contains(memberCase.unitCode)
            else { throw AdminActionError(.notFound, "no case with id \(id)") }
            let messages = try await database.select().columns("*").from("case_messages")
                .where("case_id", .equal, id).orderBy("id")
                .all(decoding: MessageRow.self, keyDecodingStrategy: .convertFromSnakeCase)
            return (memberCase, messages.map(\.message))
        }
    }

    /// Sends the staff's reply: stored in the thread and queued to the member, in one
    /// transaction.
    public func reply(_ id: Int, text: String, by actor: Principal, at now: Int64) async throws -> MemberCase {
        try actor.require(.decide)
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.count <= 600 else {
            throw AdminActionError(.invalid, "a reply has 1 to 600 characters")
        }
        return try await change(id, by: actor) { memberCase, database in
            guard memberCase.status != .closed else {
                throw AdminActionError(.conflict, "case \(memberCase.number) is closed")
            }
            try await database.insert(into: "case_messages")
                .columns("case_id", "direction", "author", "kind", "content", "created_at")
                .values(
                    SQLBind(memberCase.id), SQLBind("staff"), SQLBind(actor.name), SQLBind("text"), SQLBind(text),
                    SQLBind(now)
                )
                .run()
            try await database.update("cases").set("status", to: MemberCase.Status.answered.rawValue)
                .set("updated_at", to: now).where("id", .equal, memberCase.id).run()
            try await Outbox.enqueue(
                Notice(
                    .caseReply, fields: ["number": memberCase.number, "reply": text],
                    text: "工会答复您的留言（编号 \(memberCase.number)）：\n\(text)\n\n如还有问题，可直接回复。"),
                to: memberCase.openid, at: now, in: database)
            try await AuditLog.record(
                actor, action: "case.reply", record: "case:\(memberCase.number)", unit: memberCase.unitCode,
                before: ["status": memberCase.status.rawValue], after: ["status": "answered", "reply": text], at: now,
                in: database)
            var updated = memberCase
            updated.status = .answered
            updated.updatedAt = now
            return updated
        }
    }

    /// Closes a case and asks the member to rate the answer.
    public func close(_ id: Int, by actor: Principal, at now: Int64) async throws -> MemberCase {
        try actor.require(.decide)
        return try await change(id, by: actor) { memberCase, database in
            guard memberCase.status != .closed else {
                throw AdminActionError(.conflict, "case \(memberCase.number) is already closed")
            }
            try await database.update("cases").set("status", to: MemberCase.Status.closed.rawValue)
                .set("closed_at", to: now).set("updated_at", to: now).where("id", .equal, memberCase.id).run()
            try await Outbox.enqueue(
                Notice(
                    .caseClosed, fields: ["number": memberCase.number],
                    text: "您的留言（编号 \(memberCase.number)）已办结。请为本次答复打分，回复 1–5（5 分最满意）。"),
                to: memberCase.openid, at: now, in: database)
            try await AuditLog.record(
                actor, action: "case.close", record: "case:\(memberCase.number)", unit: memberCase.unitCode,
                before: ["status": memberCase.status.rawValue], after: ["status": "closed"], at: now, in: database)
            var updated = memberCase
            updated.status = .closed
            updated.closedAt = now
            return updated
        }
    }

    /// Assigns a case to a unit (it moves there) and/or a staff member who can see it.
    public func assign(
        _ id: Int, unit: String?, staff: String?, organisation: Organisation, by actor: Principal, at now: Int64
    ) async throws -> MemberCase {
        try actor.require(.decide)
        guard unit != nil || staff != nil else {
            throw AdminActionError(.invalid, "give a unit, a staff member, or both")
        }
        if let unit, organisation.units[unit] == nil || !actor.scope.contains(unit) {
            throw AdminActionError(.notFound, "no unit \(unit)")
        }
        return try await change(id, by: actor) { memberCase, database in
            var updated = memberCase
            if let unit { updated.unitCode = unit }
            if let staff {
                guard let member = try await StaffDirectory.find(staff, in: database), !member.disabled,
                    UnitScope.of(unit: member.unitCode, in: organisation).contains(updated.unitCode)
                else { throw AdminActionError(.invalid, "\(staff) is no staff member who can see this case") }
                updated.assignedStaff = staff
            }
            try await database.update("cases").set("unit_code", to: updated.unitCode)
                .set("assigned_staff", to: updated.assignedStaff).set("updated_at", to: now)
                .where("id", .equal, memberCase.id).run()
            try await AuditLog.record(
                actor, action: "case.assign", record: "case:\(memberCase.number)", unit: updated.unitCode,
                before: ["unit": memberCase.unitCode, "staff": memberCase.assignedStaff ?? ""],
                after: ["unit": updated.unitCode, "staff": updated.assignedStaff ?? ""], at: now, in: database)
            updated.updatedAt = now
            return updated
        }
    }

    /// Marks overdue cases escalated to the parent of their unit (whose staff see them too) and
    /// records it; returns them.
    public func escalateOverdue(organisation: Organisation, at now: Int64) async throws -> [MemberCase] {
        try await store.transaction { database in
            let due = try await Self.overdue(Self.select(in: database), at: now)
                .where(SQLColumn("escalated_to"), .is, SQLLiteral.null)
                .limit(500).all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase).map(\.memberCase)
            var escalated: [MemberCase] = []
            for var memberCase in due {
                let parent = organisation.units[memberCase.unitCode]?.parent ?? organisation.root ?? ""
                try await database.update("cases").set("escalated_to", to: parent).set("updated_at", to: now)
                    .where("id", .equal, memberCase.id).run()
                try await AuditLog.record(
                    .system, action: "case.escalate", record: "case:\(memberCase.number)", unit: memberCase.unitCode,
                    before: nil, after: ["to": parent], at: now, in: database)
                memberCase.escalatedTo = parent
                escalated.append(memberCase)
            }
            return escalated
        }
    }

    /// The latest text each of these cases got from its member, by case id (one read for a
    /// whole page of cases).
    public func latestFromMember(_ ids: [Int]) async throws -> [Int: String] {
        guard !ids.isEmpty else { return [:] }
        struct Row: Decodable { var caseId: Int; var content: String }
        let rows = try await store.read { database in
            try await database.select().columns("case_id", "content").from("case_messages")
                .where("case_id", .in, ids).where("direction", .equal, "member")
                .orderBy("id").all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        var latest: [Int: String] = [:]
        for row in rows { latest[row.caseId] = row.content }
        return latest
    }

    /// How many cases wait past their due time.
    public func overdueCount(at now: Int64) async throws -> Int {
        try await store.read { database in
            try await database.count("cases") { Self.overdue($0, at: now) }
        }
    }

    private func change(
        _ id: Int, by actor: Principal,
        _ body: @escaping @Sendable (MemberCase, any SQLDatabase) async throws -> MemberCase
    ) async throws -> MemberCase {
        try await store.transaction { database in
            guard let memberCase = try await Self.find(id, in: database), actor.scope.contains(memberCase.unitCode)
            else { throw AdminActionError(.notFound, "no case with id \(id)") }
            return try await body(memberCase, database)
        }
    }

    /// `query` narrowed to the cases waiting for an answer past their due time (what
    /// ``MemberCase/isOverdue(at:)`` says of one case).
    static func overdue(_ query: SQLSelectBuilder, at now: Int64) -> SQLSelectBuilder {
        query.where("status", .equal, MemberCase.Status.open.rawValue).where("due_at", .lessThan, now)
    }

    static func find(_ id: Int, in database: any SQLDatabase) async throws -> MemberCase? {
        try await select(in: database).where("id", .equal, id)
            .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)?.memberCase
    }

    static func select(in database: any SQLDatabase) -> SQLSelectBuilder {
        database.select().columns("*").from("cases")
    }

    struct Row: Codable, Sendable {
        var id: Int
        var number: String
        var openid: String
        var unitCode: String
        var status: MemberCase.Status
        var assignedStaff: String?
        var escalatedTo: String?
        var dueAt: Int64
        var createdAt: Int64
        var updatedAt: Int64
        var lastMemberAt: Int64
        var closedAt: Int64?
        var rating: Int?

        var memberCase: MemberCase {
            MemberCase(
                id: id, number: number, openid: openid, unitCode: unitCode, status: status,
                assignedStaff: assignedStaff, escalatedTo: escalatedTo, dueAt: dueAt, createdAt: createdAt,
                updatedAt: updatedAt, lastMemberAt: lastMemberAt, closedAt: closedAt, rating: rating)
        }
    }

    struct MessageRow: Codable, Sendable {
        var id: Int
        var direction: String
        var author: String?
        var kind: String
        var content: String
        var mediaId: String?
        var mediaStatus: String?
        var mediaPath: String?
        var mediaType: String?
        var mediaError: String?
        var createdAt: Int64

        var message: CaseMessage {
            CaseMessage(
                id: id, direction: direction, author: author, kind: kind, content: content, mediaId: mediaId,
                mediaStatus: mediaStatus, mediaPath: mediaPath, mediaType: mediaType, mediaError: mediaError,
                createdAt: createdAt)
        }
    }
}

/// The media members sent into cases, as `MediaFetcher` downloads it: the messages whose
/// pictures, voice or video wait, and what became of each download.
extension Inbox {
    /// A case message whose media waits to be downloaded.
    struct MediaDue: Decodable, Sendable {
        var id: Int
        var mediaId: String
        var mediaAttempts: Int
    }

    /// The messages whose media is due now, oldest first.
    static func mediaDue(at now: Int64, limit: Int, in database: any SQLDatabase) async throws -> [MediaDue] {
        try await database.select().column("id").column("media_id").column("media_attempts").from("case_messages")
            .where("media_status", .equal, "pending")
            .where(group: { group in
                group.where(SQLColumn("media_next_at"), .is, SQLLiteral.null)
                    .orWhere("media_next_at", .lessThanOrEqual, now)
            })
            .orderBy("id").limit(limit)
            .all(decoding: MediaDue.self, keyDecodingStrategy: .convertFromSnakeCase)
    }

    /// Records the media of `item` as stored at `path` (a file name, or a video's address).
    static func mediaStored(_ item: MediaDue, path: String?, type: String, in database: any SQLDatabase) async throws {
        try await database.update("case_messages").set("media_status", to: "stored")
            .set("media_path", to: path).set("media_type", to: type)
            .set("media_attempts", to: item.mediaAttempts + 1).set("media_error", to: SQLLiteral.null)
            .where("id", .equal, item.id).run()
    }

    /// Records a failed download of `item`'s media: tried again at `retryAt`, or given up.
    static func mediaFailed(
        _ item: MediaDue, givenUp: Bool, retryAt: Int64, error: String, in database: any SQLDatabase
    ) async throws {
        try await database.update("case_messages")
            .set("media_status", to: givenUp ? "failed" : "pending")
            .set("media_attempts", to: item.mediaAttempts + 1).set("media_next_at", to: retryAt)
            .set("media_error", to: error)
            .where("id", .equal, item.id).run()
    }
}
