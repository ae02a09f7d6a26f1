import UnionServices

/// Requests waiting for a message's handler, each until its deadline. Not thread-safe:
/// ``DeliveryLedger`` keeps it under its lock.
struct ReplyWaiters<Value: Sendable> {
    typealias Key = MessageKey.Identity

    /// One waiting request.
    struct Waiter {
        /// True when the request was a retry.
        let duplicate: Bool
        let continuation: CheckedContinuation<Value, Never>
    }

    private var waiting: [Key: [Waiter]] = [:]
    /// Deadlines in the order requests began waiting; as every wait is equally long this is
    /// also deadline order, so expiry only looks at the front.
    private var deadlines: [(deadline: Duration, key: Key)] = []
    private var head = 0

    /// Adds a request waiting for `key` until `deadline`.
    mutating func add(_ waiter: Waiter, for key: Key, until deadline: Duration) {
        waiting[key, default: []].append(waiter)
        deadlines.append((deadline, key))
    }

    /// The requests waiting for `key`, which stop waiting.
    mutating func take(_ key: Key) -> [Waiter] {
        waiting.removeValue(forKey: key) ?? []
    }

    /// The messages with a request whose deadline has passed at `now`, each with all of its
    /// waiters: the first deadline to pass ends the wait for every attempt of that message.
    mutating func expired(at now: Duration) -> [(key: Key, waiters: [Waiter])] {
        var result: [(key: Key, waiters: [Waiter])] = []
        while head < deadlines.count, deadlines[head].deadline <= now {
            let key = deadlines[head].key
            head += 1
            if let waiters = waiting.removeValue(forKey: key) { result.append((key, waiters)) }
        }
        if head > 1024, head * 2 > deadlines.count {
            deadlines.removeFirst(head)
            head = 0
        }
        return result
    }

    /// How many messages have requests waiting.
    var count: Int { waiting.count }
}
