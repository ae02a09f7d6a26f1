import Foundation
import ServiceLifecycle
import UnionServices

/// Keeps the store open while the server runs, and closes it after everything else has stopped.
/// Meanwhile it looks for writes from outside the process (`uniongate members approve`), so
/// that what the services remember about members is never older than a quarter of a second.
struct StoreService: Service {
    let store: UnionStore
    /// Messages and new followers counted per day, added to the store every few seconds and
    /// once more before it closes.
    var counts: DailyCounts?
    var interval = Duration.milliseconds(250)
    /// The counts are written every this many looks (five seconds).
    var countsEvery = 20
    /// While writes fail, a small write is tried every this many looks (a second), so the
    /// store is known to write again even when no member writes.
    var probeEvery = 4

    func run() async throws {
        let store = self.store
        await cancelWhenGracefulShutdown {
            var looks = 0
            while !Task.isCancelled {
                try? await store.noticeOutsideWrites()
                looks += 1
                if store.writesFailing, looks % probeEvery == 0 {
                    try? await store.probeWrite(at: UnixTime.now())
                }
                if let counts, looks % countsEvery == 0, !store.writesFailing {
                    try? await counts.flush(to: store)
                }
                try? await Task.sleep(for: interval)
            }
        }
        try? await counts?.flush(to: store)
        // Closed in a task of its own, so that a cancelled group (a failed start, say) still closes it.
        await Task { await store.close() }.value
    }
}
