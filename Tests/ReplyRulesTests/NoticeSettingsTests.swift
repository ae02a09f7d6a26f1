import Foundation
import Testing

@testable import ReplyRules

@Suite("How notices reach members (notices:)")
struct NoticeSettingsTests {
    @Test func theShippedFileMeansCustomerServiceMessagesOnly() throws {
        let book = try RuleBookLoader().load(directory: shippedReplies)
        #expect(book.notices.routes.isEmpty)
    }

    /// The example in the shipped file's comments, uncommented, loads and means what it says.
    @Test func theShippedExampleIsValidOnceUncommented() throws {
        let path = shippedReplies + "/notices.yaml"
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: "# notices:") else {
            Issue.record("notices.yaml has no example")
            return
        }
        let example = lines[start...].map { $0.hasPrefix("# ") ? String($0.dropFirst(2)) : "" }.joined(separator: "\n")
        let book = try load([("Replies/notices.yaml", example)])
        let membership = try #require(book.notices.routes[.membership])
        #expect(membership.subscription?.templateId == "AbCdEf0123456789_subscribe_join")
        #expect(membership.subscription?.link == "https://union.example.cn/uniongate/hotline")
        #expect(membership.subscription?.fields.map(\.key) == ["character_string1", "phrase2", "time3", "thing4"])
        #expect(membership.template?.templateId == "ZyXwVu9876543210_template_join")
        #expect(book.notices.routes[.caseReply]?.template?.fields.count == 3)
        #expect(book.notices.routes[.suggestion] == nil)
    }

    @Test func checkRefusesLongFieldsLineBreaksAndUnknownPlaceholdersAtTheirLines() {
        let found = problems([
            (
                "Replies/notices.yaml",
                """
                notices:
                  suggestion:
                    template:
                      template_id: tpl_suggestion
                      data:
                        keyword1: "{number}"
                        keyword2: 您的合理化建议已经由工会审议并且采纳了谢谢
                        keyword3: "第一行\\n第二行"
                        keyword4: "{result}"
                        phrase5: 已经全部采纳
                """
            )
        ])
        let errors = found.filter { $0.severity == .error }
        #expect(errors.map(\.line) == [7, 8, 9, 10])
        #expect(errors.allSatisfy { $0.path == "Replies/notices.yaml" })
        #expect(errors[0].message.contains("21 个字") && errors[0].message.contains("20"))
        #expect(errors[1].message.contains("换行"))
        #expect(errors[2].message.contains("{result}") && errors[2].message.contains("{status}"))
        #expect(errors[3].message.contains("5"))
    }

    @Test func checkRefusesAMissingTemplateIdAnUnknownKindAndABadLink() {
        let found = problems([
            (
                "Replies/notices.yaml",
                """
                notices:
                  membership:
                    subscription:
                      page: ftp://union.example.cn
                      data:
                        thing1: "{result}"
                  raffle:
                    template:
                      template_id: x
                """
            )
        ])
        let messages = found.filter { $0.severity == .error }.map { "\($0.line): \($0.message)" }
        #expect(messages.contains { $0.hasPrefix("4:") && $0.contains("template_id") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("4:") && $0.contains("page") })
        #expect(messages.contains { $0.hasPrefix("7:") && $0.contains("raffle") })
    }

    @Test func valuesFilledInWhenSentAreMadeToFit() {
        let template = NoticeTemplate(
            templateId: "t",
            fields: [
                .init(key: "thing1", value: "回复：{reply}"), .init(key: "phrase2", value: "{status}"),
                .init(key: "character_string3", value: "{number}"), .init(key: "thing4", value: "{missing}"),
            ])
        let filled = template.filled(with: [
            "reply": "已转交厂方处理，\n请于下周一到工会办公室\t面谈，带好材料", "status": "已采纳并奖励", "number": "JY-2026-000001",
        ])
        #expect(filled.map(\.key) == ["thing1", "phrase2", "character_string3", "thing4"])
        #expect(filled[0].value == "回复：已转交厂方处理， 请于下周一到工…")
        #expect(filled[0].value.count == 20)
        #expect(filled[1].value == "已采纳并…")
        #expect(filled[2].value == "JY-2026-000001")
        #expect(filled[3].value == "无")
        for field in filled {
            #expect(!field.value.contains { $0.isNewline })
            #expect(field.value.count <= NoticeFieldText.limit(forKey: field.key))
        }
    }
}
