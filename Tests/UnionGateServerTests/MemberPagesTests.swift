import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ReplyRules
import Testing
import WeChatAPI
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer
@testable import UnionServices

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The public address the tests' gateway believes it has (the web authorisation returns there).
let publicURL = "https://union.example"

/// A gateway with member pages, a fake WeChat API (its web authorisation too), a browser for the
/// pages and WeChat's side of the chat, all over live HTTP.
func withMemberPages(
    signIn: MemberSignIn = .link, clock: TestClock = TestClock(),
    _ body: @Sendable (ConsoleVisitor, WeChatClient, Gateway, FakeWeChatAPI, String) async throws -> Void
) async throws {
    try await withFakeWeChat { fake, base in
        let gateway = try await buildTestGateway(
            replies: countyReplies,
            configure: { configuration in
                configuration.publicURL = publicURL
                configuration.memberSignIn = signIn
                configuration.authorizeBaseURL = base
                configuration.memberIdleSeconds = 3600
                // Uploads of several MB: on two busy cores the test client can take longer than
                // the 10 s a client normally has to send a whole request.
                configuration.requestReadTimeout = .seconds(120)
            }, unixTime: clock.read, ledgerClock: ContinuousClock(), wechatAPI: base)
        try await buildApplication(gateway).test(.live) { client in
            try await body(
                ConsoleVisitor(client), WeChatClient(port: client.port!, clock: clock.read), gateway, fake, base)
        }
    }
}

/// Asks a server once, without following a redirect (as WeChat's browser would, one hop at a time).
private func getOnce(_ url: String) async throws -> (status: Int, location: String?) {
    final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
        ) { completionHandler(nil) }
    }
    let session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
    defer { session.finishTasksAndInvalidate() }
    let (_, response) = try await session.data(from: URL(string: url)!)
    let http = response as! HTTPURLResponse
    return (http.statusCode, http.value(forHTTPHeaderField: "Location"))
}

extension ConsoleVisitor {
    /// Signs in to the member pages with a personal link asked for in the chat.
    @discardableResult
    func enterMemberPages(as member: Member, chat: WeChatClient) async throws -> String {
        let reply = try #require(try await chat.replyText(member.text("会员中心")))
        let link = try #require(reply.firstMatch(of: /\/m\/in\/([0-9a-f]{64})/)).output.0
        let opened = try await get(String(link))
        #expect(opened.status == 303 && opened.location == "/m/", "\(opened.status) \(opened.body)")
        return String(link)
    }
}

@Suite("Member pages: getting in, 入会, 我的申请, the card")
struct MemberPagesTests {
    /// `/m/` without a session goes to WeChat's web authorisation with a state tied to the
    /// browser; WeChat comes back with a code the gateway exchanges server-side; a replayed code,
    /// a forged or expired state and WeChat's refusals get Chinese pages, and no session.
    @Test func theWebAuthorisationRoundTrip() async throws {
        let clock = TestClock()
        try await withMemberPages(signIn: .oauth, clock: clock) { browser, _, _, fake, base in
            fake.browse(as: "oMemberOAuth")
            let start = try await browser.get("/m/card")
            #expect(start.status == 302)
            let location = try #require(start.location)
            // WeChat's parameters in its order; the redirect back to the public address, encoded.
            let parameters = try #require(
                location.firstMatch(
                    of: /\?appid=([^&]+)&redirect_uri=([^&]+)&response_type=code&scope=snsapi_base&state=([0-9a-fx]+)#/)
            )
            #expect(location.hasPrefix(base + "/connect/oauth2/authorize?"))
            #expect(parameters.output.1 == FakeWeChatAPI.appId)
            #expect(parameters.output.2.removingPercentEncoding == publicURL + "/m/oauth?next=%2Fm%2Fcard")
            #expect(location.hasSuffix("#wechat_redirect"))
            let nonceCookie = try #require(browser.setCookies.first { $0.hasPrefix("ug_oauth=") })
            for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/m"] {
                #expect(nonceCookie.contains(attribute), "\(nonceCookie)")
            }
            // WeChat's side: the authorisation sends the browser back with a code and the state.
            let authorised = try await getOnce(String(location.prefix { $0 != "#" }))
            #expect(authorised.status == 302)
            let back = try #require(authorised.location)
            #expect(back.hasPrefix(publicURL + "/m/oauth?next=%2Fm%2Fcard&code="))
            let callback = String(back.dropFirst(publicURL.count))
            let signedIn = try await browser.get(callback)
            #expect(signedIn.status == 303 && signedIn.location == "/m/card", "\(signedIn.status) \(signedIn.body)")
            let session = try #require(browser.setCookies.first { $0.hasPrefix("ug_member=") })
            for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/m"] {
                #expect(session.contains(attribute), "\(session)")
            }
            #expect(fake.calls(to: "/sns/oauth2/access_token").count == 1)
            let card = try await browser.get("/m/card")
            #expect(card.status == 200)
            #expect(card.body.contains("您还不是工会会员"))
            // WeChat calling the redirect a second time finds the browser signed in.
            let again = try await browser.get(callback)
            #expect(again.status == 303 && again.location == "/m/card")

