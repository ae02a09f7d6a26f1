import Synchronization

/// Failed admin logins by client address. A guessing client is slowed: from its fourth failure
/// in `window` seconds each wrong answer waits longer (0.5 s, 1 s, 2 s … at most 8 s), and from
/// its twentieth the address is refused (429) without its token being looked at, until the
/// window has passed since its first failure. A right token clears the address.
///
/// Bounded: at most `capacity` addresses; when full, those whose window has passed are dropped
/// first, then the whole table (an attacker who fills it with addresses only resets itself).
final class AdminAttempts: Sendable {
    /// What to do with a request from an address.
    enum Admission: Equatable, Sendable {
        /// Check its token.
        case open
        /// Refuse it for this many seconds more.
        case locked(retryAfter: Int64)
    }

    /// What follows a failure: how long to hold the 401, and whether to log it.
    struct Penalty: Equatable, Sendable {
        var delay: Duration
        var failures: Int
        var log: Bool
    }

    let window: Int64
    let freeFailures: Int
    let lockoutAfter: Int
    let maximumDelay: Duration
    private let capacity: Int
    private let unixTime: @Sendable () -> Int64
    private let table = Mutex<[String: Record]>([:])

    private struct Record {
        var failures: Int
        var first: Int64
    }

    init(
        window: Int64 = 900, freeFailures: Int = 3, lockoutAfter: Int = 20, maximumDelay: Duration = .seconds(8),
        capacity: Int = 10_000, unixTime: @escaping @Sendable () -> Int64
    ) {
        self.window = window
        self.freeFailures = freeFailures
        self.lockoutAfter = lockoutAfter
        self.maximumDelay = maximumDelay
        self.capacity = capacity
        self.unixTime = unixTime
    }

    /// Whether a request from `address` may try its token.
    func admission(_ address: String) -> Admission {
        let now = unixTime()
        return table.withLock { table in
            guard let record = table[address] else { return .open }
            if now - record.first >= window {
                table[address] = nil
                return .open
            }
            return record.failures >= lockoutAfter ? .locked(retryAfter: record.first + window - now) : .open
        }
    }

    /// Counts a failure from `address`.
    func failed(_ address: String) -> Penalty {
        let now = unixTime()
        let failures = table.withLock { table -> Int in
            if var record = table[address], now - record.first < window {
                record.failures += 1
                table[address] = record
                return record.failures
            }
            if table.count >= capacity {
                table = table.filter { now - $0.value.first < window }
                if table.count >= capacity { table = [:] }
            }
            table[address] = Record(failures: 1, first: now)
            return 1
        }
        let beyond = failures - freeFailures
        var delay = Duration.zero
        if beyond > 0 {
            delay = min(.milliseconds(500) * (1 << min(beyond - 1, 10)), maximumDelay)
        }
        // The first failure, the first slowed one, the lockout, and every 50th after: enough to
        // see an attack in the log without the attack writing the log.
        let log = failures == 1 || failures == freeFailures + 1 || failures == lockoutAfter || failures % 50 == 0
        return Penalty(delay: delay, failures: failures, log: log)
    }

    /// A right token from `address`: its failures are forgotten.
    func succeeded(_ address: String) {
        table.withLock { table in _ = table.removeValue(forKey: address) }
    }

    /// How many addresses are remembered (for tests).
    var count: Int { table.withLock { $0.count } }
}
