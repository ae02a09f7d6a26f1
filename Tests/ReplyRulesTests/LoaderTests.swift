import Foundation
import Testing

@testable import ReplyRules

@Suite("Loading the Replies folder")
struct LoaderTests {
    @Test func theShippedRepliesLoadWithTheContractMenuKeys() throws {
        let book = try RuleBookLoader().load(directory: shippedReplies)
        #expect(book.rules.count >= 10)
        #expect(book.welcome != nil)
        #expect(book.fallback != nil)
        let keys = try #require(book.menu).buttons.flatMap(\.clickKeys)
        for key in MenuKey.all {
            #expect(keys.contains(key), "menu lacks \(key)")
        }
        #expect(book.hotline.contains { $0.number == "12351" })
        // Placeholders for the union's own numbers are warnings, not errors, and are not shown.
        #expect(book.warnings.contains { $0.path.hasSuffix("hotline.yaml") && $0.severity == .warning })
        #expect(!book.hotline.contains { $0.number.contains("待填写") })
        #expect(!book.examples.isEmpty)
    }

    @Test func reportsYAMLSyntaxErrorsWithTheLine() {
        let found = problems([("Replies/a.yaml", "rules:\n  - name: x\n    keywords: [a, b\n    reply: hi\n")])
        #expect(found.count == 1)
        #expect(found.first?.path == "Replies/a.yaml")
        #expect(found.first?.line == 4)
        #expect(found.first?.message.hasPrefix("YAML 格式错误") == true)
    }

    @Test func collectsEveryProblemWithItsFileAndLine() {
        let yaml = """
            rules:
              - name: 没有触发条件
                reply: hi
              - name: 两种触发
                keywords: [a]
                click: B
                reply: hi
              - name: 错误的匹配方式
                keywords: [a]
                match: fuzzy
                reply: hi
              - name: 错误的正则
                keywords: ["(unclosed"]
                match: regex
                reply: hi
              - name: 未知服务
                keywords: [b]
                reply: { service: teleport }
              - name: 坏占位符
                keywords: [c]
                reply: "今天是{date"
              - name: 非正则用捕获
                keywords: [d]
                reply: "你说{1}"
              - name: 未知的项
                keywords: [e]
                repyl: hi
            colour: blue
            """
        let found = problems([("Replies/rules.yaml", yaml)])
        let lines = found.map(\.line)
        #expect(lines == [2, 4, 10, 13, 18, 21, 22, 25, 27, 28], "\(found)")
        #expect(found.allSatisfy { $0.path == "Replies/rules.yaml" && $0.severity == .error })
        #expect(found[2].message.contains("fuzzy"))
        #expect(found[4].message.contains("teleport"))
        #expect(found.last?.message.contains("colour") == true)
        #expect(found[0].description.hasPrefix("Replies/rules.yaml:2: "))
    }

    @Test func checksTheMenuAgainstWeChatLimits() {
        let yaml = """
            rules:
              - click: A
                reply: a
            menu:
              - name: 一二三四五六七八九
                click: A
              - name: 子菜单
                buttons:
                  - { name: a, click: A }
                  - { name: b, click: A }
                  - { name: c, click: A }
                  - { name: d, click: A }
                  - { name: e, click: A }
                  - { name: f, click: A }
              - name: 网页
                view: ftp://example.com
              - name: 第四个
                click: NOBODY
            """
        let found = problems([("m.yaml", yaml)])
        let messages = found.map(\.description)
        #expect(messages.contains { $0.hasPrefix("m.yaml:5: ") && $0.contains("1 到 3") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("m.yaml:5: ") && $0.contains("太长") })
        #expect(messages.contains { $0.hasPrefix("m.yaml:9: ") && $0.contains("1 到 5") })
        #expect(messages.contains { $0.hasPrefix("m.yaml:16: ") && $0.contains("http") })
    }

