import ServiceLifecycle
import UnionServices

/// Runs the outbox worker for as long as the server runs.
struct OutboxService: Service {
    let worker: OutboxWorker

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await worker.run()
        }
    }
}
