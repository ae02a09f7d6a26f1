/// An access token and when it expires.
public struct CachedToken: Sendable, Hashable, Codable {
    /// The token.
    public var token: String
    /// When it expires, Unix seconds.
    public var expiresAt: Int64

    /// Creates a cached token.
    public init(token: String, expiresAt: Int64) {
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// Where the access token is kept, shared by every process on one store, with a lease so that
/// only one caller at a time asks WeChat for a new one.
public protocol AccessTokenCache: Sendable {
    /// The cached token, if any.
    func token() async throws -> CachedToken?
    /// Stores a new token.
    func store(_ token: CachedToken) async throws
    /// Takes the refresh lease until `until` (Unix seconds) if nobody holds it; true when taken.
    func acquireRefreshLease(holder: String, until: Int64, now: Int64) async throws -> Bool
    /// Gives the lease back.
    func releaseRefreshLease(holder: String) async throws
}
