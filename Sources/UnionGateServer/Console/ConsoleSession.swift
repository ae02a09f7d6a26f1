import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import UnionServices

/// A signed-in console session: who, and the token every form of theirs carries.
struct ConsoleSession: Codable, Sendable, Equatable {
    /// The staff account's name, or `root` for the holder of `UNIONGATE_ADMIN_TOKEN`.
    var account: String
    /// The token a form must carry to be accepted (the cookie alone is not enough).
    var csrf: String
    /// When they signed in, Unix seconds.
    var signedInAt: Int64

    /// A random token for forms: 32 bytes, hex.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

}

/// Hummingbird's key–value storage for sessions, kept in the union's store so that every
/// instance behind a load balancer knows every session. Expired sessions are purged by
/// `SessionPurger`.
struct StoreSessionDriver: PersistDriver {
    let sessions: ConsoleSessions
    let unixTime: @Sendable () -> Int64
    let logger: Logger

    func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        if try await sessions.get(key, at: unixTime()) != nil { throw PersistError.duplicate }
        try await set(key: key, value: value, expires: expires)
    }

    func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let json = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
        let lifetime = expires?.components.seconds ?? 86_400
        try await sessions.put(key, value: json, expiresAt: unixTime() + lifetime)
    }

    func get<Object: Codable & Sendable>(key: String, as: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: Object.self)?.object
    }

    func getWithTTL<Object: Codable & Sendable>(key: String, as: Object.Type) async throws
        -> (object: Object, ttl: Duration?)?
    {
        let now = unixTime()
        guard let entry = try await sessions.get(key, at: now) else { return nil }
        let object = try JSONDecoder().decode(Object.self, from: Data(entry.value.utf8))
        return (object, .seconds(entry.expiresAt - now))
    }

    func remove(key: String) async throws {
        try await sessions.remove(key)
    }
}
