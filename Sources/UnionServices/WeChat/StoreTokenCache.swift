import Foundation
import SQLKit
import WeChatAPI

/// The access token kept in the store's settings, shared by every process on the store, with a
/// refresh lease taken in a transaction so that one caller at a time refreshes.
public struct StoreTokenCache: AccessTokenCache {
    static let tokenKey = "wechat_access_token"
    static let leaseKey = "wechat_token_lease"
    /// The advisory lock around the lease.
    static let leaseLock: Int64 = 0x5765_4368_6174_546B  // "WeChatTk"
    let store: UnionStore

    /// Creates the cache over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    public func token() async throws -> CachedToken? {
        guard let text = try await store.setting(Self.tokenKey) else { return nil }
        return try? JSONDecoder().decode(CachedToken.self, from: Data(text.utf8))
    }

    public func store(_ token: CachedToken) async throws {
        let text = String(decoding: try JSONEncoder().encode(token), as: UTF8.self)
        try await store.setSetting(Self.tokenKey, value: text)
    }

    public func acquireRefreshLease(holder: String, until: Int64, now: Int64) async throws -> Bool {
        let dialect = store.dialect
        return try await store.transaction { database in
            // Instances on PostgreSQL read the lease one at a time (SQLite's write lock does it).
            try await dialect.lockForTransaction(Self.leaseLock, database)
            if let lease = try await UnionStore.setting(Self.leaseKey, in: database) {
                let parts = lease.split(separator: "|")
                if parts.count == 2, let expiry = Int64(parts[1]), expiry > now, parts[0] != holder {
                    return false
                }
            }
            try await UnionStore.setSetting(Self.leaseKey, value: "\(holder)|\(until)", at: now, in: database)
            return true
        }
    }

    public func releaseRefreshLease(holder: String) async throws {
        try await store.removeSetting(Self.leaseKey, ifValueStartsWith: holder + "|")
    }
}
