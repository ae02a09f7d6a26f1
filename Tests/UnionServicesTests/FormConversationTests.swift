import Foundation
import ReplyRules
import Testing

@testable import UnionServices

@Suite("The form dialogue")
struct FormConversationTests {
    let form = FormDefinition(
        name: "报名", title: "活动报名", intro: "欢迎报名",
        fields: [
            FormField(key: "name", label: "姓名", kind: .text(minLength: 2, maxLength: 4)),
            FormField(key: "phone", label: "手机号", kind: .phone),
            FormField(key: "count", label: "人数", kind: .number(min: 1, max: 5)),
            FormField(key: "day", label: "日期", kind: .date),
            FormField(key: "kind", label: "项目", kind: .choice(["羽毛球", "乒乓球"])),
            FormField(key: "note", label: "备注", kind: .text(minLength: 1, maxLength: 50), optional: true),
        ],
        prefix: "HD", done: "好", source: SourceLocation(path: "f", line: 1))

    func ask(_ turn: FormConversation.Turn) -> (FormProgress, String)? {
        if case .ask(let progress, let reply) = turn { return (progress, reply) }
        return nil
    }

    @Test func walksThroughEveryKindOfQuestionToTheSummary() throws {
        let dialogue = FormConversation(form: form)
        var (progress, reply) = try #require(ask(dialogue.start(at: 100)))
        #expect(reply.hasPrefix("【活动报名】\n欢迎报名\n\n（1/6）请回复姓名："))
        for (answer, expectedStep) in [("张三", 1), ("13812345678", 2), ("２", 3), ("2026年12月1日", 4), ("2", 5), ("无", 6)] {
            (progress, reply) = try #require(ask(dialogue.respond(to: answer, progress: progress, at: 101)))
            #expect(progress.step == expectedStep, "after \(answer)")
        }
        #expect(
            progress.answers == [
                "name": "张三", "phone": "13812345678", "count": "2", "day": "2026-12-01", "kind": "乒乓球", "note": "",
            ])
        #expect(reply.contains("请核对") && reply.contains("备注：（无）") && reply.contains("确认"))
        #expect(progress.updatedAt == 101)
        #expect(dialogue.respond(to: "确认", progress: progress, at: 102) == .submit(answers: progress.answers))
    }

    @Test func refusesBadAnswersWithAReasonAndStaysOnTheQuestion() throws {
        let dialogue = FormConversation(form: form)
        let (start, _) = try #require(ask(dialogue.start(at: 0)))
        let (same, reply) = try #require(ask(dialogue.respond(to: "张", progress: start, at: 1)))
        #expect(same == start)
        #expect(reply.contains("2–4 个字") && reply.contains("请回复姓名"))
    }

    @Test func cancelHelpAndRestart() throws {
        let dialogue = FormConversation(form: form)
        var (progress, _) = try #require(ask(dialogue.start(at: 0)))
        (progress, _) = try #require(ask(dialogue.respond(to: "张三", progress: progress, at: 1)))
        let (helped, help) = try #require(ask(dialogue.respond(to: "帮助", progress: progress, at: 2)))
        #expect(helped == progress)
        #expect(help.contains("取消") && help.contains("手机号"))
        guard case .cancelled(let reply) = dialogue.respond(to: "取消", progress: progress, at: 3) else {
            Issue.record("cancel did not cancel")
            return
        }
        #expect(reply.contains("没有保存"))
        var summary = progress
        summary.step = form.fields.count
        let (restarted, again) = try #require(ask(dialogue.respond(to: "修改", progress: summary, at: 4)))
        #expect(restarted.step == 0 && restarted.answers.isEmpty)
        #expect(again.contains("重新填写"))
        let (stay, nudge) = try #require(ask(dialogue.respond(to: "嗯", progress: summary, at: 5)))
        #expect(stay.step == form.fields.count)
        #expect(nudge.contains("请回复「确认」提交"))
    }

    @Test func withoutConfirmationTheLastAnswerSubmits() {
        let single = FormDefinition(
            name: "s", title: "建议",
            fields: [FormField(key: "content", label: "内容", kind: .text(minLength: 1, maxLength: 10))],
            prefix: "JY", done: "", source: SourceLocation(path: "", line: 0))
        let dialogue = FormConversation(form: single, confirms: false)
        #expect(
            dialogue.respond(to: "多开灯", progress: FormProgress(form: "s", updatedAt: 0), at: 1)
                == .submit(answers: ["content": "多开灯"]))
    }
}

