import Foundation
import Testing
import UnionServices
import WeChatWire
import WeChatTestSupport

@testable import UnionGateServer

@Suite("Retries, duplicates and the reply deadline")
struct ExactlyOnceTests {
    @Test func aRetryWhileRunningWaitsAndARetryAfterGetsTheStoredReply() async throws {
        let handler = GatedHandler(replies: [.text("已收到，编号 JY-2026-000001")])
        try await withGateway(handler: handler) { client, gateway in
            let message = Member().text("建议 夜班增加热饭")
            async let first = client.post(message, mode: .plain)
            var started = handler.started.makeAsyncIterator()
            _ = await started.next()
            async let second = client.post(message, mode: .plain)
            try await waitUntil(timeout: .seconds(30)) { gateway.metrics.duplicateCount == 1 }
            await handler.gate.open()
            let (a, b) = try await (first, second)
            #expect(a.status == 200)
            #expect(a.body == b.body)
            #expect(a.body.contains("JY-2026-000001"))

            let third = try await client.post(message, mode: .plain)
            #expect(third.body == a.body)
            #expect(handler.callCount == 1)
            #expect(gateway.metrics.duplicateCount == 2)

            // A different message from the same member runs the handler again.
            _ = try await client.post(Member(message.header.sender).text("建议 另一条"), mode: .plain)
            #expect(handler.callCount == 2)
        }
    }

    @Test func retriedEventsAreRecognisedToo() async throws {
        let handler = GatedHandler(replies: [.text("欢迎")])
        await handler.gate.open()
        try await withGateway(handler: handler) { client, _ in
            let member = Member()
            let subscribe = member.event(.subscribe(scene: nil, ticket: nil), at: 1_700_000_100)
            _ = try await client.post(subscribe, mode: .safe)
            _ = try await client.post(subscribe, mode: .safe)
            #expect(handler.callCount == 1)
            _ = try await client.post(member.event(.subscribe(scene: nil, ticket: nil), at: 1_700_000_101), mode: .safe)
            #expect(handler.callCount == 2)
        }
    }

    @Test func aSlowHandlerIsAnsweredSuccessThenDeliveredLateOnce() async throws {
        let handler = GatedHandler(replies: [.text("慢的回复")])
        let late = RecordingLateDelivery()
        let clock = ManualClock()
        try await withGateway(handler: handler, lateDelivery: late, ledgerClock: clock) { client, gateway in
            let member = Member()
            let message = member.text("入会")
            async let posted = client.post(message, mode: .safe)
            var started = handler.started.makeAsyncIterator()
            _ = await started.next()
            try await waitUntil(timeout: .seconds(30)) { clock.sleeping == 1 }
            clock.advance(by: .seconds(5))
            let first = try await posted
            #expect(first.status == 200)
            #expect(first.body == "success")
            #expect(gateway.metrics.count(.deadline) == 1)

            await handler.gate.open()
            let delivery = try #require(await late.next())
            #expect(delivery.bodies == [.text("慢的回复")])
            #expect(delivery.recipient == member.openid)
            #expect(delivery.reason == .deadline)

            // WeChat retries anyway: still success, nothing handled or sent twice.
            let retry = try await client.post(message, mode: .safe)
            #expect(retry.body == "success")
            #expect(handler.callCount == 1)
            #expect(gateway.metrics.lateDeliveryCount == 1, "the slow reply was handed to late delivery once")
        }
    }

    @Test func extraRepliesAndCardsGoToLateDelivery() async throws {
        let replies = try temporaryReplies([
            "r.yaml": """
            rules:
              - keywords: [多条]
                replies: [第一条, 第二条, 第三条]
              - keywords: [卡片]
                reply:
                  articles:
                    - { title: 福利商城 }
                    - { title: 互助保障 }
                    - { title: 困难帮扶 }
              - click: CARDS
                reply:
                  articles:
                    - { title: 福利商城 }
                    - { title: 互助保障 }
            """
        ])
        let late = RecordingLateDelivery()
        try await withGateway(replies: replies, lateDelivery: late) { client, gateway in
            let member = Member()
            #expect(try await client.replyText(member.text("多条")) == "第一条")
            let extra = try #require(await late.next())
            #expect(extra.bodies == [.text("第二条"), .text("第三条")])
            #expect(extra.reason == .additionalReplies)

            let cards = try #require(try await client.send(member.text("卡片")))
            #expect(cards.body == .news([Article(title: "福利商城")]))
            let overflow = try #require(await late.next())
            #expect(overflow.bodies == [.news([Article(title: "互助保障")]), .news([Article(title: "困难帮扶")])])
            #expect(overflow.reason == .overflowArticles)

            // A menu click may carry up to eight cards in the passive reply.
            let menu = try #require(try await client.send(member.event(.click(key: "CARDS"))))
            #expect(menu.body == .news([Article(title: "福利商城"), Article(title: "互助保障")]))
            // Late delivery is counted when it is handed over, before the reply is written:
            // two extra texts and two extra cards, and nothing for the menu's cards.
            #expect(gateway.metrics.lateDeliveryCount == 4)
        }
    }
}
