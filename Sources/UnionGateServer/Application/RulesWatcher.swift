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
    /// Where each reload is written to the audit log (who edited the files is not known here:
    /// the entry says the Replies folder changed, and when).
    var store: UnionStore?

    func run() async throws {
        let rules = self.rules
        let metrics = self.metrics
        let store = self.store
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler {
            let result = rules.reloadIfChanged(force: true)
            Self.record(result, metrics: metrics)
            Task { await Self.audit(result, rules: rules, store: store) }
        }
        hangup.resume()
        defer { hangup.cancel() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                let result = rules.reloadIfChanged()
                Self.record(result, metrics: metrics)
                await Self.audit(result, rules: rules, store: store)
            }
        }
    }

    static func audit(_ result: LiveRules.ReloadResult, rules: LiveRules, store: UnionStore?) async {
        guard result == .reloaded, let store else { return }
        let book = rules.engine.book
        try? await AuditLog.record(
            .repliesFolder, action: "rules.reload", record: "Replies",
            details: ["rules": String(book.rules.count), "units": String(book.join.organisation.units.count)],
            at: UnixTime.now(), in: store)
    }

    static func record(_ result: LiveRules.ReloadResult, metrics: GatewayMetrics) {
        switch result {
        case .unchanged: break
        case .reloaded: metrics.rulesReload(succeeded: true)
        case .rejected: metrics.rulesReload(succeeded: false)
        }
    }
}
