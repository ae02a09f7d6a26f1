@testable import UnionGateServer

/// Reading the gateway's figures back from its Prometheus exposition, for tests.
extension GatewayMetrics {
    /// The value of one sample, such as `uniongate_duplicates_total` or
    /// `uniongate_requests_total{outcome="replied"}`, read back from the exposition; 0 when absent.
    func sample(_ name: String) -> Int {
        let prefix = name + " "
        for line in render().split(separator: "\n") where line.hasPrefix(prefix) {
            return Int(Double(line.dropFirst(prefix.count)) ?? 0)
        }
        return 0
    }

    /// The number of requests that ended with `outcome`.
    func count(_ outcome: Outcome) -> Int { sample("uniongate_requests_total{outcome=\"\(outcome.rawValue)\"}") }
    /// The number of duplicates recognised.
    var duplicateCount: Int { sample("uniongate_duplicates_total") }
    /// The number of replies handed to late delivery.
    var lateDeliveryCount: Int { sample("uniongate_late_deliveries_total") }
}