    @Test func requiresARuleForEveryMenuClickKey() {
        let yaml = """
            rules:
              - click: JOIN_UNION
                reply: 入会
            menu:
              - name: 入会
                click: JOIN_UNION
              - name: 拨号
                click: DIAL_HOTLINE
            """
        let found = problems([("m.yaml", yaml)])
        #expect(found.count == 1)
        #expect(found.first?.line == 7)
        #expect(found.first?.message.contains("DIAL_HOTLINE") == true)
    }

    @Test func refusesASecondWelcomeInAnotherFile() {
        let found = problems([("a.yaml", "welcome: 你好\n"), ("b.yaml", "\n\nwelcome: 您好\n")])
        #expect(found.count == 1)
        #expect(found.first?.path == "b.yaml")
        #expect(found.first?.line == 3)
        #expect(found.first?.message.contains("a.yaml:1") == true)
    }

    @Test func warnsAboutAKeywordAnEarlierRuleAlreadyAnswers() throws {
        let book = try load([
            ("a.yaml", "rules:\n  - keywords: [福利]\n    reply: a\n  - name: 第二\n    keywords: [福利]\n    reply: b\n")
        ])
        #expect(book.warnings.count == 1)
        #expect(book.warnings.first?.line == 4)
    }

    @Test func readsEveryReplyKind() throws {
        let yaml = """
            rules:
              - keywords: [t]
                reply: 文字
              - keywords: [a]
                reply:
                  articles:
                    - { title: 标题, description: 说明, picture: "https://p/1.jpg", url: "https://u/1" }
              - keywords: [i]
                reply: { image: MEDIA1 }
              - keywords: [v]
                reply: { voice: MEDIA2 }
              - keywords: [vi]
                reply: { video: MEDIA3, title: 片名, description: 简介 }
              - keywords: [s]
                reply: { service: join }
              - keywords: [f]
                reply: { form: 法律援助 }
              - keywords: [k]
                reply: { transfer: true }
              - keywords: [q]
                reply: { silence: true }
              - keywords: [m]
                pick: random_one
                replies: [一, 二]
            forms:
              - name: 法律援助
                fields: [{ label: 姓名 }]
            """
        let book = try load([("r.yaml", yaml)])
        let replies = book.rules.map(\.replies)
        #expect(replies[0] == [.text(TextTemplate(literal: "文字"))])
        #expect(
            replies[1] == [
                .articles([
                    ArticleTemplate(
                        title: TextTemplate(literal: "标题"), description: TextTemplate(literal: "说明"),
                        picURL: "https://p/1.jpg",
                        url: "https://u/1")
                ])
            ])
        #expect(replies[2] == [.image(mediaId: "MEDIA1")])
        #expect(replies[3] == [.voice(mediaId: "MEDIA2")])
        #expect(replies[4] == [.video(mediaId: "MEDIA3", title: "片名", description: "简介")])
        #expect(replies[5] == [.service(.join)])
        #expect(replies[6] == [.service(.form("法律援助"))])
        #expect(replies[7] == [.transferToCustomerService])
        #expect(replies[8] == [.silence])
        #expect(replies[9].count == 2)
        #expect(book.rules[9].pick == .randomOne)
    }

    @Test func keepsWhatStaffWroteAsTextEvenWhereYAMLWouldGuess() throws {
        // YAML 1.1 reads `no` as false and 12351 as a number; staff mean the words.
        let book = try load([("r.yaml", "rules:\n  - keywords: [no, 12351, on]\n    reply: 0012351\n")])
        guard case .keywords(let words, _, _) = book.rules[0].trigger else {
            Issue.record("not a keyword rule")
            return
        }
        #expect(words == ["no", "12351", "on"])
        #expect(book.rules[0].replies == [.text(TextTemplate(literal: "0012351"))])
    }

    @Test func readsConditions() throws {
        let yaml = """
            rules:
              - keywords: [a]
                when: { days: 周一至周五, hours: ["09:00-12:00", "22:00-06:00"], members: true }
                reply: x
              - keywords: [b]
                when: { days: [sat, 7] }
                reply: y
            """
        let book = try load([("r.yaml", yaml)])
        #expect(
            book.rules[0].conditions
                == Conditions(days: [1, 2, 3, 4, 5], hours: [540..<720, 1320..<1440, 0..<360], members: true))
        #expect(book.rules[1].conditions.days == [6, 7])
        let bad = problems([("r.yaml", "rules:\n  - keywords: [a]\n    when: { hours: 9-5, days: 周八 }\n    reply: x\n")]
        )
        #expect(bad.count == 2)
    }

    @Test func readsConversationExamples() throws {
        let yaml = """
            examples:
              - send: 帮助
                expect: 入会
              - name: 入会流程
                member: true
                steps:
                  - click: JOIN_UNION
                    expect: [姓名]
                  - send: 张三
                    expect_not: 错误
              - subscribe: factory3
                silent: true
              - send: x
            """
        let found = problems([("e.yaml", yaml)])
        #expect(found.map(\.line) == [13])
        let book = try load([("e.yaml", yaml.components(separatedBy: "\n").dropLast().joined(separator: "\n"))])
        #expect(book.examples.count == 3)
        #expect(book.examples[1].asMember)
        #expect(book.examples[1].steps.map(\.input) == [.click("JOIN_UNION"), .text("张三")])
        #expect(book.examples[2].steps[0].input == .subscribe(scene: "factory3"))
        #expect(book.examples[2].steps[0].expectSilence)
    }

    @Test func templatesReadPlaceholdersAndEscapedBraces() throws {
        let template = try TextTemplate.parse("{{日期}}：{date} {内容} {1}{name}").get()
        #expect(
            template.segments == [
                .literal("{日期}："), .placeholder(.date), .literal(" "), .placeholder(.content), .literal(" "),
                .placeholder(.capture(1)), .placeholder(.namedCapture("name")),
            ])
        #expect(throws: TemplateError.self) { try TextTemplate.parse("a}b").get() }
        #expect(throws: TemplateError.self) { try TextTemplate.parse("{a b}").get() }
    }
}