            // Another browser replaying the used code with a state of its own: WeChat says 40163.
            let other = ConsoleVisitor(browser.client)
            let otherStart = try #require(try await other.get("/m/").location)
            let otherState = try #require(otherStart.firstMatch(of: /state=([0-9a-fx]+)/)).output.1
            let code = try #require(callback.firstMatch(of: /code=([^&]+)/)).output.1
            let replayed = try await other.get("/m/oauth?next=%2Fm%2F&code=\(code)&state=\(otherState)")
            #expect(replayed.status == 400)
            #expect(replayed.body.contains("这个授权已经用过了"))
            #expect(other.cookies["ug_member"] == nil)

            // A forged state (someone else's, or made up) is refused before WeChat is asked.
            let asked = fake.calls(to: "/sns/oauth2/access_token").count
            let forged = try await other.get("/m/oauth?next=%2Fm%2F&code=\(fake.issueCode(for: "oVictim"))&state=1x2x3")
            #expect(forged.status == 400)
            #expect(forged.body.contains("不是从本页面发起"))
            let stolenState = try #require(location.firstMatch(of: /state=([0-9a-fx]+)/)).output.1
            let crossed = try await other.get(
                "/m/oauth?next=%2Fm%2F&code=\(fake.issueCode(for: "oVictim"))&state=\(stolenState)")
            #expect(crossed.status == 400, "a state made for another browser")
            #expect(fake.calls(to: "/sns/oauth2/access_token").count == asked)
            #expect(other.cookies["ug_member"] == nil)

            // An expired state.
            clock.advance(seconds: MemberAccess.stateLifetime + 1)
            let late = try await other.get(
                "/m/oauth?next=%2Fm%2F&code=\(fake.issueCode(for: "oLate"))&state=\(otherState)")
            #expect(late.status == 400)
            #expect(late.body.contains("已过期"))

