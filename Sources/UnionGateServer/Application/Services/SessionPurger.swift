import Logging
import ServiceLifecycle
import UnionServices

/// Removes expired console and member sessions from the store, at start and then every
/// `interval`: a session that ended by idling leaves no row behind (the sessions' own driver
/// only ever reads them as absent). Personal links and card codes a day past their expiry go too.
struct SessionPurger: Service {
    let sessions: ConsoleSessions
    /// The member pages' links, when the gateway serves them.
    let access: MemberAccess?
    let cards: MemberCards
    let unixTime: @Sendable () -> Int64
    let logger: Logger
    var interval = Duration.seconds(600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await purgeOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Purges once; returns how many sessions were removed.
    @discardableResult
    func purgeOnce() async -> Int {
        do {
            let now = unixTime()
            let purged = try await sessions.purge(at: now)
            if purged > 0 { logger.debug("expired sessions removed", metadata: ["count": "\(purged)"]) }
            let links = try await access?.purgeLinks(at: now) ?? 0
            let codes = try await cards.purge(at: now)
            let drafts = try await AidDrafts(store: cards.store).purge(at: now)
            if drafts > 0 { logger.debug("old aid drafts removed", metadata: ["count": "\(drafts)"]) }
            if links + codes > 0 {
                logger.debug(
                    "old member links and card codes removed", metadata: ["links": "\(links)", "codes": "\(codes)"])
            }
            return purged
        } catch {
            logger.debug("console sessions not purged: \(error)")
            return 0
        }
    }
}
