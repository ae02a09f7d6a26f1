import Logging
import ServiceLifecycle
import UnionServices

/// Replays the messages kept in the journal while the database could not write: every
/// `interval`, when some wait, each is handled in order and its reply sent later.
struct JournalReplayer: Service {
    let dispatcher: Dispatcher
    let journal: InboundJournal
    let lateDelivery: any LateDelivery
    let logger: Logger
    var interval = Duration.seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await replayOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Replays what waits; returns how many were handled.
    @discardableResult
    func replayOnce() async -> Int {
        guard !journal.pending.isEmpty else { return 0 }
        do {
            let handled = try await dispatcher.replayJournal { message, outcome in
                await lateDelivery.deliver(
                    outcome.replies, to: message.header.sender, account: message.header.account, reason: .journal)
            }
            if handled > 0 {
                logger.info(
                    "messages from the journal handled",
                    metadata: ["count": "\(handled)", "left": "\(journal.pending.count)"])
            }
            return handled
        } catch {
            logger.error("the journal could not be rewritten: \(error)")
            return 0
        }
    }
}
