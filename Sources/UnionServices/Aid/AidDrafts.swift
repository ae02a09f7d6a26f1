import Foundation
import SQLKit

/// A member's application in progress: what they typed so far and the step they reached.
public struct AidDraft: Sendable, Hashable {
    public var answers: [String: String]
    /// The step to show next (index into the workflow's steps).
    public var step: Int
    public var updatedAt: Int64
}

/// Applications in progress, saved between their steps (one per member and workflow), removed
/// when the application is submitted, and purged after a month untouched.
public struct AidDrafts: Sendable {
    let store: UnionStore

    public init(store: UnionStore) {
        self.store = store
    }

    /// How long an untouched draft is kept.
    public static let keptSeconds: Int64 = 30 * 86_400

    struct Row: Codable {
        var answers: String
        var step: Int
        var updatedAt: Int64
    }

    /// The member's draft of `workflow`, if any.
    public func load(openid: String, workflow: String) async throws -> AidDraft? {
        let row = try await store.read { database in
            try await database.select().columns("answers", "step", "updated_at").from("aid_drafts")
                .where("openid", .equal, openid).where("workflow", .equal, workflow)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        guard let row else { return nil }
        let answers = (try? JSONDecoder().decode([String: String].self, from: Data(row.answers.utf8))) ?? [:]
        return AidDraft(answers: answers, step: row.step, updatedAt: row.updatedAt)
    }

    /// Keeps what the member typed and the step they go on with.
    public func save(openid: String, workflow: String, answers: [String: String], step: Int, at now: Int64)
        async throws
    {
        let encoded = try JSONEncoder.sortedText(answers)
        try await store.transaction { database in
            try await Self.remove(openid: openid, workflow: workflow, in: database)
            try await database.insert(into: "aid_drafts")
                .columns("openid", "workflow", "answers", "step", "updated_at")
                .values(SQLBind(openid), SQLBind(workflow), SQLBind(encoded), SQLBind(step), SQLBind(now))
                .run()
        }
    }

    static func remove(openid: String, workflow: String, in database: any SQLDatabase) async throws {
        try await database.delete(from: "aid_drafts").where("openid", .equal, openid)
            .where("workflow", .equal, workflow).run()
    }

    /// Removes drafts untouched for ``keptSeconds``; returns how many.
    public func purge(at now: Int64) async throws -> Int {
        try await store.transaction { database in
            let old = try await database.count("aid_drafts") {
                $0.where("updated_at", .lessThan, now - Self.keptSeconds)
            }
            if old > 0 {
                try await database.delete(from: "aid_drafts").where("updated_at", .lessThan, now - Self.keptSeconds)
                    .run()
            }
            return old
        }
    }
}
