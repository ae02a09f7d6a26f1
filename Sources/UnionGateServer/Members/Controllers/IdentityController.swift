import Foundation
import Hummingbird
import ReplyRules
import UnionServices

/// 会员实名: a member's real name, phone and 居民身份证 number. A member already on the union's
/// roster binds their WeChat to it with their name and number (or name and phone) and is a member
/// at once; a member who joined through UnionGate records their identity. What does not match
/// goes to staff as a case, never to a stranger's row. Numbers are shown masked.
struct IdentityController: MemberController {
    let shared: MemberShared

    struct View: Encodable {
        struct Record: Encodable {
            let name: String
            let number: String
            let unit: String
            let idMask: String
            let phoneMask: String
            let joinedOn: String?
        }
        /// The member's roster row, once bound.
        let record: Record?
        /// The form, when there is none yet.
        let form: Form?
        /// What happened (bound, recorded, sent to staff).
        let outcome: String?
        let isMember: Bool
    }

    struct Form: Encodable {
        /// 登记 (an approved member) or 绑定 (someone on the roster).
        let joined: Bool
        let name: String
        let identity: String
        let phone: String
        let problems: [String]
    }

    func register(on pages: RouterGroup<GatewayRequestContext>) {
        pages.get("identity", use: show)
        pages.post("identity", use: submit)
    }

    private func record(_ entry: RosterEntry) -> View.Record {
        View.Record(
            name: entry.name, number: entry.memberNumber,
            unit: book.join.organisation.units[entry.unitCode]?.name ?? entry.unitCode,
            idMask: entry.idMask.isEmpty ? "未登记" : entry.idMask,
            phoneMask: entry.phoneMask.isEmpty ? "未登记" : entry.phoneMask,
            joinedOn: entry.joinedOn.isEmpty ? nil : entry.joinedOn)
    }

    @Sendable func show(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        if let entry = try await shared.registry.entry(for: member.openid) {
            let view = View(record: record(entry), form: nil, outcome: nil, isMember: true)
            return try pages.render("identity", title: "会员实名", view, context: context, back: "/m/")
        }
        let application = try await shared.desk.latestApplication(of: member.openid)
        let joined = application?.status == .approved
        let form = Form(
            joined: joined, name: joined ? application?.name ?? "" : "", identity: "", phone: "", problems: [])
        return try pages.render(
            "identity", title: joined ? "会员实名" : "绑定会员身份",
            View(record: nil, form: form, outcome: nil, isMember: joined), context: context, back: "/m/")
    }

    @Sendable func submit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let member = try member(context)
        let inputs = try await request.decode(as: [String: String].self, context: context)
        let application = try await shared.desk.latestApplication(of: member.openid)
        let joined = application?.status == .approved
        let name = (inputs["name"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let identityText = (inputs["identity"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let phoneText = (inputs["phone"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        var problems: [String] = []
        if name.isEmpty || name.count > 30 { problems.append("请填写姓名（与身份证一致）。") }
        var identity: IdentityNumber?
        if !identityText.isEmpty {
            switch IdentityNumber.parse(identityText, today: RosterImport.today(shared.clock(), book: book)) {
            case .success(let parsed): identity = parsed
            case .failure(let problem): problems.append(problem.message)
            }
        }
        var phone: String?
        if !phoneText.isEmpty {
            if let number = FormAnswer.mobileNumber(phoneText) {
                phone = number
            } else {
                problems.append("手机号应为 11 位数字、以 1 开头。")
            }
        }
        if joined, identityText.isEmpty { problems.append("请填写身份证号。") }
        if !joined, identityText.isEmpty, phoneText.isEmpty { problems.append("请填写身份证号（或在工会登记过的手机号）。") }
        guard problems.isEmpty else {
            let form = Form(joined: joined, name: name, identity: identityText, phone: phoneText, problems: problems)
            return try pages.render(
                "identity", title: joined ? "会员实名" : "绑定会员身份",
                View(record: nil, form: form, outcome: nil, isMember: joined), status: .unprocessableContent,
                context: context, back: "/m/", error: "请修改标红的内容后再提交。")
        }
        let binding = try await shared.registry.bind(
            member.openid, name: name, identity: identity, phone: phone, book: book, at: shared.clock())
        let view: View
        switch binding {
        case .bound(let entry):
            view = View(
                record: record(entry), form: nil, outcome: "绑定成功！您已是工会会员，可以使用电子会员卡了。", isMember: true)
        case .alreadyBound(let entry):
            view = View(record: record(entry), form: nil, outcome: "您已绑定过会员身份。", isMember: true)
        case .recorded(let entry):
            view = View(record: record(entry), form: nil, outcome: "实名信息已登记。", isMember: true)
        case .boundToAnother(let number):
            view = View(
                record: nil, form: nil,
                outcome: "这个会员身份已绑定了另一个微信。已转工会工作人员核实（编号 \(number)），核实后会通过公众号通知您。", isMember: joined)
        case .tooManyAttempts:
            view = View(
                record: nil, form: nil, outcome: "今天的绑定尝试次数已用完。请明天再试，或联系工会工作人员核实。", isMember: joined)
        case .noMatch(let number):
            view = View(
                record: nil, form: nil,
                outcome: "没有在工会名册中找到与您的姓名和证件号一致的会员。已转工会工作人员核实（编号 \(number)），核实后会通过公众号通知您；"
                    + "如果您还不是会员，可以申请入会。", isMember: joined)
        }
        return try pages.render("identity", title: "会员实名", view, context: context, back: "/m/")
    }
}
