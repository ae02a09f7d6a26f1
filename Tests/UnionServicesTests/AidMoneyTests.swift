import ReplyRules
import Testing

@testable import UnionServices

@Suite("Money answers")
struct AidMoneyTests {
    /// Money is read as members type it and kept with two decimals.
    @Test func moneyIsReadAsTyped() {
        let field = FormField(key: "amount", label: "金额", kind: .money(min: 1, max: 50_000))
        func value(_ text: String) -> String? {
            if case .success(let value) = FormAnswer.validate(text, for: field) { return value }
            return nil
        }
        #expect(value("2000") == "2000.00")
        #expect(value("1,500.5元") == "1500.50")
        #expect(value("３００") == "300.00")
        #expect(value("0.5") == nil && value("50001") == nil && value("12.345") == nil && value("一千") == nil)
    }

    /// Fen from a stored amount (the statistics read them back with the same parser).
    @Test func centsFromStoredAmounts() {
        #expect(FormAnswer.money("2000.00") == 200_000)
        #expect(FormAnswer.money("1500.5") == 150_050)
        #expect(FormAnswer.money("7") == 700)
    }
}
