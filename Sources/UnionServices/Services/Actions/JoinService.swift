import ReplyRules
import WeChatWire

/// 入会 and 入会进度: a member's status, the join form started, and joining by a unit's QR code
/// (扫码入会).
struct JoinService: Sendable {
    let parts: DeskParts

    /// 「入会」: the status of a live application, or the join form.
    func join(_ openid: String, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        if let application = try await parts.latestApplication(openid), application.status != .rejected {
            return [.text(Self.status(application))]
        }
        return try await parts.start(
            FormConversation(form: book.join.form, organisation: book.join.organisation), openid: openid, at: now)
    }

    /// 「入会」 from memory: only a live application's status (the form starts with a write).
    func joinFromMemory(_ openid: String) -> FromMemory<[ReplyBody]> {
        guard case .some(let application?) = parts.store.facts.application(for: openid),
            application.status != .rejected
        else { return .needsStore }
        return .known([.text(Self.status(application))])
    }

    /// 「入会进度」.
    func status(_ openid: String) async throws -> [ReplyBody] {
        [.text(Self.status(try await parts.latestApplication(openid)))]
    }

    /// 「入会进度」 from memory.
    func statusFromMemory(_ openid: String) -> FromMemory<[ReplyBody]> {
        guard case .some(let application) = parts.store.facts.application(for: openid) else { return .needsStore }
        return .known([.text(Self.status(application))])
    }

    static func status(_ application: MembershipApplication?) -> String {
        guard let application else {
            return "您还没有提交入会申请。回复「入会」即可开始申请。"
        }
        switch application.status {
        case .pending:
            return "您的入会申请（编号 \(application.number)）正在审核中，审核结果会第一时间通知您。"
        case .approved:
            return "您已是工会会员（申请编号 \(application.number)）。回复「福利」查看会员福利。"
        case .rejected:
            return "您的入会申请（编号 \(application.number)）未通过审核，原因：\(application.reason ?? "未说明")。回复「入会」可重新申请。"
        }
    }

    /// A scan of a join code: its scene, ticket, and whether it came with a follow.
    struct Scan {
        var scene: String
        var ticket: String?
        var follow: Bool
    }

    /// The join scan `message` is, if it is one: `subscribe` with `qrscene_join:…`, or `SCAN`
    /// with `join:…`.
    static func scan(_ message: InboundMessage) -> Scan? {
        guard case .event(let event) = message.kind else { return nil }
        switch event {
        case .subscribe(let scene?, let ticket) where scene.hasPrefix(QRCodes.joinPrefix):
            return Scan(scene: scene, ticket: ticket, follow: true)
        case .scan(let scene, let ticket) where scene.hasPrefix(QRCodes.joinPrefix):
            return Scan(scene: scene, ticket: ticket, follow: false)
        default:
            return nil
        }
    }

    /// Records the scan, then: a member (or an applicant waiting) gets their status; anyone else
    /// starts 入会 with the code's unit filled in, or the ordinary 入会 with a note when the code
    /// is unknown, deleted, expired, or its unit has left org.yaml.
    func byQR(_ scan: Scan, message: InboundMessage, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let openid = message.header.sender
        let key = MessageKey.of(message)
        let organisation = book.join.organisation
        let store = parts.store
        let code = try await store.transaction { database -> UnitQRCode? in
            let code = try await QRCodes.live(scene: scan.scene, ticket: scan.ticket, at: now, in: database)
            if let code {
                try await QRCodes.record(
                    scan.follow ? .follow : .scan, ticket: code.ticket, openid: openid, key: key, at: now, in: database)
            }
            return code
        }
        let welcome = scan.follow ? "感谢关注「\(book.settings.unionName)」！\n" : ""
        if let application = try await parts.latestApplication(openid), application.status != .rejected {
            return [.text(welcome + Self.status(application))]
        }
        let join = FormConversation(form: book.join.form, organisation: organisation)
        guard let code, let unit = organisation.units[code.unitCode] else {
            parts.logger.notice(
                "join QR code unknown or no longer valid",
                metadata: ["scene": "\(String(scan.scene.prefix(64)))", "member": "\(PersonalData.maskOpenID(openid))"])
            let started = try await parts.start(join, openid: openid, at: now, restart: true)
            return [.text(welcome + "这个二维码已失效，请按提示选择您所在的单位。\n\n" + visibleText(of: started))]
        }
        // A grassroots unit is filled in; a code of a unit with units below it starts the walk there.
        let prefilled =
            unit.isLeaf
            ? ["unit": unit.name, "unit_code": unit.code, FormConversation.qrTicketKey: code.ticket]
            : [FormConversation.unitLevelKey: unit.code, FormConversation.qrTicketKey: code.ticket]
        guard case .ask(let progress, let reply) = join.start(prefilled: prefilled, at: now) else { return [] }
        try await parts.retryingConflicts {
            try await parts.conversations.save(progress, for: openid)
        }
        try await store.transaction { database in
            try await QRCodes.record(
                .start, ticket: code.ticket, openid: openid, key: key + "#start", at: now, in: database)
        }
        return [.text(welcome + reply)]
    }
}