@Suite("Answer validation")
struct FormAnswerTests {
    @Test(arguments: [
        ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"), ("138-1234-5678", "13812345678"),
        ("+8613812345678", "13812345678"), ("8613812345678", "13812345678"), ("１３８１２３４５６７８", "13812345678"),
    ])
    func acceptsMobileNumbersAsPeopleTypeThem(input: String, expected: String) {
        #expect(FormAnswer.mobileNumber(input) == expected)
    }

    @Test(arguments: ["1381234567", "138123456789", "12812345678", "23812345678", "1381234567a", "", "010-12345678"])
    func refusesWhatIsNotAMobileNumber(input: String) {
        #expect(FormAnswer.mobileNumber(input) == nil)
    }

    @Test func readsDatesAndRefusesImpossibleOnes() {
        #expect(FormAnswer.date("2026-12-01") == "2026-12-01")
        #expect(FormAnswer.date("2026/2/3") == "2026-02-03")
        #expect(FormAnswer.date("2028.2.29") == "2028-02-29")
        #expect(FormAnswer.date("2026年12月1日") == "2026-12-01")
        #expect(FormAnswer.date("2026-02-29") == nil)
        #expect(FormAnswer.date("2026-13-01") == nil)
        #expect(FormAnswer.date("明天") == nil)
    }

    @Test func choicesByNumberOrName() throws {
        let field = FormField(key: "k", label: "项目", kind: .choice(["羽毛球", "Table Tennis"]))
        #expect(try FormAnswer.validate("1", for: field).get() == "羽毛球")
        #expect(try FormAnswer.validate("table tennis", for: field).get() == "Table Tennis")
        #expect(throws: FormAnswer.Problem.self) { try FormAnswer.validate("3", for: field).get() }
        #expect(throws: FormAnswer.Problem.self) { try FormAnswer.validate("足球", for: field).get() }
    }

    @Test func numbersInRange() throws {
        let field = FormField(key: "n", label: "人数", kind: .number(min: 1, max: 5))
        #expect(try FormAnswer.validate(" 5 ", for: field).get() == "5")
        #expect(throws: FormAnswer.Problem.self) { try FormAnswer.validate("6", for: field).get() }
        #expect(throws: FormAnswer.Problem.self) { try FormAnswer.validate("两", for: field).get() }
    }
}

@Suite("Trimming a member's answer")
struct TrimmingTests {
    /// The trim a form applies to every answer cuts what Foundation's `.whitespacesAndNewlines`
    /// cuts, on random mixes of spaces of every kind, line breaks, CJK and combining marks.
    @Test func itCutsWhatFoundationCuts() {
        let pieces = [
            " ", "\t", "\n", "\r\n", "\u{3000}", "\u{00A0}", "\u{2028}", "\u{2029}", "\u{85}", "\u{200B}",
            "\u{FEFF}", "\u{2003}", "a", "张", "e\u{301}", "\u{301}", "5", "５", "。",
        ]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let text = (0..<Int.random(in: 0...8, using: &random)).map { _ in
                pieces.randomElement(using: &random) ?? ""
            }.joined()
            #expect(
                text.trimmingWhiteSpace() == text.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(text.debugDescription)")
        }
        #expect("\u{3000}王伟 \n".trimmingWhiteSpace() == "王伟")
        #expect(" \t ".trimmingWhiteSpace().isEmpty)
    }
}

