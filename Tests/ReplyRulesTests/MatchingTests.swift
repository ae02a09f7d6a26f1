import Testing
import WeChatWire

@testable import ReplyRules

@Suite("Matching rules")
struct MatchingTests {
    func engine(_ yaml: String) throws -> RuleEngine {
        RuleEngine(book: try load([("r.yaml", yaml)]))
    }

    @Test func matchesEachKeywordMode() throws {
        let rules = try engine(
            """
            rules:
              - { keywords: [福利], reply: exact }
              - { keywords: [热线], match: contains, reply: contains }
              - { keywords: [建议], match: prefix, reply: prefix }
              - { keywords: ["^工号(\\\\d+)$", "^编号(?<code>[A-Z]+)$"], match: regex, reply: "工号{1}{code}" }
            default: 默认
            """)
        #expect(rules.replyText(text("福利")) == "exact")
        #expect(rules.replyText(text("福利多吗")) == "默认")
        #expect(rules.replyText(text("工会热线是多少")) == "contains")
        #expect(rules.replyText(text("建议 食堂加个菜")) == "prefix")
        #expect(rules.replyText(text("我有建议")) == "默认")
        #expect(rules.replyText(text("工号12345")) == "工号12345")
        #expect(rules.replyText(text("编号AB")) == "工号ABAB")  // a named group is also group 1
        #expect(rules.replyText(text("工号12a")) == "默认")
    }

    @Test func aRegexSeesOnlyTheStartOfALongMessage() throws {
        let rules = try engine("rules:\n  - { keywords: [\"工资$\"], match: regex, reply: 工资 }\ndefault: 默认\n")
        let short = String(repeating: "问", count: RuleEngine.regexTextLimit - 2) + "工资"
        let long = String(repeating: "问", count: RuleEngine.regexTextLimit) + "工资"
        #expect(rules.replyText(text(short)) == "工资")
        #expect(rules.replyText(text(long)) == "默认")
    }

    @Test func normalisesWhatMembersType() throws {
        let rules = try engine("rules:\n  - { keywords: [入会, help], reply: ok }\n")
        for typed in ["入会", " 入会 ", "入会。", "入会！", "HELP", "ｈｅｌｐ", "Help?"] {
            #expect(rules.replyText(text(typed)) == "ok", "\(typed)")
        }
        #expect(rules.replyText(text("入会吧")) == nil)
    }

    @Test func higherPriorityWinsThenFileOrder() throws {
        let rules = try engine(
            """
            rules:
              - { name: first, keywords: [工会], match: contains, reply: first }
              - { name: second, keywords: [工会热线], reply: second }
              - { name: urgent, priority: 5, keywords: [热线], match: contains, reply: urgent }
            """)
        #expect(rules.replyText(text("工会热线")) == "urgent")
        #expect(rules.replyText(text("工会")) == "first")
        let decision = rules.decide(text("工会热线"), context: MatchContext(unixTime: 0))
        #expect(decision?.rule.name == "urgent")
    }

    @Test func appliesOfficeHoursDaysAndMembership() throws {
        let rules = try engine(
            """
            rules:
              - keywords: [人工]
                when: { days: 周一至周五, hours: ["09:00-17:30"] }
                reply: 在班
              - keywords: [人工]
                reply: 下班
              - keywords: [福利]
                when: { members: true }
                reply: 会员福利
              - keywords: [福利]
                reply: 请先入会
            """)
        #expect(rules.replyText(text("人工"), at: monday(9)) == "在班")
        #expect(rules.replyText(text("人工"), at: monday(17, 29)) == "在班")
        #expect(rules.replyText(text("人工"), at: monday(17, 30)) == "下班")
        #expect(rules.replyText(text("人工"), at: monday(8, 59)) == "下班")
        #expect(rules.replyText(text("人工"), at: monday(10) + 6 * 86_400) == "下班")  // Sunday
        #expect(rules.replyText(text("福利"), member: true) == "会员福利")
        #expect(rules.replyText(text("福利"), member: false) == "请先入会")
        #expect(rules.needsMembership)
    }

