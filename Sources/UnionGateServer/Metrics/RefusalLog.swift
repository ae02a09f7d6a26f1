import Logging
import Synchronization
import UnionServices

/// Log lines about refused requests, which a hostile client controls the number and the
/// content of. Each refusal is counted in the metrics; its line is written only while a token
/// bucket allows (a burst of `burst`, then `perSecond`), and the next line that is written says
/// how many were held back. What the client sent is cut to about 160 bytes, with control and
/// direction characters escaped and phone numbers masked, so no line passes ~200 bytes of
/// client text and none can rewrite a terminal.
final class RefusalLog: Sendable {
    private let logger: Logger
    private let perSecond: Double
    private let burst: Double
    private let now: @Sendable () -> ContinuousClock.Instant
    private let bucket: Mutex<Bucket>

    private struct Bucket {
        var tokens: Double
        var refilled: ContinuousClock.Instant
        var held: Int
    }

    init(
        logger: Logger, perSecond: Double = 5, burst: Double = 20,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.logger = logger
        self.perSecond = perSecond
        self.burst = burst
        self.now = now
        self.bucket = Mutex(Bucket(tokens: burst, refilled: now(), held: 0))
    }

    /// Writes `message` at warning level with `details` cleaned, if the bucket allows.
    func warning(_ message: Logger.Message, _ details: [String: String]) {
        let instant = now()
        let held = bucket.withLock { bucket -> Int? in
            let elapsed = bucket.refilled.duration(to: instant)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * perSecond)
            bucket.refilled = instant
            guard bucket.tokens >= 1 else {
                bucket.held += 1
                return nil
            }
            bucket.tokens -= 1
            defer { bucket.held = 0 }
            return bucket.held
        }
        guard let held else { return }
        var metadata = Logger.Metadata()
        for (key, value) in details { metadata[key] = .string(Self.clean(value)) }
        if held > 0 { metadata["held_back"] = "\(held)" }
        logger.warning(message, metadata: metadata)
    }

    /// `text` made safe for one log line: phone numbers masked, control characters, DEL, C1
    /// and direction overrides written as `\u{…}`, and cut to at most `limit` UTF-8 bytes on a
    /// character boundary (with `…` when cut).
    static func clean(_ text: String, limit: Int = 160) -> String {
        var out = ""
        var bytes = 0
        for scalar in PersonalData.maskPhones(text).unicodeScalars {
            let piece = isUnsafe(scalar) ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            let size = piece.utf8.count
            if bytes + size > limit {
                out += "…"
                break
            }
            out += piece
            bytes += size
        }
        return out
    }

    private static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F..<0xA0: true
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: true
        default: false
        }
    }
}
