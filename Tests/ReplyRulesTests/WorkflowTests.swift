import Foundation
import Testing

@testable import ReplyRules

@Suite("Workflows (workflows.yaml)")
struct WorkflowTests {
    static func shipped() throws -> RuleBook {
        let names = try FileManager.default.contentsOfDirectory(atPath: shippedReplies).filter { $0.hasSuffix(".yaml") }
        return try load(
            names.map { ($0, try String(contentsOfFile: shippedReplies + "/" + $0, encoding: .utf8)) }
                + [("org.yaml", OrganisationTests.county)])
    }

    /// The shipped three load with their steps, levels and records, and their keywords become
    /// rules; 法律援助 is no longer a chat form.
    @Test func theShippedWorkflowsLoad() throws {
        let book = try Self.shipped()
        #expect(Set(book.workflows.keys) == ["困难帮扶", "金秋助学", "法律援助"])
        #expect(book.forms["法律援助"] == nil)
        let hardship = try #require(book.workflows["困难帮扶"])
        #expect(hardship.steps.map(\.title) == ["申请人", "家庭成员", "证明材料"])
        #expect(hardship.levels.map(\.unit) == [.member, .parent, .top])
        #expect(hardship.levels.last?.record.map(\.key) == ["category", "amount"])
        #expect(hardship.sensitiveKeys.isSuperset(of: ["id_number", "detail", "household", "income"]))
        guard case .group(let columns, _, let most) = hardship.steps[1].fields[0].kind else {
            Issue.record("household is a group")
            return
        }
        #expect(columns.map(\.key) == ["name", "relation", "age", "income"] && most == 8)
        let rule = try #require(book.rules.first { $0.name == "申请-困难帮扶" })
        #expect(rule.replies == [.service(.workflow("困难帮扶"))])
    }

    /// Levels resolve up the member's path: a team's own unit, the level above, the county; a
    /// short branch merges levels into the higher one; no organisation means the top alone.
    @Test func levelsResolveUpTheMembersBranch() throws {
        let book = try Self.shipped()
        let organisation = book.join.organisation
        let hardship = try #require(book.workflows["困难帮扶"])
        #expect(
            hardship.chain(forMemberOf: "chengdong-huanwei", in: organisation).map(\.unit)
                == ["chengdong-huanwei", "chengdong", "county"])
        #expect(
            hardship.chain(forMemberOf: "chengxi-factory-night", in: organisation).map(\.unit)
                == ["chengxi-factory-night", "chengxi-factory", "county"])
        let town = hardship.chain(forMemberOf: "chengdong", in: organisation)
        #expect(town.map(\.unit) == ["chengdong", "county"])
        #expect(town.map(\.level) == [0, 2], "the town acts first, the county for both levels above it")
        #expect(hardship.chain(forMemberOf: "county", in: organisation).map(\.level) == [2])
        #expect(hardship.chain(forMemberOf: "", in: Organisation()).map(\.unit) == [""])
        // 第3级: the grassroots union even for a member of a team below it.
        var byDepth = hardship
        byDepth.levels[0].unit = .level(3)
        byDepth.levels[1].unit = .level(2)
        #expect(
            byDepth.chain(forMemberOf: "chengxi-factory-night", in: organisation).map(\.unit)
                == ["chengxi-factory", "chengxi", "county"])
    }

    /// Mistakes are named with file and line.
    @Test func mistakesAreNamedWithFileAndLine() {
        let yaml = """
            workflows:
              - name: 互助保障
                steps:
                  - title: 一
                    fields:
                      - { key: photo, label: 照片, type: photo }
                  - title: 二
                    fields:
                      - { key: amount, label: 金额, type: money, max: 5000 }
                levels:
                  - { name: 县总, unit: 总工会 }
                  - { name: 镇街, unit: 上一级, roles: [editor] }
              - name: 大病救助
                steps:
                  - fields:
                      - { key: who, label: 人, type: group }
                levels:
                  - { name: 一, unit: 第9级 }
            forms:
              - name: 报名
                fields:
                  - { key: rows, label: 行, type: group, fields: [{ key: a, label: 甲 }] }
            rules:
              - name: 去申请
                keywords: [申请]
                reply: { service: "workflow:没有这个" }
            """
        let found = problems([("workflows.yaml", yaml)]).map { "\($0.path):\($0.line) \($0.message)" }
        func has(_ line: Int, _ text: String) -> Bool {
            found.contains { $0.hasPrefix("workflows.yaml:\(line) ") && $0.contains(text) }
        }
        #expect(has(4, "照片（「照片」）请放在最后一步"), "\(found)")
        #expect(has(12, "总工会已经审批过"), "\(found)")
        #expect(has(12, "角色「editor」不能审批"), "\(found)")
        #expect(has(16, "缺少每一行的问题"), "\(found)")
        #expect(has(18, "第9级"), "\(found)")
        #expect(has(22, "只能用在申请流程"), "\(found)")
        #expect(found.contains { $0.contains("申请流程「没有这个」没有定义") }, "\(found)")
    }
}