    @Test func answersEvents() throws {
        let rules = try engine(
            """
            rules:
              - { subscribe: factory3, reply: 三厂欢迎你 }
              - { scan: factory3, reply: 已扫三厂 }
              - { scan: any, reply: 已扫码 }
              - { click: JOIN_UNION, reply: 入会菜单 }
              - { view: "https://union.example/hotline", reply: 看热线 }
            welcome: 欢迎
            default: 默认
            """)
        #expect(rules.replyText(event(.subscribe(scene: "factory3", ticket: "t"))) == "三厂欢迎你")
        #expect(rules.replyText(event(.subscribe(scene: "other", ticket: "t"))) == "欢迎")
        #expect(rules.replyText(event(.subscribe(scene: nil, ticket: nil))) == "欢迎")
        #expect(
            rules.decide(event(.subscribe(scene: nil, ticket: nil)), context: MatchContext(unixTime: 0))?.reason
                == .welcome)
        #expect(rules.replyText(event(.scan(scene: "factory3", ticket: nil))) == "已扫三厂")
        #expect(rules.replyText(event(.scan(scene: "x", ticket: nil))) == "已扫码")
        #expect(rules.replyText(event(.click(key: "JOIN_UNION"))) == "入会菜单")
        #expect(rules.replyText(event(.click(key: "OTHER"))) == nil)
        #expect(rules.replyText(event(.view(url: "https://union.example/hotline", menuId: nil))) == "看热线")
        #expect(rules.replyText(event(.unsubscribe)) == nil)
        #expect(rules.replyText(event(.location(latitude: 1, longitude: 2, precision: 3))) == nil)
    }

    @Test func usesTheDefaultForUnmatchedMessagesOnly() throws {
        let rules = try engine("rules:\n  - { keywords: [热线], reply: 12351 }\ndefault: 默认\n")
        let image = InboundMessage(
            header: MessageHeader(account: "gh", sender: "o", createTime: 1, msgId: 2),
            kind: .image(ImageMessage(picURL: "p", mediaId: "m")))
        #expect(rules.replyText(image) == "默认")
        let voice = InboundMessage(
            header: MessageHeader(account: "gh", sender: "o", createTime: 1, msgId: 3),
            kind: .voice(VoiceMessage(mediaId: "m", format: "amr", recognition: "热线。")))
        #expect(rules.replyText(voice) == "12351")
        let silent = try engine("rules:\n  - { keywords: [热线], reply: 12351 }\n")
        #expect(silent.replyText(text("别的")) == nil)
    }

    @Test func fillsPlaceholders() throws {
        let rules = try engine(
            """
            settings: { union_name: 一厂工会 }
            rules:
              - { keywords: [日期], reply: "{union}：今天是{date}{weekday}，现在{time}，你说“{content}”" }
            """)
        // 2026-11-23 09:05 Beijing time is a Monday.
        #expect(rules.replyText(text("日期"), at: monday(9, 5)) == "一厂工会：今天是2026年11月23日星期一，现在09:05，你说“日期”")
    }

    @Test func picksOneRandomReplyOrAll() throws {
        let rules = try engine(
            """
            rules:
              - { keywords: [一], pick: random_one, replies: [甲, 乙] }
              - { keywords: [全], replies: [甲, 乙, 丙] }
            """)
        var seen = Set<String>()
        for _ in 0..<200 { seen.insert(rules.replyText(text("一")) ?? "") }
        #expect(seen == ["甲", "乙"])
        #expect(rules.replyText(text("全")) == "甲|乙|丙")
    }

    @Test func localTimeKnowsCalendarAndWeekday() {
        let time = LocalTime(unixSeconds: 1_795_360_332, utcOffsetMinutes: 480)  // 2026-11-22 23:12:12 +08:00
        #expect([time.year, time.month, time.day, time.hour, time.minute, time.weekday] == [2026, 11, 22, 23, 12, 7])
        let leap = LocalTime(unixSeconds: 951_782_400, utcOffsetMinutes: 0)  // 2000-02-29 00:00 UTC, a Tuesday
        #expect([leap.year, leap.month, leap.day, leap.weekday] == [2000, 2, 29, 2])
        let before = LocalTime(unixSeconds: -1, utcOffsetMinutes: 0)
        #expect(
            [before.year, before.month, before.day, before.hour, before.minute, before.weekday] == [
                1969, 12, 31, 23, 59, 3,
            ])
    }
}

@Suite("Keyword index at scale")
struct KeywordIndexTests {
    /// A small seeded generator, so a failing case can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let alphabet = Array("工会福利建议热线入会职工疗休养互助保险abc12")

    func word(_ random: inout SplitMix64, length: ClosedRange<Int>) -> String {
        String((0..<Int.random(in: length, using: &random)).map { _ in Self.alphabet.randomElement(using: &random)! })
    }

    @Test func findsExactlyWhatANaiveScanFinds() throws {
        var random = SplitMix64(state: 2026)
        var yaml = "rules:\n"
        var rules: [(mode: MatchMode, keyword: String)] = []
        for index in 0..<3000 {
            let mode: MatchMode = [.exact, .contains, .prefix][index % 3]
            let keyword = word(&random, length: 2...4)
            rules.append((mode, keyword))
            yaml += "  - { name: r\(index), keywords: [\"\(keyword)\"], match: \(mode.rawValue), reply: r\(index) }\n"
        }
        let engine = RuleEngine(book: try load([("big.yaml", yaml)]))
        for _ in 0..<1500 {
            let message = word(&random, length: 1...8)
            let expected = rules.firstIndex { rule in
                switch rule.mode {
                case .exact: message == rule.keyword
                case .contains: message.contains(rule.keyword)
                case .prefix: message.hasPrefix(rule.keyword)
                case .regex: false
                }
            }
            let decided = engine.decide(text(message), context: MatchContext(unixTime: 0))?.rule.name
            #expect(decided == expected.map { "r\($0)" }, "message \(message)")
        }
    }

    @Test func tenThousandKeywordsAllReachTheirRule() throws {
        var yaml = "rules:\n"
        for index in 0..<10_000 {
            yaml += "  - { name: r\(index), keywords: [\"关键词\(index)号\"], reply: r\(index) }\n"
        }
        let engine = RuleEngine(book: try load([("big.yaml", yaml)]))
        for index in stride(from: 0, to: 10_000, by: 97) {
            #expect(engine.decide(text("关键词\(index)号"), context: MatchContext(unixTime: 0))?.rule.name == "r\(index)")
        }
        #expect(engine.decide(text("关键词10000号"), context: MatchContext(unixTime: 0)) == nil)
    }
}
