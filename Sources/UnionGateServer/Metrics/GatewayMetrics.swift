import ReplyRules
import Synchronization

/// The gateway's counters and its reply-latency histogram, rendered in Prometheus's text format
/// at `GET /metrics`. Kept per gateway instance (not in a process-wide registry) so that tests
/// running several gateways at once each see their own figures.
public final class GatewayMetrics: Sendable {
    /// How a webhook request ended.
    public enum Outcome: String, Sendable, CaseIterable {
        /// A reply message was sent.
        case replied
        /// `success` was sent: nothing to say.
        case noReply = "no_reply"
        /// The handler missed the deadline: `success` now, the reply later.
        case deadline
        /// The URL verification succeeded.
        case verified
        /// Refused: a signature did not match (403).
        case forbidden
        /// Refused: the body was not an acceptable message (400).
        case badRequest = "bad_request"
        /// Refused: the body was over the limit (413).
        case tooLarge = "too_large"

        /// Its place in `allCases`, for counting in an array.
        var index: Int {
            switch self {
            case .replied: 0
            case .noReply: 1
            case .deadline: 2
            case .verified: 3
            case .forbidden: 4
            case .badRequest: 5
            case .tooLarge: 6
            }
        }
    }

    /// Upper bounds of the latency buckets, in seconds.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 4.5, 10]

    private struct State {
        var outcomes = [Int](repeating: 0, count: Outcome.allCases.count)
        var ruleHits: [Bytewise: Int] = [:]
        var duplicates = 0
        var decryptFailures = 0
        var signatureFailures = 0
        var lateDeliveries = 0
        var rulesReloads = 0
        var rulesReloadFailures = 0
        var bucketCounts = [Int](repeating: 0, count: GatewayMetrics.buckets.count)
        var latencySum = 0.0
        var latencyCount = 0

        mutating func observe(_ seconds: Double) {
            latencySum += seconds
            latencyCount += 1
            // Buckets are cumulative: every bound at or above the value counts it.
            var index = GatewayMetrics.buckets.count
            while index > 0, seconds <= GatewayMetrics.buckets[index - 1] {
                index -= 1
                bucketCounts[index] += 1
            }
        }
    }

    private let state = Mutex(State())

    /// Creates an empty set of metrics.
    public init() {}

    /// Counts a request's outcome, and its latency when it reached the handler.
    public func record(_ outcome: Outcome, seconds: Double? = nil) {
        state.withLock { state in
            state.outcomes[outcome.index] += 1
            if let seconds { state.observe(seconds) }
        }
    }

    /// Counts an answered message in one step: its outcome, its latency and the rule that
    /// answered (nil for a retry, or when no rule did).
    public func answered(_ outcome: Outcome, seconds: Double, rule: String?) {
        state.withLock { state in
            state.outcomes[outcome.index] += 1
            state.observe(seconds)
            if let rule { state.ruleHits[Bytewise(rule), default: 0] += 1 }
        }
    }

    /// Counts a retry recognised as a duplicate.
    public func duplicate() { state.withLock { $0.duplicates += 1 } }
    /// Counts an encrypted message that did not open.
    public func decryptFailure() { state.withLock { $0.decryptFailures += 1 } }
    /// Counts a signature that did not match.
    public func signatureFailure() { state.withLock { $0.signatureFailures += 1 } }
    /// Counts replies handed to late delivery.
    public func lateDelivery(count: Int) { state.withLock { $0.lateDeliveries += count } }
    /// Counts a rules reload, successful or not.
    public func rulesReload(succeeded: Bool) {
        state.withLock { succeeded ? ($0.rulesReloads += 1) : ($0.rulesReloadFailures += 1) }
    }

    /// The number of requests that ended with `outcome`.
    public func count(_ outcome: Outcome) -> Int { state.withLock { $0.outcomes[outcome.index] } }
    /// The number of duplicates recognised.
    public var duplicates: Int { state.withLock { $0.duplicates } }
    /// The number of replies handed to late delivery.
    public var lateDeliveries: Int { state.withLock { $0.lateDeliveries } }

    /// The metrics in Prometheus's text exposition format.
    public func render() -> String {
        let state = state.withLock { $0 }
        var out = ""
        out += "# HELP uniongate_requests_total Webhook requests by outcome.\n# TYPE uniongate_requests_total counter\n"
        for outcome in Outcome.allCases {
            out += "uniongate_requests_total{outcome=\"\(outcome.rawValue)\"} \(state.outcomes[outcome.index])\n"
        }
        out += "# HELP uniongate_reply_seconds Time from request to reply for messages that reached the handler.\n"
        out += "# TYPE uniongate_reply_seconds histogram\n"
        for (index, bound) in Self.buckets.enumerated() {
            out += "uniongate_reply_seconds_bucket{le=\"\(bound)\"} \(state.bucketCounts[index])\n"
        }
        out += "uniongate_reply_seconds_bucket{le=\"+Inf\"} \(state.latencyCount)\n"
        out += "uniongate_reply_seconds_sum \(state.latencySum)\n"
        out += "uniongate_reply_seconds_count \(state.latencyCount)\n"
        out +=
            "# HELP uniongate_rule_hits_total Messages answered, by rule.\n# TYPE uniongate_rule_hits_total counter\n"
        for (rule, hits) in state.ruleHits.map({ ($0.key.string, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            out += "uniongate_rule_hits_total{rule=\"\(Self.escape(rule))\"} \(hits)\n"
        }
        let counters: [(String, String, Int)] = [
            ("uniongate_duplicates_total", "WeChat retries answered from the first attempt.", state.duplicates),
            ("uniongate_decrypt_failures_total", "Encrypted messages that did not open.", state.decryptFailures),
            ("uniongate_signature_failures_total", "Requests whose signature did not match.", state.signatureFailures),
            ("uniongate_late_deliveries_total", "Replies handed to late delivery.", state.lateDeliveries),
            ("uniongate_rules_reloads_total", "Successful reloads of the Replies folder.", state.rulesReloads),
            (
                "uniongate_rules_reload_failures_total", "Reloads refused because a rule file had errors.",
                state.rulesReloadFailures
            ),
        ]
        for (name, help, value) in counters {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        return out
    }

    static func escape(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

import Foundation
