import ReplyRules
import Testing
import WeChatWire

@testable import UnionServices

@Suite("Welfare replies kept per rule book")
struct WelfareKeptTests {
    private func engine(_ titles: [String]) -> RuleEngine {
        let items = titles.enumerated().map { index, title in
            WelfareItem(
                title: title, description: "说明", picURL: "https://example.invalid/p.jpg",
                url: "https://example.invalid/\(index)",
                membersOnly: index == 0)
        }
        return RuleEngine(book: RuleBook(rules: [], welfare: WelfareCatalogue(items: items)))
    }

    @Test func eachFormIsTheCataloguesAndANewBookGetsItsOwn() {
        let kept = WelfareReply.Kept()
        let first = engine(["会员疗休养", "普惠商城"])
        for asEvent in [false, true] {
            for isMember in [false, true] {
                let expected = WelfareReply.reply(first.book.welfare, asEvent: asEvent, isMember: isMember)
                #expect(kept.reply(first, asEvent: asEvent, isMember: isMember) == expected)
                #expect(kept.reply(first, asEvent: asEvent, isMember: isMember) == expected)
            }
        }
        // Reloaded rules with another catalogue: nothing of the first book is shown.
        let second = engine(["互助保障", "困难帮扶"])
        let reply = kept.reply(second, asEvent: false, isMember: true)
        #expect(reply == WelfareReply.reply(second.book.welfare, asEvent: false, isMember: true))
        #expect(reply != WelfareReply.reply(first.book.welfare, asEvent: false, isMember: true))
    }
}
