import Logging
import Testing
import UnionServices
import WeChatWire

@testable import UnionGateServer

@Suite("Delivery ledger")
struct LedgerTests {
    /// Answers every text at once with a reply that names it.
    struct EchoHandler: MessageHandler {
        func handle(_ message: InboundMessage) async -> HandlerOutcome {
            answerAtOnce(message) ?? .silence
        }

        func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? {
            guard case .text(let text) = message.kind else { return nil }
            return HandlerOutcome(replies: [.text("回复：" + text.content)], ruleName: "echo")
        }
    }

    static let hashes: [(String, @Sendable (MessageKey.Identity) -> Int)] = [
        ("the keys' own hash", { $0.hashValue }),
        ("every key colliding", { _ in 7 }),
    ]

    @Test(arguments: [0, 1])
    func remembersMessagesForTwoGenerations(hashChoice: Int) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Capacity 6: generations of 3 messages; a message is remembered until two more
        // generations have started after its own.
        let ledger = DeliveryLedger(
            handler: EchoHandler(), lateDelivery: RecordingLateDelivery(), metrics: GatewayMetrics(),
            deadline: .seconds(5), capacity: 6, logger: logger, hash: Self.hashes[hashChoice].1)
        let member = Member("oLedger")
        let texts = ["一", "二", "三", "四", "五", "六", "七"]
        let messages = texts.map { member.text($0) }

        func expectRemembered(_ indexes: Range<Int>) throws {
            for index in indexes {
                // Retries get their own message's reply and CreateTime back, whatever the hash.
                let retry = try #require(ledger.answerAtOnce(messages[index], createTime: 999))
                #expect(retry.duplicate, "message \(index) is remembered")
                #expect(retry.createTime == 100 + Int64(index))
                #expect(retry.outcome?.replies == [.text("回复：" + texts[index])])
            }
        }

        for index in 0..<6 {
            let answer = try #require(ledger.answerAtOnce(messages[index], createTime: 100 + Int64(index)))
            #expect(!answer.duplicate)
            #expect(answer.outcome?.replies == [.text("回复：" + texts[index])])
        }
        #expect(ledger.count == 6)
        try expectRemembered(0..<6)

        // The seventh starts a third generation: the first three are forgotten at once.
        _ = try #require(ledger.answerAtOnce(messages[6], createTime: 106))
        #expect(ledger.count == 4)
        try expectRemembered(3..<7)
        let forgotten = try #require(ledger.answerAtOnce(messages[0], createTime: 200))
        #expect(!forgotten.duplicate, "the oldest generation was dropped")
        let kept = await ledger.submit(messages[5], createTime: 300)
        #expect(kept.duplicate)
        #expect(kept.outcome?.replies == [.text("回复：六")])
    }
}
