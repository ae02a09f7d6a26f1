import Logging
import ServiceLifecycle
import UnionServices

/// Downloads members' media into the inbox, every `interval`, for as long as the server runs.
struct MediaService: Service {
    let fetcher: MediaFetcher
    let interval: Duration
    let unixTime: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await fetcher.runOnce(at: unixTime())
                } catch {
                    logger.error("media downloads failed: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
