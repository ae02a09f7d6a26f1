import ReplyRules
import Testing
import WeChatWire

@testable import UnionServices

@Suite("A member's rating of a closed case")
struct InboxRatingTests {
    private func message(_ text: String) -> InboundMessage {
        InboundMessage(
            header: MessageHeader(account: "gh_test", sender: "oRating", createTime: 1, msgId: 1),
            kind: .text(TextMessage(content: text)))
    }

    /// What a rating is, by its definition: the text normalised is one digit from 1 to 5.
    private func byDefinition(_ text: String) -> Int? {
        let word = KeywordNormalizer.normalize(text)
        guard word.count == 1, let value = Int(word), (1...5).contains(value) else { return nil }
        return value
    }

    @Test func aDigitFromOneToFiveWithSpacesOrMarksAroundItIsARating() {
        #expect(Inbox.rating(in: message("5")) == 5)
        #expect(Inbox.rating(in: message(" 4。")) == 4)
        #expect(Inbox.rating(in: message("５")) == 5)  // full width
        #expect(Inbox.rating(in: message("①")) == 1)  // circled, as NFKC maps it
        #expect(Inbox.rating(in: message("6")) == nil)
        #expect(Inbox.rating(in: message("5分")) == nil)
        #expect(Inbox.rating(in: message("帮助")) == nil)
    }

    /// Texts with CJK ideographs are turned down before normalising: checked against the
    /// definition over mixes of ideographs, digits of every width, spaces and marks.
    @Test func theShortcutForIdeographsAgreesWithTheDefinition() {
        let pieces = ["帮", "助", "分", "好", "三", "㐀", "䷀", "5", "3", "５", "①", "⑤", " ", "　", "。", "！", "?", "a"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let count = Int.random(in: 1...4, using: &generator)
            let text = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(Inbox.rating(in: message(text)) == byDefinition(text), "\(text)")
        }
    }
}
