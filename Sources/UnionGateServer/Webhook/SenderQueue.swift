import Synchronization

/// One member's messages are handled one at a time, in the order they reached the ledger: a
/// second quick message waits for the first to finish instead of racing it over the member's
/// form. Members do not wait for each other.
///
/// A turn is taken synchronously (so taking turns follows arrival), then awaited.
final class SenderQueue: Sendable {
    /// A place in one member's line.
    final class Turn: Sendable {
        fileprivate let sender: String
        private let gate = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

        fileprivate init(sender: String) { self.sender = sender }

        /// Returns when it is this turn's time.
        func wait() async {
            await withCheckedContinuation { continuation in
                let open = gate.withLock { gate -> Bool in
                    if gate.open { return true }
                    gate.waiter = continuation
                    return false
                }
                if open { continuation.resume() }
            }
        }

        fileprivate func open() {
            let waiter = gate.withLock { gate -> CheckedContinuation<Void, Never>? in
                gate.open = true
                defer { gate.waiter = nil }
                return gate.waiter
            }
            waiter?.resume()
        }
    }

    /// Each member with a message in hand: the turns in order, the first being handled.
    private let lines = Mutex<[String: [Turn]]>([:])

    /// Takes a place in the member's line.
    func enqueue(_ sender: String) -> Turn {
        let turn = Turn(sender: sender)
        let first = lines.withLock { lines -> Bool in
            guard lines[sender] != nil else {
                lines[sender] = [turn]
                return true
            }
            lines[sender]!.append(turn)
            return false
        }
        if first { turn.open() }
        return turn
    }

    /// Ends the turn, and opens the next in its member's line.
    func leave(_ turn: Turn) {
        let next = lines.withLock { lines -> Turn? in
            guard var line = lines[turn.sender] else { return nil }
            line.removeAll { $0 === turn }
            guard let next = line.first else {
                lines[turn.sender] = nil
                return nil
            }
            lines[turn.sender] = line
            return next
        }
        next?.open()
    }

    /// How many of the member's messages are being handled or waiting.
    func count(_ sender: String) -> Int {
        lines.withLock { $0[sender]?.count ?? 0 }
    }

    /// Whether a message of the member's is being handled or waiting.
    func isBusy(_ sender: String) -> Bool {
        lines.withLock { $0[sender] != nil }
    }
}
