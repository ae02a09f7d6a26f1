import Foundation
import SQLKit
import Synchronization

/// Where each member is in a form, kept in the store (so a restart resumes it) and mirrored in
/// memory (so a member who is not filling in a form costs no database read).
///
/// A finished conversation keeps the key of the message that finished it and the reply it got
/// for a while, so that a WeChat retry of that message after a restart gets the same reply.
///
/// Each row carries a version, bumped by every write, and each write expects the version it
/// read: a write from a stale copy (another gateway process moved the member on) fails with
/// ``ConversationConflict`` instead of overwriting, and the caller reloads the row and decides
/// again. Within one process a member's messages are already applied one at a time.
public final class ConversationStore: Sendable {
    /// A member's conversation as stored.
    public struct Entry: Sendable, Hashable {
        /// The progress, for a conversation in progress.
        public var progress: FormProgress
        /// The key of the message that finished it, once finished.
        public var finishedKey: String?
        /// The reply that message got.
        public var finishedReply: String?
        /// The row's version: 1 when first written, one more with each write.
        public var version: Int64 = 1
    }

    private let store: UnionStore
    private let cache: Mutex<[String: Entry]>
    /// Members whose conversation another instance (or this one) announced a change of since
    /// memory last read it, each with the count of the announcement; and the last count. Such a
    /// member's message is not answered from memory.
    private let marks = Mutex<(count: UInt64, changed: [String: UInt64])>((0, [:]))

    private init(store: UnionStore) {
        self.store = store
        self.cache = Mutex([:])
    }

    /// A row of the `conversations` table.
    struct Row: Codable, Sendable {
        var openid: String
        var form: String
        var step: Int
        /// The answers so far, as JSON.
        var answers: String
        var finishedKey: String?
        var finishedReply: String?
        var updatedAt: Int64
        var version: Int64

        var entry: Entry {
            get throws {
                let answers = try JSONDecoder().decode([String: String].self, from: Data(answers.utf8))
                let progress = FormProgress(form: form, step: step, answers: answers, updatedAt: updatedAt)
                return Entry(
                    progress: progress, finishedKey: finishedKey, finishedReply: finishedReply, version: version)
            }
        }
    }

    /// Loads every stored conversation.
    public static func load(from store: UnionStore) async throws -> ConversationStore {
        let conversations = ConversationStore(store: store)
        try await conversations.reloadAll()
        return conversations
    }

    /// The member's conversation, if any.
    public func entry(for openid: String) -> Entry? {
        cache.withLock { $0[openid] }
    }

    /// Saves progress in a form, over the version this process last saw.
    ///
    /// - Throws: ``ConversationConflict`` when the stored row is not the one last seen.
    public func save(_ progress: FormProgress, for openid: String) async throws {
        let answers = String(decoding: try JSONEncoder.sorted.encode(progress.answers), as: UTF8.self)
        let expected = entry(for: openid)?.version
        let (version, token) = try await store.transaction { [store] database -> (Int64, String?) in
            let written: [Int64]
            if let expected {
                written = try await database.update("conversations")
                    .set("form", to: progress.form).set("step", to: progress.step).set("answers", to: answers)
                    .set(SQLColumn("finished_key"), to: SQLLiteral.null)
                    .set(SQLColumn("finished_reply"), to: SQLLiteral.null)
                    .set("updated_at", to: progress.updatedAt)
                    .set(SQLColumn("version"), to: Self.nextVersion)
                    .where("openid", .equal, openid).where("version", .equal, expected)
                    .returning("version")
                    .all(decodingColumn: "version", as: Int64.self)
            } else {
                let row = Row(
                    openid: openid, form: progress.form, step: progress.step, answers: answers, finishedKey: nil,
                    finishedReply: nil, updatedAt: progress.updatedAt, version: 1)
                written = try await database.insert(into: "conversations")
                    .model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                    .ignoringConflicts(with: ["openid"])
                    .returning("version")
                    .all(decodingColumn: "version", as: Int64.self)
            }
            guard let version = written.first else { throw ConversationConflict(openid: openid) }
            return (version, try await store.changes.announce(.conversation, [openid], in: database))
        }
        cache.withLock { $0[openid] = Entry(progress: progress, version: version) }
        await store.changes.settle(token)
    }

