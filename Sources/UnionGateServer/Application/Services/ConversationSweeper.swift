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
    /// Counts escalated aid levels (the metrics).
    var escalations: (@Sendable (Int) -> Void)? = nil

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
                // The day-before reminders of activities.
                do {
                    let reminded = try await Activities(store: desk.store).remind(
                        at: unixTime(), utcOffsetMinutes: rules.engine.book.settings.utcOffsetMinutes)
                    if reminded > 0 { logger.info("activity reminders queued", metadata: ["count": "\(reminded)"]) }
                } catch {
                    logger.error("activity reminders not queued: \(error)")
                }
                // Aid applications past their level's working days go to the unit above it.
                do {
                    let escalated = try await AidApplications(store: desk.store).escalateOverdue(
                        organisation: rules.engine.book.join.organisation, at: unixTime())
                    for application in escalated {
                        logger.warning(
                            "overdue aid level escalated",
                            metadata: [
                                "number": "\(application.number)", "to": "\(application.escalatedTo ?? "")",
                            ])
                    }
                    if !escalated.isEmpty { escalations?(escalated.count) }
                } catch {
                    logger.error("overdue aid applications not escalated: \(error)")
                }
            }
        }
    }
}
