import Foundation
import SQLKit
import Synchronization

/// Where each member is in a form, kept in the store (so a restart resumes it) and mirrored in
/// memory (so a member who is not filling in a form costs no database read).
///
/// A finished conversation keeps the key of the message that finished it and the reply it got
/// for a while, so that a WeChat retry of that message after a restart gets the same reply.
/// The memory mirror assumes one gateway process writes a member's conversation at a time.
public final class ConversationStore: Sendable {
    /// A member's conversation as stored.
    public struct Entry: Sendable, Hashable {
        /// The progress, for a conversation in progress.
        public var progress: FormProgress
        /// The key of the message that finished it, once finished.
        public var finishedKey: String?
        /// The reply that message got.
        public var finishedReply: String?
    }

    private let store: UnionStore
    private let cache: Mutex<[String: Entry]>

    private init(store: UnionStore, entries: [String: Entry]) {
        self.store = store
        self.cache = Mutex(entries)
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
    }

    /// Loads every stored conversation.
    public static func load(from store: UnionStore) async throws -> ConversationStore {
        let rows = try await store.read { database in
            try await database.select().columns("*").from("conversations")
                .all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        let entries = try rows.map { row -> (String, Entry) in
            let answers = try JSONDecoder().decode([String: String].self, from: Data(row.answers.utf8))
            let progress = FormProgress(form: row.form, step: row.step, answers: answers, updatedAt: row.updatedAt)
            return (
                row.openid, Entry(progress: progress, finishedKey: row.finishedKey, finishedReply: row.finishedReply)
            )
        }
        return ConversationStore(store: store, entries: Dictionary(entries, uniquingKeysWith: { $1 }))
    }

    /// The member's conversation, if any.
    public func entry(for openid: String) -> Entry? {
        cache.withLock { $0[openid] }
    }

    /// Saves progress in a form.
    public func save(_ progress: FormProgress, for openid: String) async throws {
        let answers = String(decoding: try JSONEncoder.sorted.encode(progress.answers), as: UTF8.self)
        let row = Row(
            openid: openid, form: progress.form, step: progress.step, answers: answers, finishedKey: nil,
            finishedReply: nil, updatedAt: progress.updatedAt)
        try await store.transaction { database in
            try await database.insert(into: "conversations")
                .model(row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                .onConflict(with: ["openid"]) {
                    try $0.set(
                        excludedContentOf: row, keyEncodingStrategy: .convertToSnakeCase, nilEncodingStrategy: .asNil)
                }
                .run()
        }
        cache.withLock { $0[openid] = Entry(progress: progress) }
    }

    /// Forgets the member's conversation.
    public func clear(_ openid: String) async throws {
        try await store.transaction { database in
            try await Self.clear(openid, in: database)
        }
        cache.withLock { $0[openid] = nil }
    }

    static func clear(_ openid: String, in database: any SQLDatabase) async throws {
        try await database.delete(from: "conversations").where("openid", .equal, openid).run()
    }

    /// Marks the conversation finished by the message `key` with `reply`, inside the caller's
    /// transaction. Call ``didFinish(_:progress:key:reply:)`` after the commit.
    static func finish(_ openid: String, key: String, reply: String, at now: Int64, in database: any SQLDatabase)
        async throws
    {
        try await database.update("conversations")
            .set("finished_key", to: key).set("finished_reply", to: reply).set("updated_at", to: now)
            .where("openid", .equal, openid)
            .run()
    }

    /// Records in memory what ``finish(_:key:reply:at:in:)`` committed.
    func didFinish(_ openid: String, progress: FormProgress, key: String, reply: String) {
        cache.withLock { $0[openid] = Entry(progress: progress, finishedKey: key, finishedReply: reply) }
    }

    /// Forgets the member's conversation in memory only (after a transaction that deleted it).
    func didClear(_ openid: String) {
        cache.withLock { $0[openid] = nil }
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys, so stored JSON is stable.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
