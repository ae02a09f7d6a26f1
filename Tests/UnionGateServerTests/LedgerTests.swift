import Logging
import Testing
import UnionServices
import WeChatWire
import WeChatTestSupport

@testable import UnionGateServer

@Suite("Delivery ledger")
struct LedgerTests {
    /// Running messages are carried into each new generation by their keys (not found by a scan
    /// of the generation), and once answered they age like the others.
    @Test func runningMessagesAreCarriedAcrossGenerationsUntilAnswered() {
        var memory = RetryMemory(capacity: 4, window: .seconds(600), now: .zero)
        func key(_ number: UInt64) -> MessageKey.Identity {
            MessageKey.identity(
                of: InboundMessage(
                    header: MessageHeader(account: "gh", sender: "oRunner", createTime: 1, msgId: number),
                    kind: .text(TextMessage(content: "建议"))))
        }
        let done = RetryMemory.Entry(phase: .done(RecordedReply(passive: nil, ruleName: nil)), createTime: 1)
        memory.insert(key(1), .init(phase: .running, createTime: 1), now: .zero)
        memory.insert(key(2), done, now: .zero)
        for number in UInt64(3)...8 { memory.insert(key(number), done, now: .zero) }  // three turns
        #expect(memory[key(2)] == nil, "an answered message is forgotten with its generation")
        guard case .running? = memory[key(1)]?.phase else {
            Issue.record("the running message was dropped")
            return
        }
        memory[key(1)] = done
        for number in UInt64(9)...14 { memory.insert(key(number), done, now: .zero) }
        #expect(memory[key(1)] == nil, "answered, it ages like the others")
        #expect(memory.count <= 4)
    }

