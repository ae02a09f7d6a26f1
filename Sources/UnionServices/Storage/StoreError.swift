/// A store problem a person can act on.
public struct StoreError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
