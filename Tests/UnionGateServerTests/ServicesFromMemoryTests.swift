import Foundation
import Logging
import ReplyRules
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

/// The four services answer from memory when they need no store, and what they answer there is
/// what the store would say: after a member's own change, an admin's decision in this process,
/// and a change from another process once it is noticed.
@Suite("Services answered from memory")
struct ServicesFromMemoryTests {
    /// A dispatcher over a fresh database file with the shipped Replies.
    struct Desk {
        let core: UnionCore
        var dispatcher: Dispatcher { core.dispatcher }
        var store: UnionStore { core.store }

        static func open(path: String = temporaryDatabase()) async throws -> Desk {
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let rules = try LiveRules(directory: shippedReplies, logger: logger)
            return Desk(core: try await UnionCore.open(databasePath: path, rules: rules, logger: logger))
        }

        /// What memory answers (nil: it needs the store).
        func atOnce(_ message: InboundMessage) -> String? {
            dispatcher.answerAtOnce(message).map { visibleText(of: $0.replies) }
        }

        /// What memory answers, or else the ordinary way.
        func answer(_ message: InboundMessage) async -> String {
            if let known = atOnce(message) { return known }
            return await handled(message)
        }

        /// What the ordinary way answers.
        func handled(_ message: InboundMessage) async -> String {
            visibleText(of: await dispatcher.handle(message).replies)
        }
    }

    static func temporaryDatabase() -> String {
        Scratch.folder.appendingPathComponent("memory-\(UUID().uuidString).sqlite").path
    }

    @Test func theHotlineNeedsNoStoreAndSaysWhatTheOrdinaryWaySays() async throws {
        let desk = try await Desk.open()
        let member = Member()
        let atOnce = try #require(desk.atOnce(member.text("热线")))
        #expect(atOnce.contains("12351"))
        let handled = await desk.handled(member.text("热线"))
        #expect(atOnce == handled)
        await desk.store.close()
    }

    @Test func statusLookupsAreRememberedAfterTheFirstRead() async throws {
        let desk = try await Desk.open()
        for keyword in ["入会进度", "我的建议", "福利"] {
            let member = Member()
            #expect(desk.atOnce(member.text(keyword)) == nil, "\(keyword): nothing is known before the first read")
            let handled = await desk.handled(member.text(keyword))
            #expect(desk.atOnce(member.text(keyword)) == handled, "\(keyword): remembered after it")
        }
        // One read tells both 入会进度 and 福利: the member's latest application.
        let member = Member()
        #expect((await desk.handled(member.text("入会进度"))).contains("还没有提交入会申请"))
        let welfare = try #require(desk.atOnce(member.text("福利")))
        #expect(welfare.contains("仅限工会会员"))
        await desk.store.close()
    }

    @Test func aMembersOwnSuggestionAndAnAdminsDecisionShowAtOnce() async throws {
        let desk = try await Desk.open()
        let member = Member()
        _ = await desk.handled(member.text("我的建议"))
        let receipt = await desk.handled(member.text("建议 夜班食堂增加热菜窗口"))
        let number = String(try #require(receipt.firstMatch(of: /JY-\d{4}-\d{6}/)).output)
        // Forgotten after the commit, then read again: the new suggestion is there.
        #expect(desk.atOnce(member.text("我的建议")) == nil)
        let listed = await desk.handled(member.text("我的建议"))
        #expect(listed.contains(number))
        let suggestion = try #require(try await SuggestionBox(store: desk.store).list().first)
        _ = try await SuggestionBox(store: desk.store).update(suggestion.id, status: .adopted, reply: "已安排", at: 2)
        let afterDecision = await desk.answer(member.text("我的建议"))
        #expect(afterDecision.contains("已采纳") && afterDecision.contains("已安排"))

        // Joining: pending, then approved by the admin API's registry in this process.
        for answer in ["入会", "张三", "13812345678", "2", "A1024", "确认"] { _ = await desk.handled(member.text(answer)) }
        let pending = await desk.handled(member.text("入会进度"))
        #expect(pending.contains("审核中"))
        #expect(desk.atOnce(member.text("入会进度"))?.contains("审核中") == true)
        let application = try #require(try await MembershipRegistry(store: desk.store).list().first)
        _ = try await MembershipRegistry(store: desk.store).approve(application.id, at: 3)
        let status = await desk.answer(member.text("入会进度"))
        #expect(status.contains("已是工会会员"))
        let welfare = await desk.answer(member.text("福利"))
        let handledWelfare = await desk.handled(member.text("福利"))
        #expect(welfare == handledWelfare)
        #expect(desk.atOnce(member.text("福利")) != nil)
        await desk.store.close()
    }

    @Test func aDecisionFromAnotherProcessIsNoticed() async throws {
        let path = Self.temporaryDatabase()
        let desk = try await Desk.open(path: path)
        let member = Member()
        for answer in ["入会", "李四", "13912345678", "1", "B2048", "确认"] { _ = await desk.handled(member.text(answer)) }
        _ = await desk.handled(member.text("入会进度"))
        try await desk.store.noticeOutsideWrites()
        #expect(desk.atOnce(member.text("入会进度"))?.contains("审核中") == true)

        // `uniongate members approve` is another process with its own connection to the file.
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let other = try await UnionStore.open(path: path, logger: logger)
        let application = try #require(try await MembershipRegistry(store: other).list().first)
        _ = try await MembershipRegistry(store: other).approve(application.id, at: 3)
        await other.close()

        try await desk.store.noticeOutsideWrites()
        let status = await desk.answer(member.text("入会进度"))
        #expect(status.contains("已是工会会员"))
        await desk.store.close()
    }

    @Test func helpInTheMiddleOfAFormNeedsNoStoreAndAnAnswerDoes() async throws {
        let desk = try await Desk.open()
        let member = Member()
        let opening = await desk.handled(member.text("入会"))
        #expect(opening.contains("姓名"))
        let help = try #require(desk.atOnce(member.text("帮助")))
        #expect(help.contains("您正在填写") && help.contains("姓名"))
        let handledHelp = await desk.handled(member.text("帮助"))
        #expect(help == handledHelp)
        let hotline = try #require(desk.atOnce(member.text("热线")))
        #expect(hotline.contains("12351") && hotline.contains("姓名"))
        // An answer moves the form on: that is a write, so memory does not answer it.
        #expect(desk.atOnce(member.text("张三")) == nil)
        let next = await desk.handled(member.text("张三"))
        #expect(next.contains("手机号"))
        await desk.store.close()
    }
}
