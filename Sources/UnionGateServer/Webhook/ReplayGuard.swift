import Synchronization
import WeChatWire

/// Refuses old and replayed webhook requests. A signed URL is only as fresh as its timestamp,
/// and in plain mode the signature covers the URL, not the body: whoever saw one request could
/// send it again with another body. So:
/// - a timestamp further than `window` seconds from the server's clock is refused, and so is a
///   request without a timestamp or nonce;
/// - each timestamp and nonce is remembered with a digest of its body for (at least) the window:
///   the same URL with another body is refused, while WeChat's own retries, the same body
///   again, pass (and get the first answer from the ledger).
///
/// Bounded: two generations of at most `capacity` signed URLs each, turned every `window`
/// seconds or when the newer is full, whichever comes first.
final class ReplayGuard: Sendable {
    /// How far a timestamp may be from the server's clock, in seconds.
    let window: Int64
    private let capacity: Int
    private let unixTime: @Sendable () -> Int64
    private let seed = Int.random(in: .min ... .max)
    private let seen: Mutex<Generations>

    private struct Generations {
        var current: [Int: Int] = [:]
        var previous: [Int: Int] = [:]
        var started: Int64
    }

    init(window: Int64, capacity: Int = 100_000, unixTime: @escaping @Sendable () -> Int64) {
        self.window = window
        self.capacity = capacity
        self.unixTime = unixTime
        self.seen = Mutex(Generations(started: unixTime()))
    }

    /// Why the request's timestamp and nonce are not acceptable, or nil when they are.
    func refusal(of query: WebhookQuery) -> String? {
        guard let timestamp = query.timestamp, !timestamp.isEmpty, let nonce = query.nonce, !nonce.isEmpty else {
            return "the timestamp or the nonce is empty"
        }
        guard let seconds = Int64(timestamp) else { return "the timestamp is not a number of seconds" }
        let now = unixTime()
        guard abs(now - seconds) <= window else {
            return "the timestamp is \(seconds - now) s from the server's clock (at most \(window) s either way)"
        }
        return nil
    }

    /// Remembers the request's URL with its body (or what stands for the body: in the encrypted
    /// modes, the verified `msg_signature`); why it is refused when the URL came before with
    /// another body, or nil.
    func refusal(of query: WebhookQuery, body: UnsafeRawBufferPointer) -> String? {
        var url = Hasher()
        url.combine(seed)
        url.combine(query.timestamp)
        url.combine(query.nonce)
        var content = Hasher()
        content.combine(seed)
        content.combine(bytes: body)
        let key = url.finalize()
        let digest = content.finalize()
        let now = unixTime()
        let earlier = seen.withLock { generations -> Int? in
            if let digest = generations.current[key] ?? generations.previous[key] { return digest }
            if now - generations.started >= window || generations.current.count >= capacity {
                // Keeping the tables' room: grown again from empty, the newer one rehashed its
                // entries at every doubling, up to a millisecond at a time under the lock.
                swap(&generations.previous, &generations.current)
                generations.current.removeAll(keepingCapacity: true)
                generations.started = now
            }
            generations.current[key] = digest
            return nil
        }
        guard let earlier, earlier != digest else { return nil }
        return "the signed URL (timestamp and nonce) came before with another body"
    }
}
