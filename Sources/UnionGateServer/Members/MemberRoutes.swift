import Foundation
import Hummingbird
import UnionServices

/// The member pages under `/m/`: a member's own pages in WeChat's browser (会员中心, 我的会员卡,
/// 入会, 我的申请), server-rendered in Chinese, 375 px first, usable without script. Members get
/// in without a password (`MemberDoor`): WeChat's web authorisation, or a personal link from the
/// chat. Each part is a controller of its own (`Controllers/`) filling typed views into
/// `Pages/Templates/member-*.mustache`.
struct MemberRoutes: Sendable {
    let shared: MemberShared

    func register(on router: Router<GatewayRequestContext>) {
        let stylesheet = ByteBuffer(string: shared.pages.library.memberStylesheet)
        router.get("m/static/member.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: stylesheet))
        }
        let refusals = MemberRefusals(pages: shared.pages, logger: shared.logger)
        let members = router.group("m").add(middleware: refusals)
        MemberSignInRoutes(shared: shared).register(on: members)
        let pages = members.group().add(middleware: MemberDoor(shared: shared)).add(middleware: refusals)
        let controllers: [any MemberController] = [
            HomeController(shared: shared), JoinPageController(shared: shared),
            ApplicationsController(shared: shared), IdentityController(shared: shared), FormsController(shared: shared),
            AidPagesController(shared: shared), ActivitiesController(shared: shared), ClubsController(shared: shared),
        ]
        for controller in controllers { controller.register(on: pages) }
    }
}
