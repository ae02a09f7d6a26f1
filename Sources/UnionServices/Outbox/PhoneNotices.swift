import Foundation
import SQLKit

/// A member WeChat would not let a notice reach (outside the 48-hour window), with what is
/// waiting and the phone number from their application: staff call them (需电话通知).
public struct PhoneNotice: Sendable, Hashable {
    public var openid: String
    /// The name and phone number of the member's latest application ('' when none).
    public var name: String
    public var phone: String
    public var unitCode: String
    /// The waiting notices' texts, oldest first.
    public var notices: [String]
    /// Why each reached no one: the channels tried and WeChat's answers.
    public var why: [String]
    /// When the oldest was queued, Unix seconds.
    public var since: Int64
}

extension Outbox {
    /// The members with held notices in `actor`'s part of the tree, longest waiting first.
    public static func phoneNotices(for actor: Principal, in store: UnionStore) async throws -> [PhoneNotice] {
        try actor.require(.decide)
        let held = try await store.read { database in
            try await select(in: database).where("status", .equal, OutboxMessage.Status.held.rawValue).orderBy("id")
                .limit(5_000).all(decoding: Row.self, keyDecodingStrategy: .convertFromSnakeCase)
                .map { try $0.message }
        }
        var byMember: [String: PhoneNotice] = [:]
        var order: [String] = []
        for message in held {
            let text = visibleTextOfBodies(message.bodies)
            if byMember[message.openid] == nil {
                order.append(message.openid)
                byMember[message.openid] = PhoneNotice(
                    openid: message.openid, name: "", phone: "", unitCode: "", notices: [], why: [],
                    since: message.createdAt)
            }
            byMember[message.openid]?.notices.append(text)
            byMember[message.openid]?.why.append(message.channelNote ?? message.lastError ?? "")
        }
        let members = try await store.read { [order] database in
            var found: [String: MembershipApplication] = [:]
            for openid in order {
                found[openid] = try await MembershipRegistry.latest(for: openid, in: database)
            }
            return found
        }
        return order.compactMap { openid -> PhoneNotice? in
            guard var notice = byMember[openid] else { return nil }
            if let application = members[openid] {
                notice.name = application.name
                notice.phone = application.phone
                notice.unitCode = application.unitCode
            }
            return actor.scope.contains(notice.unitCode) ? notice : nil
        }
    }
}
