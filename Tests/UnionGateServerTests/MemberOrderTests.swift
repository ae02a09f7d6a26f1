import Foundation
import Logging
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

/// Records the order it sees messages in; the message 「一」 waits for the test's gate, and
/// every other message can be answered from memory.
final class OrderRecordingHandler: MessageHandler {
    let gate = Gate()
    let log = Mutex<[String]>([])

    private func content(_ message: InboundMessage) -> String {
        if case .text(let text) = message.kind { return text.content }
        return ""
    }

    func handle(_ message: InboundMessage) async -> HandlerOutcome {
        let content = content(message)
        log.withLock { $0.append("start \(content)") }
        if content == "一" { await gate.wait() }
        log.withLock { $0.append("end \(content)") }
        return HandlerOutcome(replies: [.text("收到\(content)")], ruleName: "order")
    }

    func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? {
        let content = content(message)
        guard content != "一" else { return nil }
        log.withLock { $0.append("memory \(content)") }
        return HandlerOutcome(replies: [.text("收到\(content)")], ruleName: "order")
    }

    var entries: [String] { log.withLock { $0 } }
}

@Suite("One member's messages in order")
struct MemberOrderTests {
    @Test func aSecondQuickMessageWaitsForTheFirstAndOtherMembersDoNot() async throws {
        let handler = OrderRecordingHandler()
        try await withGateway(handler: handler) { client, gateway in
            let member = Member()
            let first = Task { try await client.replyText(member.text("一")) }
            try await waitUntil(timeout: .seconds(30)) { handler.entries == ["start 一"] }
            let second = Task { try await client.replyText(member.text("二")) }
            // 「二」 reached the ledger and waits behind 「一」: not answered from memory, not handled.
            try await waitUntil(timeout: .seconds(30)) { gateway.ledger.senders.count(member.openid) == 2 }
            #expect(handler.entries == ["start 一"])

            // Another member is not held up.
            let other = try await client.replyText(Member().text("三"))
            #expect(other == "收到三")
            #expect(handler.entries == ["start 一", "memory 三"])

            await handler.gate.open()
            let firstReply = try await first.value
            let secondReply = try await second.value
            #expect(firstReply == "收到一")
            #expect(secondReply == "收到二")
            #expect(handler.entries == ["start 一", "memory 三", "end 一", "start 二", "end 二"])
            #expect(gateway.ledger.senders.count(member.openid) == 0)

            // With nothing in hand, the member is answered from memory again.
            let later = try await client.replyText(member.text("四"))
            #expect(later == "收到四")
            #expect(handler.entries.last == "memory 四")
        }
    }
}
