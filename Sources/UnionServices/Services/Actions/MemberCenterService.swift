import Foundation
import ReplyRules
import WeChatWire

/// 「会员中心」: the member's way into their pages. Where WeChat's web authorisation lets them in,
/// the pages' address; otherwise a personal link that works once, for ten minutes, for them only.
struct MemberCenterService: Sendable {
    let parts: DeskParts

    /// How the member pages are reached: their address and how members sign in.
    struct Entry: Sendable {
        let access: MemberAccess
        let signIn: MemberSignIn
        /// The gateway's public address; nil when none is configured (the pages are not open).
        let baseURL: String?
    }

    static let notOpen = "会员中心暂未开通，请联系工会工作人员。"

    func fromMemory() -> FromMemory<[ReplyBody]> {
        guard let entry = parts.memberPages, let base = entry.baseURL else { return .known([.text(Self.notOpen)]) }
        guard entry.signIn == .oauth else { return .needsStore }
        return .known([.text("点击进入<a href=\"\(base.trimmingSlash())/m/\">会员中心</a>：会员卡、入会、我的申请。")])
    }

    /// The way to a workflow's application page: its address where WeChat's web authorisation
    /// lets members in, a personal link that opens it otherwise.
    func application(_ workflow: Workflow, for message: InboundMessage, at now: Int64) async throws -> [ReplyBody] {
        guard let entry = parts.memberPages, let base = entry.baseURL else { return [.text(Self.notOpen)] }
        let page = "/m/aid/" + Self.encoded(workflow.name)
        let intro = workflow.intro.map { $0 + "\n" } ?? ""
        if entry.signIn == .oauth {
            return [
                .text(intro + "点击<a href=\"\(base.trimmingSlash())\(page)\">在线申请「\(workflow.title)」</a>，可分步填写、上传证明材料。")
            ]
        }
        let token = try await entry.access.issueLink(
            for: message.header.sender, messageKey: MessageKey.of(message), at: now)
        return [
            .text(
                intro
                    + "点击<a href=\"\(base.trimmingSlash())/m/in/\(token)?next=\(Self.encoded(page))\">在线申请「\(workflow.title)」</a>，"
                    + "可分步填写、上传证明材料。\n链接 10 分钟内有效，只能由您本人打开一次，请勿转发。")
        ]
    }

    /// `text` percent-encoded for a link's path or query.
    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/")))
            ?? text
    }

    func link(for message: InboundMessage, at now: Int64) async throws -> [ReplyBody] {
        if case .known(let replies) = fromMemory() { return replies }
        guard let entry = parts.memberPages, let base = entry.baseURL else { return [.text(Self.notOpen)] }
        let token = try await entry.access.issueLink(
            for: message.header.sender, messageKey: MessageKey.of(message), at: now)
        return [
            .text(
                "点击进入<a href=\"\(base.trimmingSlash())/m/in/\(token)\">会员中心</a>：会员卡、入会、我的申请。\n"
                    + "链接 10 分钟内有效，只能由您本人打开一次，请勿转发。")
        ]
    }
}
