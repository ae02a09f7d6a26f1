import Foundation
import Testing

@testable import ReplyRules

@Suite("The organisation (org.yaml)")
struct OrganisationTests {
    /// A county union three levels deep, shared with the 入会 conversation's tests.
    static let county = try! String(
        contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/county-org.yaml").path, encoding: .utf8)

    /// The join form is kept with its settings: whatever is changed, in whatever order, the form
    /// asks for the unit as the organisation says and ends with the union's own questions.
    @Test func theJoinFormFollowsItsSettings() throws {
        var join = JoinSettings()
        #expect(join.form.fields.map(\.key) == ["name", "phone", "unit"])
        #expect(join.form.fields[2].kind == .text(minLength: 2, maxLength: 50))
        join.extraFields = [FormField(key: "age", label: "年龄", kind: .text(minLength: 1, maxLength: 3))]
        #expect(join.form.fields.map(\.key) == ["name", "phone", "unit", "age"])
        join.organisation = Organisation.legacy(units: ["一车间", "二车间"], unionName: "公司工会")
        #expect(join.form.fields[2].kind == .choice(["一车间", "二车间"]))
        #expect(join.form.fields.last?.key == "age")
        let book = try load([("Replies/org.yaml", Self.county)])
        #expect(book.join.form.fields[2].kind == .unit)  // a tree: the unit is chosen level by level
        join.organisation = book.join.organisation
        #expect(join.form.fields[2].kind == .unit)
        join.extraFields = []
        #expect(join.form.fields.map(\.key) == ["name", "phone", "unit"])
        #expect(JoinSettings(units: ["一车间"], extraFields: join.extraFields).form.fields.count == 3)
    }

    @Test func readsTheTreeInOrderWithParentsDepthsAndHotlines() throws {
        let book = try load([("Replies/org.yaml", Self.county)])
        let organisation = book.join.organisation
        #expect(organisation.root == "county")
        #expect(organisation.order.first == "county")
        #expect(organisation.units.count == 8)
        #expect(organisation.units["county"]?.children == ["chengdong", "chengxi"])
        #expect(organisation.units["chengxi-factory-night"]?.depth == 3)
        #expect(organisation.units["county"]?.hotline.first?.number == "0571-12345678")
        #expect(
            organisation.path(to: "chengxi-factory-night").map(\.code) == [
                "county", "chengxi", "chengxi-factory", "chengxi-factory-night",
            ])
        #expect(
            Set(organisation.subtree(of: "chengxi")) == [
                "chengxi", "chengxi-huanwei", "chengxi-factory", "chengxi-factory-night",
            ])
        #expect(
            organisation.leaves.map(\.code) == [
                "chengdong-huanwei", "chengdong-shuiwu", "chengxi-huanwei", "chengxi-factory-night",
            ])
        #expect(organisation.search("环卫").map(\.code) == ["chengdong-huanwei", "chengxi-huanwei"])
        #expect(!organisation.isPlainChoice)
        if case .unit = book.join.form.fields[2].kind {} else { Issue.record("the unit question walks the tree") }
    }

    @Test func reportsDuplicateCodesEmptyNamesBadCodesAndDeepTreesAtTheirLines() {
        let yaml = """
            org:
              code: root
              name: 总工会
              children:
                - { code: a, name: 甲 }
                - { code: a, name: 乙 }
                - { code: b, name: "" }
                - { code: "c d", name: 丙 }
                - code: l2
                  name: 二级
                  children:
                    - code: l3
                      name: 三级
                      children:
                        - code: l4
                          name: 四级
                          children:
                            - code: l5
                              name: 五级
                              children:
                                - code: l6
                                  name: 六级
                                  children:
                                    - { code: l7, name: 七级 }
            """
        let found = problems([("Replies/org.yaml", yaml)])
        let lines = found.map { "\($0.path):\($0.line): \($0.message)" }
        #expect(
            lines.contains { $0.hasPrefix("Replies/org.yaml:6:") && $0.contains("重复") && $0.contains("org.yaml:5") })
        #expect(lines.contains { $0.hasPrefix("Replies/org.yaml:7:") && $0.contains("名称") })
        #expect(lines.contains { $0.hasPrefix("Replies/org.yaml:8:") && $0.contains("字母、数字") })
        #expect(lines.contains { $0.hasPrefix("Replies/org.yaml:24:") && $0.contains("太深") && $0.contains("七级") })
        #expect(found.count == 4, "\(lines)")
    }

    @Test func anOldUnitsListIsOneLevelUnderTheUnion() throws {
        let book = try load([
            ("Replies/join.yaml", "join:\n  units: [生产一部, 生产二部]\n"),
            ("Replies/settings.yaml", "settings:\n  union_name: 某公司工会\n"),
        ])
        let organisation = book.join.organisation
        #expect(organisation.isLegacyList)
        #expect(organisation.units["root"]?.name == "某公司工会")
        #expect(organisation.leaves.map(\.name) == ["生产一部", "生产二部"])
        #expect(organisation.leaves.map(\.code) == ["unit-1", "unit-2"])
        #expect(book.join.form.fields[2].kind == .choice(["生产一部", "生产二部"]))
    }

    @Test func withOrgTheOldListIsIgnoredWithAWarning() throws {
        let book = try load([
            ("Replies/join.yaml", "join:\n  units: [生产一部]\n"), ("Replies/org.yaml", Self.county),
        ])
        #expect(book.join.organisation.root == "county")
        #expect(book.warnings.contains { $0.path == "Replies/join.yaml" && $0.message.contains("org") })
    }
}
