import Logging
import ServiceLifecycle
import UnionServices

/// Removes expired console sessions from the store, at start and then every `interval`: a
/// session that ended by idling leaves no row behind (the sessions' own driver only ever
/// reads them as absent).
struct SessionPurger: Service {
    let sessions: ConsoleSessions
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
            let purged = try await sessions.purge(at: unixTime())
            if purged > 0 { logger.debug("expired console sessions removed", metadata: ["count": "\(purged)"]) }
            return purged
        } catch {
            logger.debug("console sessions not purged: \(error)")
            return 0
        }
    }
}
