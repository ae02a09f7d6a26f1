import Foundation
import Logging
import ReplyRules
import Testing
import UnionServices
import WeChatTestSupport

@testable import UnionGateServer

@Suite("Hot reload of the Replies folder")
struct RulesReloadTests {
    func rule(_ reply: String) -> String {
        "rules:\n  - { keywords: [测试], reply: \"\(reply)\" }\n"
    }

    @Test func aSavedChangeTakesEffectAndABrokenFileKeepsTheLastGoodRules() async throws {
        let directory = try temporaryReplies(["rules.yaml": rule("旧的回复")])
        try await withGateway(replies: directory, configure: { $0.reloadInterval = .milliseconds(50) }) {
            client, gateway in
            let member = Member()
            #expect(try await client.replyText(member.text("测试")) == "旧的回复")

            try rule("新的回复，长度不同").write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
            try await waitUntil(timeout: .seconds(30)) { try await client.replyText(member.text("测试")) == "新的回复，长度不同" }

            try "rules:\n  - { keywords: [测试], reply: \"坏\"\n".write(
                toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
            try await waitUntil(timeout: .seconds(30)) {
                gateway.metrics.render().contains("uniongate_rules_reload_failures_total 1")
            }
            #expect(try await client.replyText(member.text("测试")) == "新的回复，长度不同")

            // Adding a file is a change too.
            try rule("第二个文件").replacingOccurrences(of: "测试", with: "再测").write(
                toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
            try "welcome: 你好\n".write(toFile: directory + "/welcome.yaml", atomically: true, encoding: .utf8)
            try await waitUntil(timeout: .seconds(30)) { try await client.replyText(member.text("再测")) == "第二个文件" }

            // A folder emptied of rule files is a failed reload, not a book that answers nothing.
            for file in ["rules.yaml", "welcome.yaml"] {
                try FileManager.default.removeItem(atPath: directory + "/" + file)
            }
            try await waitUntil(timeout: .seconds(30)) {
                gateway.metrics.render().contains("uniongate_rules_reload_failures_total 2")
            }
            #expect(try await client.replyText(member.text("再测")) == "第二个文件")
            // Each reload that took effect is in the audit log; the refused ones are not.
            let reloads = try await client.adminList("/admin/api/audit", query: ["action": "rules.reload"])
            #expect(reloads.count >= 2 && reloads.allSatisfy { $0["actor"] as? String == "replies" })
        }
    }

    @Test func reloadReportsProblemsWithFileAndLine() throws {
        let directory = try temporaryReplies(["rules.yaml": rule("一")])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let rules = try LiveRules(directory: directory, logger: logger)
        #expect(rules.reloadIfChanged() == .unchanged)
        try "rules:\n  - keywords: [测试]\n    reply: { service: nope }\n".write(
            toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        guard case .rejected(let problems) = rules.reloadIfChanged() else {
            Issue.record("a broken file was accepted")
            return
        }
        #expect(
            problems.map(\.description) == [
                "\(directory)/rules.yaml:3: 未知的服务「nope」（可用：activities、activity_cancel、activity_sign_up、club_join、club_leave、clubs、hotline、join、join_status、member_center、my_activities、my_applications、my_suggestions、suggestion、volunteer_hours、welfare，或 form: 表单名称、workflow: 申请事项名称）"
            ])
        #expect(rules.generation == 1)
        // The same broken file is not retried until it is saved again; a forced reload (SIGHUP) retries.
        #expect(rules.reloadIfChanged() == .unchanged)
        guard case .rejected = rules.reloadIfChanged(force: true) else {
            Issue.record("a forced reload of a broken file was accepted")
            return
        }
        try rule("二二").write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        #expect(rules.reloadIfChanged() == .reloaded)
        #expect(rules.generation == 2)
    }
}
