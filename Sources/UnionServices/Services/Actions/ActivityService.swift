import Foundation
import ReplyRules
import WeChatWire

/// 「活动」, 「报名 17」, 「取消报名 17」 and 「我的活动」 in the chat: the activities a member may sign
/// up for as article cards (their unit's and the shared ones, soonest first), a sign-up or a
/// place on the waitlist by the activity's number, a cancellation, and their own list. A retry of
/// the same message signs up once and gets the same answer.
struct ActivityService: Sendable {
    let parts: DeskParts

    private var activities: Activities { Activities(store: parts.store) }

    /// The number in 「报名 17」 (full-width digits allowed), and the people in 「报名 17 3人」.
    static func numbers(_ content: String, after keywords: [String]) -> (id: Int?, people: Int) {
        var text = Substring(content.precomposedStringWithCompatibilityMapping).drop(while: \.isWhitespace)
        for keyword in keywords where text.hasPrefix(keyword) {
            text = text.dropFirst(keyword.count)
            break
        }
        let groups = text.split(whereSeparator: { !$0.isASCII || !$0.isNumber }).compactMap { Int($0) }
        let people = text.contains("人") && groups.count >= 2 ? groups[1] : 1
        return (groups.first, people)
    }

    /// The open activities (at most 8), each saying how to sign up by its number: as article
    /// cards for a menu tap, as one text for a typed 「活动」 (WeChat shows one card in reply to a
    /// text; the others would each be a customer-service message).
    func list(_ openid: String, asEvent: Bool, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let unit = try await parts.latestApplication(openid)?.unitCode ?? ""
        let open = try await activities.open(
            forMemberOf: unit, openid: openid, organisation: book.join.organisation, at: now, limit: 8)
        return cards(open, asEvent: asEvent, book: book, at: now)
    }

    /// ``list(_:book:at:)`` from memory: the member's unit remembered and the list fresh.
    func listFromMemory(_ openid: String, asEvent: Bool, book: RuleBook, at now: Int64) -> FromMemory<[ReplyBody]> {
        guard case .some(let application) = parts.store.facts.application(for: openid),
            let open = activities.openFromMemory(
                forMemberOf: application?.unitCode ?? "", organisation: book.join.organisation, at: now, limit: 8)
        else { return .needsStore }
        return .known(cards(open, asEvent: asEvent, book: book, at: now))
    }

    /// The list as the member reads it, rendered once for each list that differs in what it
    /// shows (its activities, their places left and changes, which have opened or closed
    /// sign-up, cards or text) and kept with the board.
    private func cards(_ open: [(Activity, left: Int)], asEvent: Bool, book: RuleBook, at now: Int64) -> [ReplyBody] {
        let base = parts.publicURL?.trimmingSlash() ?? parts.memberPages?.baseURL?.trimmingSlash()
        let offset = book.settings.utcOffsetMinutes
        var shown = Hasher()
        shown.combine(asEvent)
        shown.combine(offset)
        shown.combine(base)
        for (activity, left) in open {
            shown.combine(activity.id)
            shown.combine(left)
            shown.combine(activity.updatedAt)
            shown.combine(now < activity.opensAt)
            shown.combine(now >= activity.closesAt)
        }
        return parts.store.activityBoard.rendering(shown.finalize()) {
            render(open, asEvent: asEvent, base: base, offset: offset, at: now)
        }
    }

    private func render(_ open: [(Activity, left: Int)], asEvent: Bool, base: String?, offset: Int, at now: Int64)
        -> [ReplyBody]
    {
        guard !open.isEmpty else { return [.text("近期没有可以报名的活动。有新活动时会在这里发布，也可以回复「我的活动」查看已报名的活动。")] }
        if !asEvent && open.count > 1 {
            var lines = ["近期可以报名的活动："]
            for (activity, left) in open {
                let state =
                    now < activity.opensAt
                    ? "\(Activities.day(activity.opensAt, utcOffsetMinutes: offset))开始报名"
                    : now >= activity.closesAt
                        ? "报名已截止" : left > 0 ? "余 \(left) 个名额" : activity.waitlist ? "已满，可候补" : "已满"
                lines.append(
                    "\(activity.id). 【\(Activities.when(activity, utcOffsetMinutes: offset))】\(activity.title)，\(activity.place)，\(state)"
                )
            }
            lines.append("回复「报名」加编号报名，如「报名 \(open[0].0.id)」。")
            if let base { lines.append("查看详情：\(base)/m/activities") }
            return [.text(lines.joined(separator: "\n"))]
        }
        return [
            .news(
                open.map { activity, left in
                    let state: String
                    if now < activity.opensAt {
                        state = "\(Activities.day(activity.opensAt, utcOffsetMinutes: offset))开始报名"
                    } else if now >= activity.closesAt {
                        state = "报名已截止"
                    } else if left > 0 {
                        state = "余 \(left) 个名额 · 回复「报名 \(activity.id)」报名"
                    } else {
                        state = activity.waitlist ? "名额已满，可候补 · 回复「报名 \(activity.id)」" : "名额已满"
                    }
                    return Article(
                        title: "【\(Activities.when(activity, utcOffsetMinutes: offset))】\(activity.title)",
                        description: "\(activity.place) · \(state)", picURL: activity.picture,
                        url: base.map { "\($0)/m/activities/\(activity.id)" } ?? "")
                })
        ]
    }

