import Foundation
import SQLKit

/// The e-member card's code: eight digits that change every minute, which staff type (or scan)
/// in the console to see whose card it is. A code is kept with the minute it belongs to and is
/// accepted until a minute after that one ends (a member turning their phone to staff as the
/// minute changes is still let in); a code from yesterday's screenshot is not.
public struct MemberCards: Sendable {
    public let store: UnionStore

    /// The cards over `store`.
    public init(store: UnionStore) {
        self.store = store
    }

    /// How long one code is shown, in seconds.
    public static let window: Int64 = 60
    /// How long after its minute a code is still accepted, in seconds.
    public static let grace: Int64 = 60

    /// A card's code now.
    public struct Code: Sendable, Hashable {
        /// Eight digits.
        public var code: String
        /// When the card shows the next one (Unix seconds).
        public var changesAt: Int64
    }

    /// The member's code for the minute `now` is in, made the first time it is asked for.
    public func code(for openid: String, at now: Int64) async throws -> Code {
        let minute = now / Self.window
        let changesAt = (minute + 1) * Self.window
        struct Row: Decodable { var code: String }
        for _ in 0..<5 {
            let code = try await store.transaction { database -> String? in
                if let row = try await database.select().column("code").from("member_card_codes")
                    .where("openid", .equal, openid).where("period", .equal, minute)
                    .first(decoding: Row.self)
                {
                    return row.code
                }
                let fresh = String(format: "%08d", Int.random(in: 0..<100_000_000))
                let written = try await database.insert(into: "member_card_codes")
                    .columns("code", "openid", "period", "expires_at")
                    .values(SQLBind(fresh), SQLBind(openid), SQLBind(minute), SQLBind(changesAt + Self.grace))
                    .ignoringConflicts(with: ["code"])
                    .returning("code").all()
                return written.isEmpty ? nil : fresh
            }
            if let code { return Code(code: code, changesAt: changesAt) }
        }
        throw StoreError("no free card code after five tries")
    }

    /// Whose card a typed or scanned code is.
    public enum Holder: Sendable, Hashable {
        /// A live code: the member's openid.
        case member(String)
        /// A code that was shown once but is no longer accepted.
        case expired
        /// No card showed this code.
        case unknown
    }

    /// Whose card `code` is at `now`. Spaces and dashes in what staff typed are ignored.
    public func holder(of code: String, at now: Int64) async throws -> Holder {
        let digits = code.filter { !$0.isWhitespace && $0 != "-" }
        guard digits.count == 8, digits.allSatisfy(\.isASCIIDigit) else { return .unknown }
        struct Row: Decodable {
            var openid: String
            var expiresAt: Int64
        }
        let row = try await store.read { database in
            try await database.select().columns("openid", "expires_at").from("member_card_codes")
                .where("code", .equal, digits)
                .first(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        guard let row else { return .unknown }
        return row.expiresAt > now ? .member(row.openid) : .expired
    }

    /// Forgets codes that expired a day before `now` (until then a code is known as expired).
    @discardableResult
    public func purge(at now: Int64) async throws -> Int {
        try await store.transaction { database in
            let old = try await database.count("member_card_codes") {
                $0.where("expires_at", .lessThan, now - 86_400)
            }
            try await database.delete(from: "member_card_codes").where("expires_at", .lessThan, now - 86_400).run()
            return old
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