@Suite("Privacy, receipts and exports")
struct SupportTests {
    @Test func masksPhoneNumbersInFreeText() {
        #expect(PersonalData.maskPhones("张三 13812345678 报名") == "张三 138****5678 报名")
        #expect(PersonalData.maskPhones("13812345678") == "138****5678")
        // Not a phone: part of a longer number.
        #expect(PersonalData.maskPhones("订单 213812345678 号") == "订单 213812345678 号")
        #expect(PersonalData.maskPhones("12351") == "12351")
        #expect(PersonalData.maskOpenID("oMember123456") == "oMembe…")
    }

    @Test func receiptNumbersArePaddedAndPrefixed() {
        #expect(ReceiptNumbers.format(prefix: "JY", year: 2026, sequence: 123) == "JY-2026-000123")
        #expect(ReceiptNumbers.format(prefix: "RH", year: 2027, sequence: 1_234_567) == "RH-2027-1234567")
    }

    @Test func csvQuotesAndDefusesFormulas() {
        #expect(CSVExport.field("普通") == "普通")
        #expect(CSVExport.field("a,b") == "\"a,b\"")
        #expect(CSVExport.field("说\"好\"") == "\"说\"\"好\"\"\"")
        #expect(CSVExport.field("两行\n文字") == "\"两行\n文字\"")
        #expect(CSVExport.field("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSVExport.field("-5") == "-5")
        #expect(CSVExport.document([["a", "b"], ["1", "2"]]) == "\u{FEFF}a,b\r\n1,2\r\n")
        #expect(CSVExport.field("2026-11-23") == "2026-11-23")
    }

    /// Graphemes hid characters from the checks: `=` with a combining mark is one character, and
    /// so is `\r\n`. The checks look at Unicode scalars.
    @Test(arguments: [
        ("=\u{301}1+1", "'=\u{301}1+1"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "\"'\r=1+1\""),
        ("＝SUM(A1)", "'＝SUM(A1)"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠cmd", "'＠cmd"),
        ("行一\r\n行二", "\"行一\r\n行二\""),
        ("\"\u{301}", "\"\"\"\u{301}\""),
    ])
    func csvLooksAtScalarsNotCharacters(value: String, field: String) {
        #expect(Array(CSVExport.field(value).unicodeScalars) == Array(field.unicodeScalars))
    }

    @Test func tablesCountChineseAsTwoColumns() {
        #expect(TextTable.width("ab") == 2)
        let table = TextTable.render([["姓名", "状态"], ["张\u{1B}[2J三\u{202E}\u{9B}", "待\n审"]])
        #expect(!table.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E })
        #expect(table.contains("张[2J三") && table.contains("待 审"))
        #expect(TextTable.width("工会") == 4)
        #expect(TextTable.render([["名", "x"], ["张三", "y"]]) == "名    x\n张三  y")
    }

    @Test(arguments: [
        ("建议 食堂增加夜班供餐", "食堂增加夜班供餐"),
        ("  建议：食堂增加夜班供餐  \n", "食堂增加夜班供餐"),
        ("合理化建议 —— 车间通风", "车间通风"),
        ("提建议，更衣室加锁", "更衣室加锁"),
        ("建议", ""),
        ("\u{3000}建议\u{3000}工具间照明\u{3000}", "工具间照明"),
        ("希望建议", "希望建议"),
    ])
    func theSuggestionTextIsWhatFollowsTheKeyword(message: String, text: String) {
        #expect(SuggestionService.text(message) == text)
    }
}

@Suite("Choosing a unit in the 入会 form")
struct UnitChoiceTests {
    /// The county union of `Tests/Fixtures/county-org.yaml`.
    static let book = try! RuleBookLoader().load(files: [
        (
            "org.yaml",
            try! String(
                contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .appendingPathComponent("Fixtures/county-org.yaml").path, encoding: .utf8)
        )
    ])
    let dialogue = FormConversation(form: book.join.form, organisation: book.join.organisation)

