import Foundation
import ReplyRules
import WeChatWire

/// 「俱乐部」, 「加入俱乐部 3」, 「退出俱乐部 3」 and 「志愿时长」 in the chat: the clubs and volunteer
/// teams a member may join with their own standing, a request to join (once however often it is
/// sent), leaving, and the member's volunteer service hours.
struct ClubService: Sendable {
    let parts: DeskParts

    private var clubs: Clubs { Clubs(store: parts.store) }

    /// 「俱乐部」: the member's clubs, then those they may join, each with its number.
    func list(_ openid: String, book: RuleBook) async throws -> [ReplyBody] {
        let unit = try await parts.latestApplication(openid)?.unitCode ?? ""
        let standings = try await clubs.mine(openid)
        // A refused request is listed with the clubs they may join (and ask again), as on the pages.
        let mine = standings.filter { $0.1.status != .refused }
        let open = try await clubs.open(forMemberOf: unit, organisation: book.join.organisation)
        let standing = Dictionary(standings.map { ($0.0.id, $0.1) }, uniquingKeysWith: { first, _ in first })
        var lines: [String] = []
        if !mine.isEmpty {
            lines.append("您的俱乐部：")
            for (club, membership) in mine {
                lines.append("【\(membership.status.chinese)】\(club.id). \(club.name)（\(club.kind)）")
            }
        }
        let others = open.filter { standing[$0.id] == nil || standing[$0.id]?.status == .refused }
        if !others.isEmpty {
            if !lines.isEmpty { lines.append("") }
            lines.append("可以加入的俱乐部和志愿服务队：")
            for club in others.prefix(20) {
                let leader = club.leader.isEmpty ? "" : "，负责人 \(club.leader)"
                lines.append("\(club.id). \(club.name)（\(club.kind)\(leader)）")
            }
            lines.append("回复「加入俱乐部」加编号申请加入，如「加入俱乐部 \(others[0].id)」。")
        }
        guard !lines.isEmpty else { return [.text("目前还没有可以加入的俱乐部或志愿服务队。")] }
        if !mine.isEmpty { lines.append("退出请回复「退出俱乐部」加编号。") }
        return [.text(lines.joined(separator: "\n"))]
    }

    /// 「加入俱乐部 3」.
    func join(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let (number, _) = ActivityService.numbers(content, after: ["加入俱乐部", "加入志愿服务队", "加入"])
        guard let id = number else {
            return [.text("请回复「加入俱乐部」加编号，如「加入俱乐部 3」。回复「俱乐部」查看可以加入的俱乐部。")]
        }
        let openid = message.header.sender
        guard
            let (club, outcome) = try await clubs.ask(
                id, openid: openid, key: MessageKey.of(message), isMember: try await parts.isMember(openid),
                organisation: book.join.organisation, at: now)
        else { return [.text("没有编号为 \(id) 的俱乐部。回复「俱乐部」查看可以加入的俱乐部。")] }
        return [.text(outcome.text(club))]
    }

    /// 「退出俱乐部 3」.
    func leave(_ content: String, message: InboundMessage, book: RuleBook, at now: Int64) async throws -> [ReplyBody] {
        let (number, _) = ActivityService.numbers(content, after: ["退出俱乐部", "退出志愿服务队", "退出"])
        guard let id = number, let club = try await clubs.club(id) else {
            return [.text("请回复「退出俱乐部」加编号，如「退出俱乐部 3」。回复「俱乐部」查看您加入的俱乐部。")]
        }
        let left = try await clubs.leave(
            id, openid: message.header.sender, organisation: book.join.organisation, at: now)
        return [.text(left ? "您已退出「\(club.name)」。" : "您不是「\(club.name)」的成员（或已经退出）。")]
    }

    /// 「志愿时长」: the total and the latest activities.
    func hours(_ openid: String, book: RuleBook) async throws -> [ReplyBody] {
        let service = try await Activities(store: parts.store).service(of: openid)
        guard !service.isEmpty else {
            return [.text("您还没有志愿服务时长记录。参加志愿服务队的活动时，签到并在结束时扫签退码，时长会自动记录。")]
        }
        let total = service.reduce(0) { $0 + $1.minutes }
        var lines = ["您的志愿服务时长共 \(Activities.hours(total))，参加 \(service.count) 次："]
        for (activity, minutes) in service.prefix(10) {
            lines.append(
                "· \(Activities.day(activity.startsAt, utcOffsetMinutes: book.settings.utcOffsetMinutes)) \(activity.title)：\(Activities.hours(minutes))"
            )
        }
        return [.text(lines.joined(separator: "\n"))]
    }
}
