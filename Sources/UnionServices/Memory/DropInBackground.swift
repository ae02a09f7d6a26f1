import Synchronization

/// Lets go of `value` on a background task rather than here.
///
/// The member facts forget a whole generation at once: up to 50,000 members, each with strings
/// of their own. Freeing them one by one took milliseconds, on an event loop and under the
/// cache's lock, so every request in flight waited. Handed over here, the generation is freed on
/// the concurrency pool while the requests go on. (It costs resident memory: the webhook's retry
/// memory, which turns far more often, keeps its keys inline and empties its tables in place
/// instead.)
public func dropInBackground<Value: Sendable>(_ value: consuming Value) {
    let parcel = Parcel(value)
    Task.detached(priority: .background) { parcel.empty() }
}

/// Holds a value until the background task empties it, so that the task, not whichever of the
/// two lets go of the parcel last, frees what the value owns.
private final class Parcel<Value: Sendable>: Sendable {
    private let contents: Mutex<Value?>

    init(_ value: consuming Value) {
        contents = Mutex(.some(value))
    }

    func empty() {
        contents.withLock { $0 = nil }
    }
}