    /// Reads the member's conversation again from the store (after a ``ConversationConflict``,
    /// or when instances share the database); memory then follows every change announced
    /// before the read.
    public func refresh(_ openid: String) async throws {
        refreshes.add(1, ordering: .relaxed)
        let before = marks.withLock { $0.count }
        let row = try await store.read { database in
            try await database.select().columns("*").from("conversations").where("openid", .equal, openid)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let entry = try row?.entry
        cache.withLock { $0[openid] = entry }
        marks.withLock { marks in
            if let count = marks.changed[openid], count <= before { marks.changed[openid] = nil }
        }
    }

    /// Whether memory holds the member's conversation at the version their turn found (none
    /// when `turn` found none); false outside a turn.
    func holds(_ openid: String, version turn: MemberTurns.ConversationAtTurn?) -> Bool {
        guard let turn else { return false }
        return cache.withLock { $0[openid]?.version } == turn.version
    }

    /// How many times a member's conversation was read again from the store.
    let refreshes = Atomic<Int>(0)

    /// Reads every conversation (on loading, and again when this instance begins to hear others'
    /// changes).
    func reloadAll() async throws {
        let before = marks.withLock { $0.count }
        let rows = try await store.read { database in
            try await database.select().columns("*").from("conversations")
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let entries = Dictionary(try rows.map { row in (row.openid, try row.entry) }, uniquingKeysWith: { $1 })
        cache.withLock { $0 = entries }
        marks.withLock { marks in marks.changed = marks.changed.filter { $0.value > before } }
    }

    /// Notes that the members' conversations changed in the store (an announcement heard).
    func changed(_ openids: [String]) {
        marks.withLock { marks in
            marks.count += 1
            for openid in openids { marks.changed[openid] = marks.count }
        }
    }

    /// Whether memory holds the member's conversation as last announced.
    func isCurrent(_ openid: String) -> Bool {
        marks.withLock { $0.changed[openid] == nil }
    }

    /// Removes conversations idle past their expiry: in progress and untouched for
    /// `idleSeconds`, or finished more than `finishedSeconds` ago (WeChat's retries are over).
    /// Returns how many were removed.
    public func sweep(idleSeconds: Int64, finishedSeconds: Int64, at now: Int64) async throws -> Int {
        let removed = try await store.transaction { [store] database in
            let removed = try await database.delete(from: "conversations")
                .where { group in
                    group.where("finished_key", .is, SQLLiteral.null).where("updated_at", .lessThan, now - idleSeconds)
                }
                .orWhere { group in
                    group.where("finished_key", .isNot, SQLLiteral.null)
                        .where("updated_at", .lessThan, now - finishedSeconds)
                }
                .returning("openid")
                .all(decodingColumn: "openid", as: String.self)
            try await store.changes.announce(.conversation, removed, in: database)
            return removed
        }
        // Only what the store removed leaves memory: a row written meanwhile stays in both.
        cache.withLock { cache in
            for openid in removed { cache[openid] = nil }
        }
        return removed.count
    }

    /// How many conversations are remembered (for tests).
    var count: Int { cache.withLock { $0.count } }

    private static let nextVersion = SQLBinaryExpression(
        left: SQLColumn("version"), op: SQLBinaryOperator.add, right: SQLLiteral.numeric("1"))

    /// Forgets the member's conversation.
    public func clear(_ openid: String) async throws {
        let token = try await store.transaction { [store] database in
            try await database.delete(from: "conversations").where("openid", .equal, openid).run()
            return try await store.changes.announce(.conversation, [openid], in: database)
        }
        cache.withLock { $0[openid] = nil }
        await store.changes.settle(token)
    }

    /// What ``finish(_:key:reply:at:in:)`` wrote: the row's new version, and its announcement.
    struct Finished: Sendable {
        let version: Int64
        let token: String?
    }

    /// Marks the conversation finished by the message `key` with `reply`, inside the caller's
    /// transaction, over the version this process last saw. Call
    /// ``didFinish(_:progress:key:reply:finished:)`` after the commit.
    ///
    /// - Throws: ``ConversationConflict`` when the stored row is not the one last seen (the
    ///   transaction then rolls back, and nothing it stored stays).
    func finish(_ openid: String, key: String, reply: String, at now: Int64, in database: any SQLDatabase)
        async throws -> Finished
    {
        let expected = entry(for: openid)?.version ?? 0
        let written = try await database.update("conversations")
            .set("finished_key", to: key).set("finished_reply", to: reply).set("updated_at", to: now)
            .set(SQLColumn("version"), to: Self.nextVersion)
            .where("openid", .equal, openid).where("version", .equal, expected)
            .returning("version")
            .all(decodingColumn: "version", as: Int64.self)
        guard let version = written.first else { throw ConversationConflict(openid: openid) }
        return Finished(
            version: version, token: try await store.changes.announce(.conversation, [openid], in: database))
    }

    /// Records in memory what ``finish(_:key:reply:at:in:)`` committed.
    func didFinish(_ openid: String, progress: FormProgress, key: String, reply: String, finished: Finished) async {
        cache.withLock {
            $0[openid] = Entry(
                progress: progress, finishedKey: key, finishedReply: reply, version: finished.version)
        }
        await store.changes.settle(finished.token)
    }
}

/// A conversation changed in the store since this process last read it.
public struct ConversationConflict: Error, CustomStringConvertible {
    /// The member whose conversation it is.
    public let openid: String
    public var description: String { "the conversation of \(PersonalData.maskOpenID(openid)) changed meanwhile" }
}

extension JSONEncoder {
    /// An encoder with sorted keys, so stored JSON is stable.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// `value` as stored JSON text, keys sorted.
    static func sortedText(_ value: some Encodable) throws -> String {
        String(decoding: try sorted.encode(value), as: UTF8.self)
    }
}
