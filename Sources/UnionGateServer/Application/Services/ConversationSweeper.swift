import Logging
import ReplyRules
import ServiceLifecycle
import UnionServices

/// Sweeps conversations idle past their expiry from the store, every `interval`.
struct ConversationSweeper: Service {
    let desk: UnionServiceDesk
    let rules: LiveRules
    let unixTime: @Sendable () -> Int64
    let logger: Logger
    var interval = Duration.seconds(60)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                do {
                    let swept = try await desk.sweepConversations(book: rules.engine.book, at: unixTime())
                    if swept > 0 { logger.info("idle conversations swept", metadata: ["count": "\(swept)"]) }
                } catch {
                    logger.error("conversations not swept: \(error)")
                }
                // Cases past their due time go up to the parent unit's staff.
                do {
                    let escalated = try await Inbox(store: desk.store).escalateOverdue(
                        organisation: rules.engine.book.join.organisation, at: unixTime())
                    for memberCase in escalated {
                        logger.warning(
                            "overdue case escalated",
                            metadata: ["number": "\(memberCase.number)", "to": "\(memberCase.escalatedTo ?? "")"])
                    }
                } catch {
                    logger.error("overdue cases not escalated: \(error)")
                }
            }
        }
    }
}
