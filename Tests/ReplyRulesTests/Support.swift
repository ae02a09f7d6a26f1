import Foundation
import ReplyRules
import WeChatWire

/// The repository's own Replies folder.
let shippedReplies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Replies").path

func load(_ files: [(String, String)]) throws -> RuleBook {
    try RuleBookLoader().load(files: files.map { (path: $0.0, text: $0.1) })
}

func problems(_ files: [(String, String)]) -> [RuleProblem] {
    do {
        let book = try load(files)
        return book.warnings
    } catch let error as RuleProblems {
        return error.problems
    } catch {
        return [RuleProblem(path: "?", line: 0, message: "\(error)")]
    }
}

func text(_ content: String, from sender: String = "oMember", msgId: UInt64 = 1) -> InboundMessage {
    InboundMessage(
        header: MessageHeader(account: "gh_union", sender: sender, createTime: 1_700_000_000, msgId: msgId),
        kind: .text(TextMessage(content: content)))
}

func event(_ event: InboundEvent) -> InboundMessage {
    InboundMessage(
        header: MessageHeader(account: "gh_union", sender: "oMember", createTime: 1_700_000_000), kind: .event(event))
}

/// 2026-11-23 (a Monday) at the given Beijing time, in Unix seconds.
func monday(_ hour: Int, _ minute: Int = 0) -> Int64 {
    // 2026-11-23 00:00 +08:00 is 2026-11-22 16:00 UTC.
    1_795_363_200 + Int64(hour * 3600 + minute * 60)
}

extension RuleEngine {
    /// The reply texts for `message`, as the member would read them (service hand-overs shown by name).
    func replyText(_ message: InboundMessage, at time: Int64 = 1_700_000_000, member: Bool = false) -> String? {
        guard let decision = decide(message, context: MatchContext(unixTime: time, isMember: member)) else {
            return nil
        }
        var random = SystemRandomNumberGenerator()
        return decision.replies(using: &random).map { template -> String in
            if case .service(let action) = template { return "service:\(action)" }
            return template.body(decision.values).map { visibleText(of: [$0]) } ?? "(silence)"
        }.joined(separator: "|")
    }
}
