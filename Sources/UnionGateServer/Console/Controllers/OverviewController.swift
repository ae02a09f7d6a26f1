import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 概览: today's figures, the last 30 days, the questions nobody answered, the busiest rules.
struct OverviewController: ConsoleController {
    let shared: ConsoleShared

    struct View: Encodable {
        struct Figure: Encodable {
            let label: String
            let today: Int
            let sub: String
            var alert = false
        }
        struct Unanswered: Encodable {
            let content: String
            let times: Int
            /// The text for the 加规则 link's query.
            let encoded: String
        }
        struct RuleHits: Encodable {
            let name: String
            let hits: Int
        }
        let figures: [Figure]
        let chart: Chart
        let unanswered: [Unanswered]
        let canEdit: Bool
        let topRules: [RuleHits]
        struct Participation: Encodable {
            let label: String
            let signUps: Int
            let checkedIn: Int
        }
        /// This year's activity sign-ups and check-ins by month and by unit.
        let byMonth: [Participation]
        let byUnit: [Participation]
        let year: Int
    }

    /// The last 30 days as stacked bars, inline SVG drawn by the template (no script, no
    /// external file).
    struct Chart: Encodable {
        struct Bar: Encodable {
            let kind: String
            let x: String
            let y: String
            let width: String
            let height: String
            let date: String
            let value: Int
        }
        struct Label: Encodable {
            let x: String
            let date: String
        }
        let top: Int
        let bars: [Bar]
        let labels: [Label]

        init(_ days: [ConsoleOverview.Day]) {
            let width = 600
            let height = 160
            let top = max(1, days.map { $0.applications + $0.suggestions + $0.cases }.max() ?? 1)
            let slot = Double(width - 30) / Double(max(days.count, 1))
            func figure(_ value: Double) -> String { String(format: "%.1f", value) }
            var bars: [Bar] = []
            var labels: [Label] = []
            for (index, day) in days.enumerated() {
                let x = 30 + Double(index) * slot
                var y = Double(height)
                for (value, kind) in [
                    (day.applications, "applications"), (day.suggestions, "suggestions"), (day.cases, "cases"),
                ]
                where value > 0 {
                    let barHeight = Double(value) / Double(top) * Double(height - 14)
                    y -= barHeight
                    bars.append(
                        Bar(
                            kind: kind, x: figure(x + 1), y: figure(y), width: figure(slot - 2),
                            height: figure(barHeight), date: day.date, value: value))
                }
                if index % 5 == 4 || index == days.count - 1 { labels.append(Label(x: figure(x), date: day.date)) }
            }
            self.top = top
            self.bars = bars
            self.labels = labels
        }
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("", use: overview)
    }

    @Sendable func overview(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let actor = try context.actor()
        let overview = try await shared.overviews.overview(
            for: actor, at: clock(), utcOffsetMinutes: offset, in: store)
        typealias Figure = View.Figure
        var figures = [
            Figure(
                label: "待审核入会", today: overview.pendingApplications,
                sub: "今日新申请 \(overview.applications.today)，30 天 \(overview.applications.month)",
                alert: overview.pendingApplications > 0),
            Figure(label: "今日通过入会", today: overview.approved.today, sub: "30 天 \(overview.approved.month)"),
            Figure(label: "今日合理化建议", today: overview.suggestions.today, sub: "30 天 \(overview.suggestions.month)"),
            Figure(
                label: "待答复留言", today: overview.casesOpen,
                sub: "今日新留言 \(overview.cases.today)，30 天 \(overview.cases.month)"),
            Figure(
                label: "已超期留言", today: overview.casesOverdue, sub: "超过答复期限仍未答复",
                alert: overview.casesOverdue > 0),
        ]
        if let messages = overview.messages, let followers = overview.followers {
            figures.insert(Figure(label: "今日消息", today: messages.today, sub: "30 天 \(messages.month)"), at: 0)
            figures.insert(Figure(label: "今日新关注", today: followers.today, sub: "30 天 \(followers.month)"), at: 1)
        }
        if let held = overview.noticesHeld {
            figures.append(Figure(label: "需电话通知", today: held, sub: "微信发不出去的通知", alert: held > 0))
        }
        let hits = shared.metrics.hitsByRule.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(10)
        let view = View(
            figures: figures, chart: Chart(overview.days),
            unanswered: overview.unanswered.map {
                View.Unanswered(content: $0.content, times: $0.times, encoded: ConsoleLinks.encoded($0.content))
            },
            canEdit: actor.may(.editRules) && actor.scope == .everything,
            topRules: hits.map { View.RuleHits(name: $0.key, hits: $0.value) },
            byMonth: overview.participationByMonth.map {
                View.Participation(label: $0.label, signUps: $0.signUps, checkedIn: $0.checkedIn)
            },
            byUnit: overview.participationByUnit.map {
                View.Participation(
                    label: $0.label.isEmpty ? "（未入会的关注者）" : unitName($0.label), signUps: $0.signUps,
                    checkedIn: $0.checkedIn)
            },
            year: LocalTime(unixSeconds: clock(), utcOffsetMinutes: offset).year)
        return try pages.render("overview", title: "概览", view, context: context)
    }
}