    /// Answers name and phone, and returns the progress at the unit question with its text.
    func atTheUnitQuestion() throws -> (FormProgress, String) {
        guard case .ask(var progress, _) = dialogue.start(at: 1) else { throw CancellationError() }
        for answer in ["张三", "13812345678"] {
            guard case .ask(let next, _) = dialogue.respond(to: answer, progress: progress, at: 2) else {
                throw CancellationError()
            }
            progress = next
        }
        return (progress, dialogue.prompt(for: progress))
    }

    func step(_ text: String, _ progress: FormProgress) throws -> (FormProgress, String) {
        guard case .ask(let next, let reply) = dialogue.respond(to: text, progress: progress, at: 3) else {
            throw CancellationError()
        }
        return (next, reply)
    }

    @Test func walksTheTreeLevelByLevelAndBack() throws {
        var (progress, reply) = try atTheUnitQuestion()
        #expect(reply.contains("1. 城东镇工会 ›") && reply.contains("2. 城西镇工会 ›"))
        (progress, reply) = try step("2", progress)
        #expect(progress.step == 2)
        #expect(reply.contains("「城西镇工会」下的单位") && reply.contains("2. 城西纺织厂工会 ›"))
        (progress, reply) = try step("2", progress)
        #expect(reply.contains("1. 纺织厂夜班班组") && reply.contains("返回"))
        (progress, reply) = try step("返回", progress)
        #expect(reply.contains("「城西镇工会」下的单位"))
        (progress, reply) = try step("1", progress)
        #expect(progress.step == 3, "a unit without units below it is chosen")
        #expect(progress.answers["unit"] == "城西环卫所工会")
        #expect(progress.answers["unit_code"] == "chengxi-huanwei")
        #expect(progress.answers[FormConversation.unitLevelKey] == nil)
        #expect(reply.contains("请核对") && reply.contains("城西环卫所工会"))  // the summary comes next
    }

    @Test func findsUnitsByPartOfTheirName() throws {
        var (progress, reply) = try atTheUnitQuestion()
        (progress, reply) = try step("环卫", progress)
        #expect(progress.step == 2)
        #expect(reply.contains("找到 2 个名称含「环卫」的单位"))
        #expect(reply.contains("1. 城东环卫所工会（城东镇工会）") && reply.contains("2. 城西环卫所工会（城西镇工会）"))
        (progress, reply) = try step("2", progress)
        #expect(progress.answers["unit_code"] == "chengxi-huanwei")

        // One find is chosen at once; none is said, and the question stays.
        (progress, reply) = try atTheUnitQuestion()
        (progress, reply) = try step("夜班", progress)
        #expect(progress.answers["unit_code"] == "chengxi-factory-night")
        (progress, reply) = try atTheUnitQuestion()
        (progress, reply) = try step("火星", progress)
        #expect(progress.step == 2)
        #expect(reply.contains("没有找到名称含「火星」的单位"))
    }

    @Test func submitsTheUnitNameAndCode() throws {
        var (progress, _) = try atTheUnitQuestion()
        (progress, _) = try step("城东水务公司工会", progress)
        guard case .submit(let answers) = dialogue.respond(to: "确认", progress: progress, at: 4) else {
            Issue.record("expected the summary to submit")
            return
        }
        #expect(answers["unit"] == "城东水务公司工会")
        #expect(answers["unit_code"] == "chengdong-shuiwu")
        #expect(answers.keys.allSatisfy { !$0.hasPrefix("_") })
    }
}

@Suite("Admin timestamps")
struct AdminTimestampTests {
    /// The computed timestamp agrees with Foundation's ISO 8601 formatter it replaced.
    @Test func matchesFoundationsISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        let samples: [Int64] =
            [0, 59, 60, 86_399, 86_400, 951_782_400, 1_795_363_200, 4_107_542_399, 253_402_300_799]
            + (0..<2_000).map { _ in Int64.random(in: 0...4_102_444_800, using: &generator) }
        for seconds in samples {
            #expect(
                AdminRecords.timestamp(seconds)
                    == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))), "\(seconds)")
        }
    }
}