    /// Identities keep senders of up to 32 bytes inline and longer ones as strings: either way,
    /// equal exactly when account, sender and number are, with the same key text; and a table
    /// emptied at a turn and reused forgets everything it held.
    @Test func identitiesAreEqualExactlyWhenTheirPartsAreAcrossTurns() {
        func identity(_ sender: String, _ number: UInt64, account: String = "gh") -> MessageKey.Identity {
            MessageKey.identity(
                of: InboundMessage(
                    header: MessageHeader(account: account, sender: sender, createTime: 1, msgId: number),
                    kind: .text(TextMessage(content: "帮助"))))
        }
        let senders = [
            "", "o", "oAbCdEfGhIjKlMnOpQrStUvWxYz01", String(repeating: "x", count: 32),
            String(repeating: "x", count: 33), "会员" + String(repeating: "y", count: 26),
            "会员" + String(repeating: "y", count: 40),
        ]
        for (index, sender) in senders.enumerated() {
            #expect(identity(sender, 7) == identity(String(sender), 7))
            #expect(identity(sender, 7).digest == identity(sender, 7).digest)
            #expect(identity(sender, 7).text == "gh\u{1F}\(sender)\u{1F}7")
            #expect(identity(sender, 7) != identity(sender, 8))
            #expect(identity(sender, 7) != identity(sender, 7, account: "gh2"))
            for other in senders[(index + 1)...] {
                #expect(identity(sender, 7) != identity(other, 7), "\(sender) and \(other)")
            }
            // The same bytes up to 32 and one more.
            #expect(identity(sender, 7) != identity(sender + "z", 7))
        }
        var memory = RetryMemory(capacity: 8, window: .seconds(600), now: .zero)
        let done = RetryMemory.Entry(phase: .done(RecordedReply(passive: nil, ruleName: nil)), createTime: 1)
        for round in UInt64(0)..<5 {
            for sender in senders {
                memory.insert(identity(sender, round), done, now: .zero)
                #expect(memory[identity(sender, round)] != nil)
                #expect(memory[identity(sender, round + 1)] == nil)
            }
            // Fourteen messages later (two turns at least), a round's messages are forgotten.
            if round >= 2 {
                for sender in senders { #expect(memory[identity(sender, round - 2)] == nil, "\(sender)") }
            }
            #expect(memory.count <= 8)
        }
    }

    /// Interning shares one reply among equal texts; the shortcut by storage never takes a
    /// different text for the same one, however the texts are made.
    @Test func internedRepliesAreSharedOnlyWhenEqual() {
        var memory = RetryMemory(capacity: 100, window: .seconds(60), now: .zero)
        let long = String(repeating: "工会服务", count: 20)
        func reply(_ text: String, _ rule: String? = "帮助") -> RecordedReply {
            RecordedReply(passive: .text(text), ruleName: rule)
        }
        let first = memory.intern(reply(long))
        #expect(memory.intern(reply(long)) == first)  // the same storage
        let rebuilt = String(decoding: Array(long.utf8), as: UTF8.self)  // equal text, other storage
        #expect(RetryMemory.sameStorage(long, rebuilt) == false)
        #expect(memory.intern(reply(rebuilt)) == first)
        #expect(memory.intern(reply(long, "福利")).ruleName == "福利")  // same text, another rule
        let other = String(repeating: "工会服务", count: 19) + "工会服物"  // same length, other text
        #expect(memory.intern(reply(other)) == reply(other))
        #expect(memory.intern(reply(long)) == first)
        for small in ["帮助", "a", "热线12351"] {  // stored in the value: no address to compare
            #expect(RetryMemory.sameStorage(small, small) == false)
            #expect(memory.intern(reply(small)) == reply(small))
        }
    }

    /// Outcomes are counted by their place in `allCases`: each is counted under its own label.
    @Test func everyOutcomeIsCountedUnderItsOwnLabel() {
        let metrics = GatewayMetrics()
        for (times, outcome) in GatewayMetrics.Outcome.allCases.enumerated() {
            for _ in 0...times { metrics.record(outcome) }
        }
        for (times, outcome) in GatewayMetrics.Outcome.allCases.enumerated() {
            #expect(metrics.count(outcome) == times + 1, "\(outcome)")
        }
    }

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
        ("the keys' own digest", { $0.digest }),
        ("every key colliding", { _ in 7 }),
    ]

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    @Test(arguments: [0, 1])
    func remembersMessagesForTwoGenerations(hashChoice: Int) async throws {
        // Capacity 6: generations of 3 messages; a message is remembered until two more
        // generations have started after its own.
        let ledger = DeliveryLedger(
            handler: EchoHandler(), lateDelivery: RecordingLateDelivery(), metrics: GatewayMetrics(),
            deadline: .seconds(5), capacity: 6, clock: ManualClock(), logger: Self.quiet,
            hash: Self.hashes[hashChoice].1)
        let member = Member("oLedger")
        let texts = ["一", "二", "三", "四", "五", "六", "七"]
        let messages = texts.map { member.text($0) }

        func expectRemembered(_ indexes: Range<Int>) throws {
            for index in indexes {
                // Retries get their own message's reply and CreateTime back, whatever the hash.
                let retry = try #require(ledger.answerAtOnce(messages[index], createTime: 999))
                #expect(retry.duplicate, "message \(index) is remembered")
                #expect(retry.createTime == 100 + Int64(index))
                #expect(retry.reply?.passive == .text("回复：" + texts[index]))
            }
        }

        for index in 0..<6 {
            let answer = try #require(ledger.answerAtOnce(messages[index], createTime: 100 + Int64(index)))
            #expect(!answer.duplicate)
            #expect(answer.reply?.passive == .text("回复：" + texts[index]))
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
        #expect(kept.reply?.passive == .text("回复：六"))
    }

    @Test func aGenerationTurnsWhenHalfTheWindowHasPassed() throws {
        let clock = ManualClock()
        let ledger = DeliveryLedger(
            handler: EchoHandler(), lateDelivery: RecordingLateDelivery(), metrics: GatewayMetrics(),
            deadline: .seconds(5), window: .seconds(300), capacity: 1000, clock: clock, logger: Self.quiet)
        let member = Member("oWindow")
        let first = member.text("一")
        _ = try #require(ledger.answerAtOnce(first, createTime: 1))

        // 149 s later a new message joins the same generation: both are remembered.
        clock.advance(by: .seconds(149))
        _ = try #require(ledger.answerAtOnce(member.text("二"), createTime: 2))
        #expect(ledger.count == 2)
        #expect(ledger.answerAtOnce(first, createTime: 9)?.duplicate == true)

        // At 150 s the next message starts a generation; the first is still in the previous one.
        clock.advance(by: .seconds(1))
        _ = try #require(ledger.answerAtOnce(member.text("三"), createTime: 3))
        #expect(ledger.count == 3)
        #expect(ledger.answerAtOnce(first, createTime: 9)?.duplicate == true)

        // Another half window on, the generation holding the first two is dropped whole.
        clock.advance(by: .seconds(150))
        _ = try #require(ledger.answerAtOnce(member.text("四"), createTime: 4))
        #expect(ledger.count == 2)
        let again = try #require(ledger.answerAtOnce(first, createTime: 10))
        #expect(!again.duplicate, "forgotten after a whole window")
        #expect(again.createTime == 10)
    }

    @Test func theDeadlineAnswersSuccessAndTheOutcomeGoesLateOnce() async throws {
        let clock = ManualClock()
        let handler = GatedHandler(replies: [.text("慢的回复"), .text("第二条")])
        let late = RecordingLateDelivery()
        let metrics = GatewayMetrics()
        let ledger = DeliveryLedger(
            handler: handler, lateDelivery: late, metrics: metrics, deadline: .seconds(4), clock: clock,
            logger: Self.quiet)
        let message = Member("oSlow").text("入会")

        async let first = ledger.submit(message, createTime: 50)
        var started = handler.started.makeAsyncIterator()
        _ = await started.next()
        // The sweeper is asleep on the clock: nothing has expired yet.
        try await waitUntil(timeout: .seconds(30)) { clock.sleeping == 1 }
        #expect(metrics.lateDeliveryCount == 0)

        clock.advance(by: .seconds(5))
        let answer = await first
        #expect(answer.reply == nil, "past the deadline the request answers success")
        #expect(!answer.duplicate)

        // A retry now gets success too, and runs nothing.
        let retry = await ledger.submit(message, createTime: 51)
        #expect(retry.reply == nil)
        #expect(retry.duplicate)

        await handler.gate.open()
        let delivery = try #require(await late.next())
        #expect(delivery.bodies == [.text("慢的回复"), .text("第二条")])
        #expect(delivery.reason == .deadline)
        #expect(metrics.lateDeliveryCount == 2)
        #expect(handler.callCount == 1)
    }

    @Test func aRetryWaitingForTheFirstAttemptGetsItsAnswer() async throws {
        let clock = ManualClock()
        let handler = GatedHandler(replies: [.text("已收到")])
        let ledger = DeliveryLedger(
            handler: handler, lateDelivery: RecordingLateDelivery(), metrics: GatewayMetrics(),
            deadline: .seconds(4), clock: clock, logger: Self.quiet)
        let message = Member("oTwice").text("建议 多开一班车")
        async let first = ledger.submit(message, createTime: 70)
        var started = handler.started.makeAsyncIterator()
        _ = await started.next()
        async let second = ledger.submit(message, createTime: 71)
        // Nearly the whole deadline passes: both are still waiting.
        try await waitUntil(timeout: .seconds(30)) { clock.sleeping == 1 }
        clock.advance(by: .seconds(3))
        await handler.gate.open()
        let (a, b) = await (first, second)
        #expect(a.reply?.passive == .text("已收到"))
        #expect(b.reply?.passive == .text("已收到"))
        #expect(!a.duplicate)
        #expect(b.duplicate)
        #expect(a.createTime == 70)
        #expect(b.createTime == 70, "every attempt gets the first attempt's CreateTime")
        #expect(handler.callCount == 1)
    }

    @Test func repliesThatDifferOnlyPastTheirStartAreInternedUnderDifferentHashes() {
        // One text per member, the same length, differing only in the receipt number in the middle.
        let texts = (0..<64).map { "您已是工会会员（申请编号 RH-2026-\(String(format: "%06d", 100_000 + $0))）。回复「福利」查看会员福利。" }
        #expect(Set(texts.map(\.utf8.count)).count == 1)
        let hashes = Set(texts.map { RetryMemory.TextKey(text: $0, rule: "入会进度").hashValue })
        #expect(hashes.count == texts.count)
    }
}