            // WeChat refusing the code (40029), with a fresh state.
            let fresh = try #require(try await other.get("/m/").location)
            let freshState = try #require(fresh.firstMatch(of: /state=([0-9a-fx]+)/)).output.1
            let invalid = try await other.get("/m/oauth?next=%2Fm%2F&code=NOSUCHCODE&state=\(freshState)")
            #expect(invalid.status == 400)
            #expect(invalid.body.contains("微信授权已失效"))
            #expect(!invalid.body.contains("Error") && !invalid.body.contains("error:"))
            #expect(other.cookies["ug_member"] == nil)
        }
    }

    /// A 订阅号's way in: 「会员中心」 answers a personal link that opens once, for ten minutes,
    /// for that member; a reused, forwarded, expired or made-up link gets a page saying to ask again.
    @Test func personalLinksWorkOnceForTenMinutes() async throws {
        let clock = TestClock()
        try await withMemberPages(signIn: .link, clock: clock) { browser, chat, gateway, _, _ in
            let nobody = try await browser.get("/m/")
            #expect(nobody.status == 401)
            #expect(nobody.body.contains("回复「会员中心」"))
            let member = Member()
            let message = member.text("会员中心")
            let reply = try #require(try await chat.replyText(message))
            #expect(reply.contains(publicURL + "/m/in/"))
            #expect(reply.contains("10 分钟"))
            let link = String(try #require(reply.firstMatch(of: /\/m\/in\/[0-9a-f]{64}/)).output)
            // The same message again (WeChat's retry, even on another instance) gets the same link.
            let access = try #require(gateway.core.services.memberAccess)
            let token = String(link.dropFirst("/m/in/".count))
            #expect(
                try await access.issueLink(for: member.openid, messageKey: MessageKey.of(message), at: clock.read())
                    == token)
            let opened = try await browser.get(link)
            #expect(opened.status == 303 && opened.location == "/m/")
            let home = try await browser.get("/m/")
            #expect(home.status == 200)
            #expect(home.body.contains("尚未入会"))
            #expect(try await browser.get(link).status == 303, "the member opening their own link again goes on")
            // Forwarded: another browser opening the used link.
            let stranger = ConsoleVisitor(browser.client)
            let forwarded = try await stranger.get(link)
            #expect(forwarded.status == 410)
            #expect(forwarded.body.contains("已经用过"))
            #expect(stranger.cookies["ug_member"] == nil)
            // Expired: a new link, opened eleven minutes later.
            let later = try #require(try await chat.replyText(member.text("会员中心")))
            let second = String(try #require(later.firstMatch(of: /\/m\/in\/[0-9a-f]{64}/)).output)
            #expect(second != link)
            clock.advance(seconds: MemberAccess.linkLifetime + 60)
            let expired = try await stranger.get(second)
            #expect(expired.status == 410)
            #expect(expired.body.contains("已过期"))
            #expect(try await stranger.get("/m/in/" + String(repeating: "ab", count: 32)).status == 404)
            #expect(try await stranger.get("/m/in/%22%3E%3Cscript%3E").status == 404)
            // The session ends after its idle time.
            clock.advance(seconds: 3601)
            #expect(try await browser.get("/m/").status == 401)
        }
    }

    /// 我的申请 lists the member's own records; another member's id, like one that does not
    /// exist, is a 404.
    @Test func aMemberSeesOnlyTheirOwnApplications() async throws {
        try await withMemberPages { browser, chat, gateway, _, _ in
            let owner = Member()
            let receipt = try #require(try await chat.replyText(owner.text("建议：食堂晚上增加热饭窗口")))
            #expect(receipt.contains("JY-"))
            let suggestion = try #require(try await SuggestionBox(store: gateway.store).recent(for: owner.openid).first)
            try await browser.enterMemberPages(as: owner, chat: chat)
            let list = try await browser.get("/m/applications")
            #expect(list.status == 200)
            #expect(list.body.contains(suggestion.number))
            let mine = try await browser.get("/m/applications/suggestion/\(suggestion.id)")
            #expect(mine.status == 200)
            #expect(mine.body.contains("食堂晚上增加热饭窗口"))

            let other = ConsoleVisitor(browser.client)
            try await other.enterMemberPages(as: Member(), chat: chat)
            let theirs = try await other.get("/m/applications/suggestion/\(suggestion.id)")
            #expect(theirs.status == 404)
            #expect(!theirs.body.contains("食堂"))
            #expect(try await other.get("/m/applications/join/\(suggestion.id)").status == 404)
            #expect(try await other.get("/m/applications/form/999999").status == 404)
            #expect(try await other.get("/m/applications/secret/1").status == 404)
            let empty = try await other.get("/m/applications")
            #expect(empty.body.contains("还没有办理过"))
            #expect(!empty.body.contains(suggestion.number))
        }
    }

    /// 入会 on a page: checked like the chat (what the member typed is kept when a field is
    /// wrong), the unit found by search, stored once however often it is sent, and a form begun in
    /// the chat is finished on the page, and the other way round.
    @Test func joiningOnThePage() async throws {
        try await withMemberPages { browser, chat, gateway, _, _ in
            let member = Member()
            // Begun in the chat: the name is carried to the page.
            #expect(try await chat.replyText(member.text("入会"))?.contains("姓名") == true)
            #expect(try await chat.replyText(member.text("王五"))?.contains("手机号") == true)
            try await browser.enterMemberPages(as: member, chat: chat)
            let page = try await browser.get("/m/join")
            #expect(page.status == 200)
            #expect(page.body.contains("value=\"王五\""))
            #expect(page.body.contains("已带入您在对话框中填写的内容"))
            let csrf = try #require(ConsoleVisitor.token(in: page))
            let submission = try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output
                .1
            func post(_ fields: [(String, String)]) async throws -> ConsoleVisitor.Page {
                try await browser.post(
                    "/m/join", [("_csrf", csrf), ("_submission", String(submission))] + fields)
            }
            // A wrong phone number: refused with its reason, the rest kept.
            let wrong = try await post([
                ("_action", "submit"), ("name", "王五"), ("phone", "12345"), ("unit_q", ""), ("employee_id", "A-7"),
            ])
            #expect(wrong.status == 422)
            #expect(wrong.body.contains("手机号应为 11 位数字"))
            #expect(wrong.body.contains("请选择「单位/部门」"))
            #expect(wrong.body.contains("value=\"A-7\""))
            #expect(wrong.body.contains("value=\"12345\""))
            // The unit, found by part of its name.
            let search = try await post([
                ("_action", "search"), ("name", "王五"), ("phone", "13812345678"), ("unit_q", "水务"),
            ])
            #expect(search.status == 200)
            #expect(search.body.contains("value=\"chengdong-shuiwu\""))
            #expect(!search.body.contains("value=\"chengxi-huanwei\""))
            // Without the form's token: refused, nothing stored.
            let forged = try await browser.post(
                "/m/join", [("_submission", String(submission)), ("_action", "submit"), ("name", "王五")])
            #expect(forged.status == 403)
            let valid: [(String, String)] = [
                ("_action", "submit"), ("name", "王五"), ("phone", "138 1234 5678"), ("unit_q", "水务"),
                ("unit_code", "chengdong-shuiwu"), ("employee_id", ""),
            ]
            // A double tap: two posts at once, one application.
            async let first = post(valid)
            async let second = post(valid)
            let (one, two) = try await (first, second)
            #expect(one.status == 200 && two.status == 200, "\(one.status) \(two.status)")
            #expect([one, two].contains { $0.body.contains("入会申请已提交") })
            let applications = try await MembershipRegistry(store: gateway.store).list()
            let stored = applications.filter { $0.openid == member.openid }
            #expect(stored.count == 1)
            #expect(stored.first?.unitCode == "chengdong-shuiwu")
            #expect(stored.first?.phone == "13812345678")
            #expect([one, two].allSatisfy { $0.body.contains(stored.first?.number ?? "none") })
            // The chat knows: the form is over, the application waits.
            #expect(try await chat.replyText(member.text("入会进度"))?.contains("审核中") == true)
            let again = try await browser.get("/m/join")
            #expect(again.body.contains("正在审核中"))
            #expect(!again.body.contains("name=\"_submission\""))
        }
    }

    /// 「暂存」 on the page keeps the answers where the chat goes on with them.
    @Test func aDraftOnThePageIsFinishedInTheChat() async throws {
        try await withMemberPages { browser, chat, gateway, _, _ in
            let member = Member()
            try await browser.enterMemberPages(as: member, chat: chat)
            let page = try await browser.get("/m/join")
            let csrf = try #require(ConsoleVisitor.token(in: page))
            let saved = try await browser.post(
                "/m/join",
                [
                    ("_csrf", csrf), ("_submission", String(repeating: "0", count: 64)), ("_action", "save"),
                    ("name", "赵六"), ("phone", "13912345678"), ("unit_q", ""),
                ])
            #expect(saved.status == 200)
            #expect(saved.body.contains("已暂存"))
            let reply = try #require(try await chat.replyText(member.text("入会")))
            #expect(reply.contains("您正在填写「入会申请」"))
            #expect(reply.contains("单位"), "the chat asks for the first field the page left empty: \(reply)")
            #expect(try await MembershipRegistry(store: gateway.store).latest(for: member.openid) == nil)
        }
    }

    /// The e-member card shows a code that changes every minute; staff verify it in the console,
    /// and an old code (a screenshot) is refused. Each verification is audited.
    @Test func theCardsCodeVerifiesForItsMinuteOnly() async throws {
        let clock = TestClock()
        try await withMemberPages(clock: clock) { browser, chat, gateway, _, _ in
            let member = Member()
            try await browser.enterMemberPages(as: member, chat: chat)
            let notYet = try await browser.get("/m/card")
            #expect(notYet.body.contains("入会后即可使用电子会员卡"))
            #expect(!notYet.body.contains("card-code"))
            let application = try await gateway.store.transaction { database in
                try await MembershipRegistry.submit(
                    openid: member.openid,
                    answers: [
                        "name": "孙七", "phone": "13812345678", "unit": "城东水务公司工会", "unit_code": "chengdong-shuiwu",
                    ],
                    messageKey: "card-test", at: clock.read(), year: 2026, in: database)
            }
            _ = try await MembershipRegistry(store: gateway.store).approve(application.id, at: clock.read())
            gateway.store.facts.forgetApplication(of: member.openid)
            let card = try await browser.get("/m/card")
            #expect(card.status == 200)
            #expect(card.body.contains("孙七"))
            #expect(card.body.contains("城东水务公司工会"))
            #expect(card.body.contains("城东镇工会"), "the unit's parent")
            #expect(card.body.contains("http-equiv=\"refresh\""))
            let code = String(try #require(card.body.firstMatch(of: /data-digits="([0-9]{8})"/)).output.1)
            #expect(try await browser.get("/m/card").body.contains(code), "the same code within the minute")

            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let verified = try await staff.get("/admin/verify?code=\(code.prefix(4))+\(code.suffix(4))")
            #expect(verified.status == 200)
            #expect(verified.body.contains("孙七"))
            #expect(verified.body.contains("会员（有效）"))
            let audit = try await AuditLog.page(for: .root, action: "member.verify", request: .all, in: gateway.store)
            #expect(audit.items.count == 1)
            #expect(audit.items.first?.record == "application:\(application.number)")

            #expect(try await staff.get("/admin/verify?code=00000000x").status == 404)
            // Two minutes later the code is refused as old; the card shows another.
            clock.advance(seconds: 2 * MemberCards.window + 1)
            let old = try await staff.get("/admin/verify?code=\(code)")
            #expect(old.status == 404)
            #expect(old.body.contains("已过期"))
            let next = try await browser.get("/m/card")
            let nextCode = String(try #require(next.body.firstMatch(of: /data-digits="([0-9]{8})"/)).output.1)
            #expect(nextCode != code)
            #expect(try await staff.get("/admin/verify?code=\(nextCode)").body.contains("孙七"))
        }
    }
}

@Suite("The menu's 会员中心 button")
struct MemberMenuTests {
    /// Where members sign in by web authorisation, 会员中心 opens the pages; with personal links
    /// it stays a click, which the chat answers with the link.
    @Test func theButtonFollowsHowMembersSignIn() throws {
        let rules = try LiveRules(directory: shippedReplies, logger: Logger(label: "test"))
        let menu = try #require(rules.engine.book.menu)
        func memberButton(_ buttons: [APIMenuButton]) -> APIMenuButton? {
            buttons.flatMap { [$0] + $0.subButtons }.first { $0.name == "会员中心" }
        }
        let viaOAuth = try #require(
            memberButton(MenuPublishing.buttons(menu, publicURL: publicURL, memberSignIn: .oauth)))
        #expect(viaOAuth.type == "view" && viaOAuth.url == publicURL + "/m/")
        let viaLink = try #require(memberButton(MenuPublishing.buttons(menu, publicURL: publicURL)))
        #expect(viaLink.type == "click" && viaLink.key == "MEMBER_CENTER")
    }
}

@Suite("The roster in the console and a member binding to it")
struct RosterPagesTests {
    /// Staff upload a roster, see its preview (a bad row named by row), confirm it; a member on
    /// it binds on their pages and has a card at once; a member nobody knows goes to staff.
    /// Identity stays masked, and a role that may see it opens it, audited.
    @Test func importPreviewConfirmAndBind() async throws {
        try await withMemberPages { browser, chat, gateway, _, _ in
            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let list = try await staff.get("/admin/roster")
            #expect(list.status == 200)
            let csrf = try #require(ConsoleVisitor.token(in: list))
            let good = "11010519491231002X"
            let csv = "姓名,身份证号,手机号,会员编号\n赵敏,\(good),13612345678,HY-001\n钱多,110105194912310021,,\n"
            // An upload cut short is refused whole.
            let cut = try await staff.postMultipart(
                "/admin/roster/import", [("_csrf", csrf), ("unit", "chengdong-huanwei")],
                files: [.init(field: "file", filename: "名册.csv", type: "text/csv", data: Array(csv.utf8))], cut: 30)
            #expect(cut.status == 400)
            #expect(cut.body.contains("上传没有完成"))
            // Without the form's token.
            let forged = try await staff.postMultipart(
                "/admin/roster/import", [("unit", "chengdong-huanwei")],
                files: [.init(field: "file", filename: "名册.csv", type: "text/csv", data: Array(csv.utf8))])
            #expect(forged.status == 403)
            let uploaded = try await staff.postMultipart(
                "/admin/roster/import", [("_csrf", csrf), ("unit", "chengdong-huanwei")],
                files: [.init(field: "file", filename: "名册.csv", type: "text/csv", data: Array(csv.utf8))])
            #expect(uploaded.status == 303, "\(uploaded.status) \(uploaded.body)")
            let previewPath = try #require(uploaded.location)
            let preview = try await staff.get(previewPath)
            #expect(preview.body.contains("新增 1 人"))
            #expect(preview.body.contains("第 3 行"))
            #expect(preview.body.contains("校验位"))
            #expect(preview.body.contains("110***********002X"))
            #expect(!preview.body.contains(good))
            #expect(try await gateway.store.read { try await $0.count("member_roster") } == 0)
            let confirmed = try await staff.post(previewPath + "/apply", [("_csrf", csrf)])
            #expect(confirmed.status == 303)
            let again = try await staff.post(previewPath + "/apply", [("_csrf", csrf)])
            #expect(again.status == 409, "a second confirmation writes nothing")
            let roster = try await staff.get("/admin/roster")
            #expect(roster.body.contains("赵敏") && roster.body.contains("136****5678"))
            #expect(!roster.body.contains(good) && !roster.body.contains("13612345678"))

            // A member on the roster binds on their pages.
            let member = Member()
            try await browser.enterMemberPages(as: member, chat: chat)
            let bindPage = try await browser.get("/m/identity")
            #expect(bindPage.body.contains("绑定会员身份"))
            let memberCSRF = try #require(ConsoleVisitor.token(in: bindPage))
            let wrong = try await browser.post(
                "/m/identity", [("_csrf", memberCSRF), ("name", "赵敏"), ("identity", "110105194912310021")])
            #expect(wrong.status == 422)
            #expect(wrong.body.contains("校验位"))
            #expect(wrong.body.contains("value=\"110105194912310021\""), "what the member typed is kept")
            let bound = try await browser.post(
                "/m/identity", [("_csrf", memberCSRF), ("name", "赵敏"), ("identity", good.lowercased())])
            #expect(bound.status == 200)
            #expect(bound.body.contains("绑定成功"))
            #expect(bound.body.contains("110***********002X"))
            let card = try await browser.get("/m/card")
            #expect(card.body.contains("赵敏") && card.body.contains("HY-001"))
            #expect(try await chat.replyText(member.text("入会进度"))?.contains("已是工会会员") == true)

            // Someone else with the same identity: staff look at it.
            let other = ConsoleVisitor(browser.client)
            try await other.enterMemberPages(as: Member(), chat: chat)
            let otherCSRF = try #require(ConsoleVisitor.token(in: try await other.get("/m/identity")))
            let taken = try await other.post(
                "/m/identity", [("_csrf", otherCSRF), ("name", "赵敏"), ("identity", good)])
            #expect(taken.body.contains("已绑定了另一个微信"))
            #expect(taken.body.contains("LY-"))
            let cases = try await staff.get("/admin/cases")
            #expect(cases.body.contains("会员绑定待核实"))

            // Root may see identities: one row opened in full, audited.
            let entry = try #require(
                try await RealNameRegistry(store: gateway.store, key: gateway.dataKey).entry(for: member.openid))
            let revealed = try await staff.post("/admin/roster/\(entry.id)/reveal", [("_csrf", csrf)])
            #expect(revealed.body.contains(good) && revealed.body.contains("13612345678"))
            let audit = try await AuditLog.page(for: .root, action: "roster.reveal", request: .all, in: gateway.store)
            #expect(audit.items.count == 1)
            let export = try await staff.get("/admin/roster/export?status=all")
            #expect(export.status == 200 && export.body.contains(good), "root's export is in full")
        }
    }
}