@Suite("Limits on a Replies folder")
struct LimitTests {
    @Test func tooManyRulesOrKeywordsAreRefusedAtTheFirstOneOver() throws {
        let rules = (0...RuleBookLimits.rules).map { "  - { keywords: [词\($0)], reply: 答 }" }
        let found = problems([("Replies/many.yaml", "rules:\n" + rules.joined(separator: "\n") + "\n")])
        #expect(found.count == 1)
        #expect(found.first?.line == RuleBookLimits.rules + 2)
        #expect(found.first?.message.contains("规则太多") == true)

        let words = (0...RuleBookLimits.keywords).map { "w\($0)" }.joined(separator: ", ")
        let keywords = problems([("Replies/words.yaml", "rules:\n  - { keywords: [\(words)], reply: 答 }\n")])
        #expect(keywords.map(\.message).contains { $0.contains("关键词太多") })
    }

    @Test func anOversizeFileAndAnEmptyFolderAreRefusedWithTheirPath() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: RuleProblems.self) { try RuleBookLoader().load(directory: folder.path) }
        do {
            _ = try RuleBookLoader().load(directory: folder.path)
        } catch let error as RuleProblems {
            #expect(error.problems.first?.message.contains("没有规则文件") == true)
        }
        let big = String(repeating: "# 注释填充\n", count: RuleBookLimits.fileBytes / 10)
        try big.write(to: folder.appendingPathComponent("big.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try RuleBookLoader().load(directory: folder.path)
            Issue.record("an oversize file loaded")
        } catch let error as RuleProblems {
            #expect(error.problems.count == 1)
            #expect(error.problems.first?.path.hasSuffix("big.yaml") == true)
            #expect(error.problems.first?.message.contains("文件太大") == true)
        }
    }

    @Test func aFileOfAliasesToAliasesIsRefusedWithoutExpandingThem() throws {
        // Each level doubles the last: 40 levels stand for 2^40 scalars in a file of a few KB.
        var yaml = "a0: &a0 [答, 答]\n"
        for level in 1...40 { yaml += "a\(level): &a\(level) [*a\(level - 1), *a\(level - 1)]\n" }
        yaml += "rules:\n  - { keywords: [炸弹], reply: 答 }\n"
        let found = problems([("Replies/bomb.yaml", yaml)])
        #expect(found.count == 1)
        #expect(found.first?.path == "Replies/bomb.yaml")
        #expect(found.first?.message.contains("别名") == true)
        // A few aliases that stay small are still YAML the staff may write.
        let modest = "rules:\n  - { keywords: [甲], reply: &same 同一个回复 }\n  - { keywords: [乙], reply: *same }\n"
        #expect(problems([("Replies/modest.yaml", modest)]).isEmpty)
    }

    @Test(arguments: [
        #"^(a+)+$"#, #"(a|aa)*b"#, #"(\d+)*x"#, #"((ab)*c)+"#, #"(.*)\1"#, #"(?<w>a)\k<w>"#, #"a.*b.*c.*d"#,
        #"(x?){8}"#,
    ])
    func aPatternThatCanBacktrackWithoutBoundIsRefusedAtItsLine(pattern: String) {
        let yaml =
            "rules:\n  - name: ok\n    keywords: [好]\n    reply: 好\n  - name: slow\n    match: regex\n    keywords: ['\(pattern)']\n    reply: 慢\n"
        let found = problems([("Replies/regex.yaml", yaml)])
        #expect(found.count == 1, "\(pattern)")
        #expect(found.first?.line == 7)
        #expect(found.first?.message.contains("正则表达式") == true)
    }

    @Test(arguments: [
        #"^退(会|出)$"#, #"编号\s*(\d{6})"#, #"^.*工资.*$"#, #"[(+*)]+"#, #"(?<num>\d+)号"#, #"(ab){2}c+"#,
        #"^(?:加班|调休)费?$"#, #"a{2,5}b"#,
    ])
    func ordinaryPatternsAreAccepted(pattern: String) {
        let yaml = "rules:\n  - match: regex\n    keywords: ['\(pattern)']\n    reply: 好\n"
        #expect(problems([("Replies/regex.yaml", yaml)]).isEmpty, "\(pattern)")
    }

    @Test func theVersionFollowsTheFilesNotTheirFolder() throws {
        let text = "rules:\n  - name: 帮助\n    keywords: [帮助]\n    reply: 您好\n"
        let here = try load([("/srv/a/Replies/help.yaml", text)]).version
        let there = try load([("/opt/b/Replies/help.yaml", text)]).version
        let changed = try load([("/srv/a/Replies/help.yaml", text.replacingOccurrences(of: "您好", with: "你好"))]).version
        #expect(here.count == 12 && here == there)
        #expect(changed != here)
    }
}

@Suite("Photo fields")
struct PhotoFieldTests {
    @Test func aPhotoFieldIsReadAndItsMostIsChecked() throws {
        let form = """
            forms:
              - name: 帮扶
                title: 困难帮扶
                keywords: [帮扶]
                prefix: BF
                fields:
                  - { key: name, label: 姓名, type: text }
                  - { key: proof, label: 证明材料, type: photo, max: 4, optional: true }
                done: 已收到，编号 {number}
            """
        let book = try load([("forms.yaml", form)])
        #expect(book.forms["帮扶"]?.fields.last?.kind == .photo(max: 4))
        let found = problems([("forms.yaml", form.replacingOccurrences(of: "max: 4", with: "max: 9"))])
        #expect(found.map(\.line) == [8])
        #expect(found.first?.message.contains("1 到 6 张") == true)
    }
}
