/// Waits until `condition` holds, looking every 50 ms, or throws ``ConditionTimedOut`` after
/// `timeout`. A condition that throws counts as not holding yet.
public func waitUntil(timeout: Duration = .seconds(120), _ condition: @Sendable () async throws -> Bool)
    async throws
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw ConditionTimedOut(timeout: timeout)
}

/// A condition that did not hold within its time.
public struct ConditionTimedOut: Error, CustomStringConvertible {
    public let timeout: Duration
    public var description: String { "a condition did not hold within \(timeout)" }
}
