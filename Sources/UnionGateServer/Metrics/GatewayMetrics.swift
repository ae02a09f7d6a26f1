import CoreMetrics
import Prometheus
import Synchronization

/// The gateway's counters and its reply-latency histogram, through swift-metrics with a
/// swift-prometheus registry of its own, exposed at `GET /metrics`. One registry per gateway
/// (not the process-wide default) so that tests running several gateways at once each see
/// their own figures.
final class GatewayMetrics: Sendable {
    /// How a webhook request ended.
    enum Outcome: String, Sendable, CaseIterable {
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

        /// The case's place in `allCases`.
        var slot: Int {
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

    /// Upper bounds of the reply-latency buckets.
    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .milliseconds(4500), .seconds(10),
    ]

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// By ``Outcome/slot``: a dictionary keyed by the enum would hash its raw string each time.
    private let outcomes: [CoreMetrics.Counter]
    private let latency: CoreMetrics.Timer
    private let duplicates: CoreMetrics.Counter
    private let decryptFailures: CoreMetrics.Counter
    private let signatureFailures: CoreMetrics.Counter
    private let replaysRefused: CoreMetrics.Counter
    private let lateDeliveries: CoreMetrics.Counter
    private let reloads: CoreMetrics.Counter
    private let reloadFailures: CoreMetrics.Counter
    /// Cases past their due time, read from the store when the metrics are asked for.
    private let overdue: Prometheus.Gauge
    private let overdueAid: Prometheus.Gauge
    private let aidEscalated: Prometheus.Counter
    /// Rule-hit counters by rule name, made on first use: looking one up in the registry takes
    /// its lock and builds a key, which is too much for every message.
    private let ruleHits = Mutex<[String: RuleHits]>([:])

    /// One rule's hits: the exported counter, and the same count for the console (since this
    /// instance started). Found with one lookup under one lock, counted outside it.
    private final class RuleHits: Sendable {
        let counter: CoreMetrics.Counter
        let count = Atomic<Int>(0)
        init(_ counter: CoreMetrics.Counter) { self.counter = counter }
    }

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["uniongate_reply_seconds"] = Self.buckets
        self.factory = factory
        outcomes = Outcome.allCases.map { outcome in
            Counter(label: "uniongate_requests_total", dimensions: [("outcome", outcome.rawValue)], factory: factory)
        }
        latency = Timer(label: "uniongate_reply_seconds", factory: factory)
        duplicates = Counter(label: "uniongate_duplicates_total", factory: factory)
        decryptFailures = Counter(label: "uniongate_decrypt_failures_total", factory: factory)
        signatureFailures = Counter(label: "uniongate_signature_failures_total", factory: factory)
        replaysRefused = Counter(label: "uniongate_replays_refused_total", factory: factory)
        lateDeliveries = Counter(label: "uniongate_late_deliveries_total", factory: factory)
        reloads = Counter(label: "uniongate_rules_reloads_total", factory: factory)
        reloadFailures = Counter(label: "uniongate_rules_reload_failures_total", factory: factory)
        overdue = registry.makeGauge(
            name: "uniongate_cases_overdue", help: "Cases waiting for an answer past their due time.")
        overdueAid = registry.makeGauge(
            name: "uniongate_aid_overdue", help: "Aid applications waiting at a level past its working days.")
        aidEscalated = registry.makeCounter(
            name: "uniongate_aid_escalated_total", help: "Aid application levels escalated to the unit above.")
    }

    /// Counts a request's outcome.
    func record(_ outcome: Outcome) {
        outcomes[outcome.slot].increment()
    }

    /// Counts an answered message: its outcome, its latency and the rule that answered (nil
    /// for a retry, or when no rule did).
    func answered(_ outcome: Outcome, latency: Duration, rule: String?) {
        outcomes[outcome.slot].increment()
        self.latency.recordNanoseconds(
            latency.components.seconds * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000)
        guard let rule else { return }
        let factory = self.factory
        let hits = ruleHits.withLock { hits -> RuleHits in
            if let found = hits[rule] { return found }
            let made = RuleHits(
                Counter(label: "uniongate_rule_hits_total", dimensions: [("rule", rule)], factory: factory))
            hits[rule] = made
            return made
        }
        hits.counter.increment()
        hits.count.add(1, ordering: .relaxed)
    }

    /// How many messages each rule answered since this instance started, by rule name.
    var hitsByRule: [String: Int] {
        ruleHits.withLock { hits in hits.mapValues { $0.count.load(ordering: .relaxed) } }
    }

    /// Counts a retry recognised as a duplicate.
    func duplicate() { duplicates.increment() }
    /// Counts an encrypted message that did not open.
    func decryptFailure() { decryptFailures.increment() }
    /// Counts a signature that did not match.
    func signatureFailure() { signatureFailures.increment() }
    /// Counts a request refused as stale or replayed.
    func replayRefused() { replaysRefused.increment() }
    /// Counts replies handed to late delivery.
    func lateDelivery(count: Int) { lateDeliveries.increment(by: count) }
    /// Counts a rules reload, successful or not.
    func rulesReload(succeeded: Bool) { (succeeded ? reloads : reloadFailures).increment() }

    /// Sets how many cases wait past their due time.
    func overdueCases(_ count: Int) { overdue.set(Double(count)) }
    func overdueAidApplications(_ count: Int) { overdueAid.set(Double(count)) }
    func aidEscalations(_ count: Int) { aidEscalated.increment(by: Int64(count)) }

    /// The metrics in Prometheus's text exposition format.
    func render() -> String {
        registry.emitToString()
    }
}
