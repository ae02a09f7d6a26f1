import Logging
import ReplyRules
import WeChatWire

/// What the desk's services share: the store, the conversations in progress, who else counts
/// as a member, the members with held notices, the logger.
struct DeskParts: Sendable {
    let store: UnionStore
    let conversations: ConversationStore
    /// Who else counts as a member (for examples that play one).
    let extraMembers: (any MembershipDirectory)?
    /// The gateway's public address, for the hotline page link.
    let publicURL: String?
    let held: HeldNotices
    /// How members reach their pages, when the gateway serves them.
    let memberPages: MemberCenterService.Entry?
    let logger: Logger

    /// The member's latest application, from memory or from the store (then remembered).
    func latestApplication(_ openid: String) async throws -> MembershipApplication? {
        if case .some(let known) = store.facts.application(for: openid) { return known }
        let facts = store.facts
        return try await store.read { database in
            let application = try await MembershipRegistry.latest(for: openid, in: database)
            facts.remember(application: application, for: openid)
            return application
        }
    }

    /// Whether `openid`'s latest application is approved (or the extra members include them).
    func isMember(_ openid: String) async throws -> Bool {
        if try await latestApplication(openid)?.status == .approved { return true }
        return try await extraMembers?.isMember(openid) ?? false
    }

    /// Whether memory knows `openid` to be a member (nil when it cannot tell).
    func membershipFromMemory(_ openid: String) -> Bool? {
        guard case .some(let application) = store.facts.application(for: openid) else { return nil }
        if application?.status == .approved { return true }
        return extraMembers == nil ? false : nil
    }

    /// Runs `body`; when another process changed the member's conversation meanwhile, reads it
    /// again and runs `body` once more (three times at most).
    func retryingConflicts<Value>(_ body: () async throws -> Value) async throws -> Value {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let conflict as ConversationConflict where attempt < 3 {
                attempt += 1
                try await conversations.refresh(conflict.openid)
            }
        }
    }

    /// Starts `form` for `openid`, or repeats its question when they are already filling it in.
    func start(_ form: FormConversation, openid: String, at now: Int64, restart: Bool = false) async throws
        -> [ReplyBody]
    {
        try await retryingConflicts {
            if !restart, let entry = conversations.entry(for: openid), entry.finishedKey == nil,
                entry.progress.form == form.form.name
            {
                return [.text("您正在填写「\(form.form.title)」。\n\n" + form.prompt(for: entry.progress))]
            }
            guard case .ask(let progress, let reply) = form.start(at: now) else { return [] }
            try await conversations.save(progress, for: openid)
            return [.text(reply)]
        }
    }
}
