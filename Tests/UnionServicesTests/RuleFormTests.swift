import Foundation
import ReplyRules
import Testing

@testable import UnionServices

@Suite("A rule changed through the console's form")
struct RuleFormTests {
    static let file = """
        # 帮助和人工服务（这行注释要留下）

        rules:
          - name: 帮助
            # 关键词可以有多个
            keywords: [帮助, help, "?"]
            reply: |
              第一行
              第二行

          - name: 人工服务
            priority: 10
            keywords: [人工]
            when:
              days: 周一至周五
            reply: 请留言。

          - { name: 菜单, keywords: [菜单], reply: 看菜单 }

        examples:
          - send: 帮助
            expect: 第一行
        """

    @Test func readsARuleAsItsFileSaysIt() throws {
        let help = try RuleForm.read(Self.file, line: 4)
        #expect(help == RuleForm(name: "帮助", keywords: ["帮助", "help", "?"], match: .exact, reply: "第一行\n第二行\n"))
        let staffed = try RuleForm.read(Self.file, line: 11)
        #expect(staffed.name == "人工服务" && staffed.reply == "请留言。")
    }

    /// The form reads a rule with the loader's reader: what YAML would guess to be a boolean
    /// or a number stays the text the staff wrote, as the loader keeps it.
    @Test func readsValuesAsTheLoaderDoesNotAsYAMLGuesses() throws {
        let file = """
            rules:
              - name: 是否
                keywords: [yes, 0x10, no, 12351]
                reply: on
            """
        let form = try RuleForm.read(file, line: 2)
        #expect(form.keywords == ["yes", "0x10", "no", "12351"])
        #expect(form.reply == "on")
        let book = try RuleBookLoader().load(files: [("faq.yaml", file)])
        guard case .keywords(let words, _, _) = book.rules.first?.trigger else {
            Issue.record("the loader read no keyword rule")
            return
        }
        #expect(Set(words) == Set(form.keywords.map { KeywordNormalizer.normalize($0) }))
    }

    @Test func changesOnlyTheFormsKeysAndKeepsCommentsAndTheRest() throws {
        var help = try RuleForm.read(Self.file, line: 4)
        help.name = "帮助与服务"
        help.keywords = ["帮助", "服务", "yes", "12351"]
        help.match = .contains
        help.reply = "新的第一行\n新的第二行"
        let changed = try help.apply(to: Self.file, line: 4)
        #expect(try RuleForm.read(changed, line: 4) == help)
        #expect(changed.contains("# 帮助和人工服务（这行注释要留下）"))
        #expect(changed.contains("    # 关键词可以有多个"))
        #expect(changed.contains("keywords: [帮助, 服务, \"yes\", \"12351\"]"), "\(changed)")
        // The next rule, with its priority and hours, is where it was, untouched.
        let before = Self.file.split(separator: "\n", omittingEmptySubsequences: false)
        let after = changed.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(Array(after.suffix(12)) == Array(before.suffix(12)))

        var staffed = try RuleForm.read(changed, line: after.firstIndex(of: "  - name: 人工服务")! + 1)
        staffed.reply = "请留言，我们会回复。"
        let line = after.firstIndex(of: "  - name: 人工服务")! + 1
        let twice = try staffed.apply(to: changed, line: line)
        #expect(twice.contains("    when:\n      days: 周一至周五\n    reply: 请留言，我们会回复。"), "\(twice)")
        #expect(twice.contains("    priority: 10"))

        // The loader reads what the form wrote, as the form meant it.
        let book = try RuleBookLoader().load(files: [(path: "help.yaml", text: twice)])
        let rule = try #require(book.rules.first { $0.name == "帮助与服务" })
        if case .keywords(let words, let mode, _) = rule.trigger {
            #expect(words == ["帮助", "服务", "yes", "12351"] && mode == .contains)
        } else {
            Issue.record("not a keyword rule")
        }
    }

    @Test func whatTheFormCannotShowIsLeftToTheFileEditor() {
        #expect(throws: RuleForm.Unsupported.self) { try RuleForm.read(Self.file, line: 17) }  // a flow mapping
        #expect(throws: RuleForm.Unsupported.self) { try RuleForm.read(Self.file, line: 2) }  // not a rule
        #expect(throws: RuleForm.Unsupported.self) {
            try RuleForm.read(
                "rules:\n  - name: 卡片\n    keywords: [卡]\n    reply:\n      - text: 一\n      - text: 二\n", line: 2)
        }
    }
}