    /// 「报名 17」: a place, the waitlist with its position, or why not.
    func signUp(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws
        -> [ReplyBody]
    {
        let (number, people) = Self.numbers(content, after: ["活动报名", "报名"])
        guard let id = number else {
            return [.text("请回复「报名」加活动编号，如「报名 12」；带家属请写人数，如「报名 12 3人」。回复「活动」查看可以报名的活动。")]
        }
        let openid = message.header.sender
        let outcome = try await activities.signUp(
            id, openid: openid, people: people, key: MessageKey.of(message),
            isMember: try await parts.isMember(openid), organisation: book.join.organisation, at: now)
        guard let activity = try await activities.activity(id) else {
            return [.text("没有编号为 \(id) 的活动。回复「活动」查看可以报名的活动。")]
        }
        var text = Activities.describe(outcome, activity, utcOffsetMinutes: book.settings.utcOffsetMinutes)
        // An activity that asks questions at sign-up is signed up for on its page.
        if case .refused = outcome, !ActivityQuestions.of(activity).isEmpty,
            let base = parts.publicURL?.trimmingSlash() ?? parts.memberPages?.baseURL?.trimmingSlash()
        {
            text += "\n\(base)/m/activities/\(activity.id)"
        }
        return [.text(text)]
    }

    /// A scan of an activity's check-in or check-out code.
    struct Scan: Sendable, Hashable {
        var id: Int
        /// Whether the scan followed the account.
        var follow: Bool
        /// Whether it is the check-out code (service hours).
        var checkOut: Bool
    }

    /// The activity a scan of a check-in or check-out code names, and whether the scan followed
    /// the account.
    static func checkInScan(_ message: InboundMessage) -> Scan? {
        guard case .event(let event) = message.kind else { return nil }
        let scene: String
        let follow: Bool
        switch event {
        case .subscribe(let value?, _): (scene, follow) = (value, true)
        case .scan(let value, _): (scene, follow) = (value, false)
        default: return nil
        }
        if let id = Activities.activity(inScene: scene) { return Scan(id: id, follow: follow, checkOut: false) }
        if let id = Activities.activity(inCheckOutScene: scene) { return Scan(id: id, follow: follow, checkOut: true) }
        return nil
    }

    /// A scan of an activity's check-in code: 「签到成功」, or why not; a new follower is welcomed
    /// first.
    func checkIn(_ scan: Scan, message: InboundMessage, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let key = MessageKey.of(message)
        let outcome =
            scan.checkOut
            ? try await activities.checkOut(scan.id, openid: message.header.sender, key: key, at: now)
            : try await activities.checkIn(scan.id, openid: message.header.sender, key: key, at: now)
        let welcome = scan.follow ? "感谢关注「\(book.settings.unionName)」！\n" : ""
        return [.text(welcome + outcome.text)]
    }

    /// 「取消报名 17」.
    func cancel(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let (number, _) = Self.numbers(content, after: ["取消报名", "取消活动"])
        let openid = message.header.sender
        guard let id = number else {
            let mine = try await activities.mine(openid)
            guard !mine.isEmpty else { return [.text("您目前没有报名的活动。")] }
            return [
                .text(
                    "请回复「取消报名」加活动编号，如「取消报名 \(mine[0].0.id)」。\n"
                        + Self.mine(mine, utcOffsetMinutes: book.settings.utcOffsetMinutes))
            ]
        }
        guard let activity = try await activities.activity(id) else { return [.text("没有编号为 \(id) 的活动。")] }
        let (cancelled, _) = try await activities.cancel(id, openid: openid, at: now)
        guard cancelled != nil else { return [.text("您没有报名「\(activity.title)」（或已经取消）。")] }
        return [.text("已取消您的「\(activity.title)」报名。")]
    }

    /// 「我的活动」.
    func mine(_ openid: String, book: RuleBook) async throws -> [ReplyBody] {
        let mine = try await activities.mine(openid)
        guard !mine.isEmpty else { return [.text("您目前没有报名的活动。回复「活动」查看可以报名的活动。")] }
        return [.text(Self.mine(mine, utcOffsetMinutes: book.settings.utcOffsetMinutes))]
    }

    static func mine(_ list: [(Activity, SignUpOutcome)], utcOffsetMinutes offset: Int) -> String {
        var lines = ["您报名的活动："]
        for (activity, outcome) in list {
            let state: String
            switch outcome {
            case .confirmed(let signUp): state = signUp.people > 1 ? "已报名 \(signUp.people) 人" : "已报名"
            case .waitlisted(_, let position): state = "候补第 \(position) 位"
            case .refused: continue
            }
            lines.append(
                "【\(state)】\(activity.id). \(activity.title)，\(Activities.when(activity, utcOffsetMinutes: offset))，\(activity.place)"
            )
        }
        return lines.joined(separator: "\n")
    }
}
