import ReplyRules
import WeChatWire

/// 我的申请: the join application, suggestions and form submissions, newest first, each with
/// its number, status and date.
struct MyApplicationsService: Sendable {
    let parts: DeskParts

    func list(_ openid: String, book: RuleBook) async throws -> [ReplyBody] {
        let (application, suggestions, submissions, aid) = try await parts.store.read { database in
            (
                try await MembershipRegistry.latest(for: openid, in: database),
                try await SuggestionBox.recent(for: openid, limit: 5, in: database),
                try await FormSubmissions.recent(for: openid, limit: 10, in: database),
                try await AidApplications.recent(for: openid, limit: 10, in: database)
            )
        }
        return [
            .text(
                Self.text(
                    application: application, suggestions: suggestions, submissions: submissions, aid: aid, book: book))
        ]
    }

    static func text(
        application: MembershipApplication?, suggestions: [Suggestion], submissions: [FormSubmission],
        aid: [AidApplication] = [], book: RuleBook
    ) -> String {
        struct Line {
            var at: Int64
            var text: String
        }
        func date(_ unix: Int64) -> String {
            let time = LocalTime(unixSeconds: unix, utcOffsetMinutes: book.settings.utcOffsetMinutes)
            return "\(time.month)月\(time.day)日"
        }
        var lines: [Line] = []
        if let application {
            lines.append(
                Line(
                    at: application.createdAt,
                    text: "【入会申请】\(application.number) \(application.status.chinese)（\(date(application.createdAt))）"))
        }
        for suggestion in suggestions {
            var text = "【合理化建议】\(suggestion.number) \(suggestion.status.chinese)（\(date(suggestion.createdAt))）"
            if let reply = suggestion.reply { text += "\n  工会回复：\(reply)" }
            lines.append(Line(at: suggestion.createdAt, text: text))
        }
        for submission in submissions {
            let title = book.forms[submission.form]?.title ?? submission.form
            var text = "【\(title)】\(submission.number) \(submission.status.chinese)（\(date(submission.createdAt))）"
            if let reply = submission.reply { text += "\n  工会回复：\(reply)" }
            lines.append(Line(at: submission.createdAt, text: text))
        }
        for application in aid {
            let item = MemberRecords.item(application, book: book)
            var text = "【\(item.title)】\(application.number) \(item.status)（\(date(application.createdAt))）"
            if let asked = application.asked, application.status == .returned {
                text += "\n  需要补充：\(asked)（请在会员中心「我的申请」补充）"
            }
            if let reason = application.reason { text += "\n  未通过原因：\(reason)" }
            lines.append(Line(at: application.createdAt, text: text))
        }
        guard !lines.isEmpty else {
            return "您还没有办理过事项。回复「帮助」查看可以办理的服务。"
        }
        return (["您办理的事项："] + lines.sorted { $0.at > $1.at }.map(\.text)).joined(separator: "\n")
    }
}
