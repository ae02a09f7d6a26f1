import Dispatch
import Hummingbird
import ServiceLifecycle
import UnionServices

#if canImport(Glibc)
    import Glibc
#endif

/// Reloads the Replies folder when a file changes (checked every `interval`) and on SIGHUP.
struct RulesWatcher: Service {
    let rules: LiveRules
    let interval: Duration
    let metrics: GatewayMetrics

    func run() async throws {
        let rules = self.rules
        let metrics = self.metrics
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            Self.record(rules.reloadIfChanged(force: true), metrics: metrics)
        }
        hangup.resume()
        defer { hangup.cancel() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                Self.record(rules.reloadIfChanged(), metrics: metrics)
            }
        }
    }

    static func record(_ result: LiveRules.ReloadResult, metrics: GatewayMetrics) {
        switch result {
        case .unchanged: break
        case .reloaded: metrics.rulesReload(succeeded: true)
        case .rejected: metrics.rulesReload(succeeded: false)
        }
    }
}