/// A small JPEG as a camera writes one: its start and end markers around some bytes.
let sampleJPEG: [UInt8] =
    [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8) + [UInt8](repeating: 0x42, count: 200)
    + [0xFF, 0xD9]
/// A small PNG: its signature, a chunk, and `IEND`.
let samplePNG: [UInt8] =
    [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [0, 0, 0, 13] + Array("IHDR".utf8)
    + [UInt8](repeating: 1, count: 17) + [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]

@Suite("The union's forms as pages, with photos")
struct FormPagesTests {
    /// 维权咨询 filled on a page with photos: not-images, too many, too large and cut-short
    /// uploads are refused with nothing stored; a good one is stored once, however often it is
    /// sent, and its photos are shown to staff (nosniff, by a random name) and to the member,
    /// never to another member.
    @Test func aFormWithPhotos() async throws {
        try await withMemberPages { browser, chat, gateway, _, _ in
            let member = Member()
            try await browser.enterMemberPages(as: member, chat: chat)
            let list = try await browser.get("/m/forms")
            #expect(list.body.contains("职工维权咨询申请"))
            let path = "/m/forms/" + ConsoleVisitor.encode("维权咨询")
            let page = try await browser.get(path)
            #expect(page.status == 200)
            #expect(page.body.contains("enctype=\"multipart/form-data\""))
            #expect(page.body.contains("type=\"file\""))
            let csrf = try #require(ConsoleVisitor.token(in: page))
            let submission = String(
                try #require(page.body.firstMatch(of: /name="_submission" value="([0-9a-f]{64})"/)).output.1)
            let fields: [(String, String)] = [
                ("_csrf", csrf), ("_submission", submission), ("_action", "submit"), ("name", "孙八"),
                ("phone", "13512345678"), ("kind", "工伤认定"), ("detail", "上个月在车间受伤，单位不给认定工伤"),
            ]
            func photo(_ bytes: [UInt8], _ name: String = "a.jpg", type: String = "image/jpeg")
                -> ConsoleVisitor.Upload
            {
                .init(field: "photos", filename: name, type: type, data: bytes)
            }
            func stored() async throws -> (Int, Int) {
                try await gateway.store.read { database in
                    (try await database.count("form_submissions"), try await database.count("form_photos"))
                }
            }
            let notImage = try await browser.postMultipart(
                path, fields, files: [photo(Array("<html><script>alert(1)</script>".utf8), "x.jpg")])
            #expect(notImage.status == 422)
            #expect(notImage.body.contains("不是 JPEG 或 PNG"))
            #expect(notImage.body.contains("value=\"孙八\""), "what was typed is kept")
            let tooMany = try await browser.postMultipart(
                path, fields, files: Array(repeating: photo(sampleJPEG), count: 7))
            #expect(tooMany.status == 422)
            #expect(tooMany.body.contains("最多 6 张"))
            let tooLarge = try await browser.postMultipart(
                path, fields,
                files: [photo([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0, count: FormPhotos.maxBytes) + [0xFF, 0xD9])])
            #expect(tooLarge.status == 422)
            #expect(tooLarge.body.contains("5 MB"))
            let halfPhoto = try await browser.postMultipart(path, fields, files: [photo(Array(sampleJPEG.dropLast(2)))])
            #expect(halfPhoto.body.contains("不完整"))
            let cut = try await browser.postMultipart(path, fields, files: [photo(sampleJPEG)], cut: 40)
            #expect(cut.status == 400)
            #expect(cut.body.contains("上传没有完成"))
            #expect(try await stored() == (0, 0), "nothing stored by a refused upload")

            // A double tap: two posts at once, one submission, its photos once.
            let good = [photo(sampleJPEG), photo(samplePNG, "b.png", type: "image/png")]
            async let first = browser.postMultipart(path, fields, files: good)
            async let second = browser.postMultipart(path, fields, files: good)
            let (one, two) = try await (first, second)
            #expect(one.status == 200 && two.status == 200, "\(one.status) \(two.status)")
            #expect(one.body.contains("WQ-") && two.body.contains("WQ-"))
            #expect(try await stored() == (1, 2))
            let files = try FileManager.default.contentsOfDirectory(atPath: gateway.mediaDirectory)
                .filter { $0.hasPrefix("photo-") }
            #expect(files.count == 2, "the second tap's photos are not left behind: \(files)")

            let photos = try await gateway.store.read { database in
                try await database.select().column("token").from("form_photos").all(
                    decodingColumn: "token", as: String.self)
            }
            let staff = ConsoleVisitor(browser.client)
            try await staff.signIn("root", testAdminToken)
            let records = try await staff.get("/admin/forms?form=" + ConsoleVisitor.encode("维权咨询"))
            for token in photos { #expect(records.body.contains("/admin/photos/\(token)")) }
            let shown = try await staff.get("/admin/photos/\(photos[0])")
            #expect(shown.status == 200)
            #expect(shown.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(["image/jpeg", "image/png"].contains(shown.headers[.contentType] ?? ""))
            #expect(try await staff.get("/admin/photos/" + String(repeating: "0", count: 32)).status == 404)
            // The member sees their photos with their application; another member does not.
            let mine = try await browser.get("/m/applications")
            let detail = try #require(mine.body.firstMatch(of: /href="(\/m\/applications\/form\/[0-9]+)"/)).output.1
            #expect(try await browser.get(String(detail)).body.contains("/m/photos/\(photos[0])"))
            #expect(try await browser.get("/m/photos/\(photos[0])").status == 200)
            let other = ConsoleVisitor(browser.client)
            try await other.enterMemberPages(as: Member(), chat: chat)
            #expect(try await other.get("/m/photos/\(photos[0])").status == 404)
        }
    }
}

@Suite("The card's QR code")
struct QRCodeTests {
    /// Reed–Solomon over GF(256) gives the worked example of HELLO WORLD at version 1-M (16 data
    /// codewords, 10 for error correction).
    @Test func reedSolomonMatchesTheWorkedExample() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        #expect(
            QRCode.reedSolomonRemainder(data, QRCode.reedSolomonDivisor(10))
                == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
    }

    /// The symbol's fixed parts are where the standard puts them, and its size follows the text.
    @Test func theSymbolHasItsFinderTimingAndFormat() throws {
        let short = try #require(QRCode("12345678"))
        #expect(short.size == 21, "eight digits fit version 1")
        let card = try #require(QRCode("https://union.example/admin/verify?code=12345678"))
        #expect(card.size == 33, "a card's address fits version 4")
        #expect(QRCode(String(repeating: "x", count: 107)) == nil, "past version 6")
        for code in [short, card] {
            let size = code.size
            for (x, y) in [(0, 0), (size - 7, 0), (0, size - 7)] {
                // A finder: a dark ring, a light ring, a dark 3×3 centre.
                #expect((0..<7).allSatisfy { code.modules[y][x + $0] && code.modules[y + 6][x + $0] })
                #expect((1..<6).allSatisfy { !code.modules[y + 1][x + $0] })
                #expect(code.modules[y + 3][x + 3])
            }
            #expect((8..<(size - 8)).allSatisfy { code.modules[6][$0] == ($0 % 2 == 0) }, "the timing pattern")
            #expect(code.modules[size - 8][8], "the dark module")
            // The format bits read the same in both copies, and say level M.
            let first =
                (0..<6).map { code.modules[$0][8] } + [code.modules[7][8], code.modules[8][8], code.modules[8][7]]
            let second = (0..<8).map { code.modules[8][size - 1 - $0] } + [code.modules[size - 7][8]]
            #expect(first == second)
            var bits = 0
            for (index, dark) in (first + (9..<15).map { code.modules[8][14 - $0] }).enumerated() where dark {
                bits |= 1 << index
            }
            #expect((bits ^ 0x5412) >> 13 == 0, "level M (00)")
        }
    }
}
