import Crypto
import Foundation
import SQLKit

/// How members get into their pages (`/m/`) without a password.
public enum MemberSignIn: String, Sendable, Hashable, CaseIterable {
    /// WeChat's web authorisation (`snsapi_base`): certified 服务号 only.
    case oauth
    /// A personal link, sent in the chat when the member asks (「会员中心」), that works once for
    /// ten minutes: every account type.
    case link
}

/// The member pages' keys and one-time links: a key kept in the store (every instance shares
/// it) signs the web authorisation's `state` and makes each personal link from the message that
/// asked for it, so WeChat's retry of that message gets the same link.
///
/// A link is kept as the SHA-256 digest of its token: whoever reads the database cannot use it.
public struct MemberAccess: Sendable {
    let store: UnionStore
    private let key: SymmetricKey

    /// How long a personal link works, in seconds.
    public static let linkLifetime: Int64 = 600
    /// How long a web authorisation's `state` is accepted, in seconds.
    public static let stateLifetime: Int64 = 600
    /// The setting the key is kept under.
    static let keySetting = "member_pages_key"

    /// The access over `store`, its key read (or made, the first time).
    public static func open(store: UnionStore) async throws -> MemberAccess {
        var random = SystemRandomNumberGenerator()
        let fresh = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let stored = try await store.settingInsertingIfAbsent(keySetting, value: fresh)
        return MemberAccess(store: store, key: SymmetricKey(data: Array(stored.value.utf8)))
    }

    private init(store: UnionStore, key: SymmetricKey) {
        self.store = store
        self.key = key
    }

    /// The key's MAC of `text`, as 32 hex digits.
    func mac(_ text: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)
        return Self.hex(Array(code).prefix(16))
    }

    // MARK: Personal links

    /// The personal link's token for the member's message `messageKey`, recorded the first time
    /// (a retry of the message records nothing and gets the same token).
    public func issueLink(for openid: String, messageKey: String, at now: Int64) async throws -> String {
        let token = mac("link|" + messageKey) + mac("link2|" + messageKey)
        let digest = Self.digest(token)
        try await store.transaction { database in
            try await database.insert(into: "member_links")
                .columns("token_sha256", "openid", "created_at", "expires_at")
                .values(SQLBind(digest), SQLBind(openid), SQLBind(now), SQLBind(now + Self.linkLifetime))
                .ignoringConflicts(with: ["token_sha256"])
                .run()
        }
        return token
    }

    /// What opening a personal link found.
    public enum Redemption: Sendable, Hashable {
        /// The link was good: the member it was made for.
        case member(String)
        /// The link was opened before (by this member, or by whoever it was forwarded to).
        case used(openid: String)
        /// The link is older than ten minutes.
        case expired
        /// No such link.
        case unknown
    }

    /// Opens a personal link: the first opening within its lifetime gets the member, every
    /// later one is `.used`.
    public func redeem(_ token: String, at now: Int64) async throws -> Redemption {
        guard token.count == 64, token.allSatisfy(\.isHexDigit) else { return .unknown }
        let digest = Self.digest(token.lowercased())
        struct Row: Decodable {
            var openid: String
            var expiresAt: Int64
            var usedAt: Int64?
        }
        return try await store.transaction { database in
            guard
                let row = try await database.select().columns("openid", "expires_at", "used_at").from("member_links")
                    .where("token_sha256", .equal, digest)
                    .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
            else { return .unknown }
            if row.usedAt != nil { return .used(openid: row.openid) }
            if row.expiresAt <= now { return .expired }
            let taken = try await database.update("member_links").set("used_at", to: now)
                .where("token_sha256", .equal, digest).where("used_at", .is, SQLLiteral.null)
                .returning("openid").all()
            return taken.isEmpty ? .used(openid: row.openid) : .member(row.openid)
        }
    }

    /// Forgets links that expired a day before `now`; returns how many.
    @discardableResult
    public func purgeLinks(at now: Int64) async throws -> Int {
        try await store.transaction { database in
            let old = try await database.count("member_links") { $0.where("expires_at", .lessThan, now - 86_400) }
            try await database.delete(from: "member_links").where("expires_at", .lessThan, now - 86_400).run()
            return old
        }
    }

    // MARK: Web authorisation

    /// A `state` for WeChat's web authorisation, tied to `nonce` (kept in the browser's cookie):
    /// letters and digits only, as WeChat requires.
    public func state(nonce: String, at now: Int64) -> String {
        let expires = now + Self.stateLifetime
        return "\(expires)x\(nonce)x" + mac("state|\(expires)|\(nonce)")
    }

    /// Whether `state` is one this gateway made for `nonce` and has not expired.
    public func acceptsState(_ state: String, nonce: String?, at now: Int64) -> Bool {
        let parts = state.split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 3, let expires = Int64(parts[0]), let nonce, !nonce.isEmpty, parts[1] == nonce,
            expires > now, expires <= now + Self.stateLifetime
        else { return false }
        return Self.constantTimeEqual(String(parts[2]), mac("state|\(expires)|\(nonce)"))
    }

    // MARK: Helpers

    static func digest(_ token: String) -> String {
        hex(Array(SHA256.hash(data: Array(token.utf8))))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether two strings are equal, in time that does not depend on where they differ.
    public static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8)
        let b = Array(right.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
