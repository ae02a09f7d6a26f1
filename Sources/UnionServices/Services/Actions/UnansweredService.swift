import ReplyRules
import WeChatWire

/// 留言: a message no rule answers becomes a case in the inbox (or joins the member's open one),
/// acknowledged with its number and when to expect an answer.
struct UnansweredService: Sendable {
    let parts: DeskParts

    func keeps(_ message: InboundMessage, rules: RuleEngine) -> Bool {
        rules.book.cases.enabled && Inbox.entry(of: message) != nil
    }

    func receive(_ message: InboundMessage, rules: RuleEngine, at now: Int64) async throws -> [ReplyBody]? {
        guard keeps(message, rules: rules) else { return nil }
        let settings = rules.book.cases
        let offset = rules.book.settings.utcOffsetMinutes
        let year = LocalTime(unixSeconds: now, utcOffsetMinutes: offset).year
        guard
            let (memberCase, opened) = try await parts.store.transaction({ database in
                try await Inbox.receive(
                    message, settings: settings, utcOffsetMinutes: offset, at: now, year: year, in: database)
            })
        else { return nil }
        if opened {
            parts.logger.info(
                "case opened",
                metadata: ["number": "\(memberCase.number)", "member": "\(PersonalData.maskOpenID(memberCase.openid))"])
        }
        return [
            .text(
                Inbox.acknowledgement(memberCase, opened: opened, settings: settings, utcOffsetMinutes: offset, at: now)
            )
        ]
    }
}
