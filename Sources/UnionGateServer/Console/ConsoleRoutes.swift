import Foundation
import Hummingbird
import HummingbirdAuth
import UnionServices

/// The web console under `/admin/`: server-rendered pages for union office staff, in Chinese,
/// on a phone or a desktop. Every page and action goes through the same services and scoping as
/// the admin API (the services check roles and units; the pages only hide what a role cannot do).
///
/// The sections are controllers of their own (`Controllers/`), each filling typed views
/// (`Encodable` structs) into templates `Pages/Templates/console-*.mustache`. What a handler
/// throws becomes a page with the right status (`ConsoleRefusals`).
struct ConsoleRoutes: Sendable {
    let shared: ConsoleShared

    /// The session cookie's name (path `/admin`).
    static let cookieName = "ug_console"
    /// The largest form accepted (a rule file is at most a few hundred KB).
    static let formLimit = 2 * 1024 * 1024
    /// The largest upload accepted (a roster file of up to 20 MB, and the form around it).
    static let uploadLimit = RosterFile.maxBytes + 64 * 1024

    func register(on router: Router<GatewayRequestContext>) {
        let stylesheet = ByteBuffer(string: shared.pages.library.stylesheet)
        router.get("admin/static/console.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: stylesheet))
        }
        let sessions = SessionMiddleware<GatewayRequestContext>(
            storage: StoreSessionDriver(
                sessions: ConsoleSessions(store: shared.store), unixTime: shared.clock, logger: shared.logger),
            configuration: .init(
                sessionCookieParameters: .init(
                    name: Self.cookieName, path: "/admin", secure: shared.secureCookie, sameSite: .strict),
                keyPrefix: "", defaultSessionExpiration: .seconds(shared.idle)))
        let console = router.group("admin").add(middleware: sessions).add(
            middleware: ConsoleRefusals(pages: shared.pages))
        let signIn = SignInController(shared: shared)
        signIn.registerSignIn(on: console)
        let gate = ConsoleGate(
            staff: shared.staff, organisation: { [rules = shared.rules] in rules.engine.book.join.organisation },
            idle: shared.idle, pages: shared.pages, logger: shared.logger)
        // Refusals become pages inside the door too, where the page knows who is signed in.
        let pages = console.group().add(middleware: gate).add(middleware: ConsoleRefusals(pages: shared.pages))
        let controllers: [any ConsoleController] = [
            signIn, OverviewController(shared: shared), MembersController(shared: shared),
            RecordsController(shared: shared), CasesController(shared: shared), RulesController(shared: shared),
            MenuAndQRController(shared: shared), StaffController(shared: shared), VerifyController(shared: shared),
            RosterController(shared: shared), AidController(shared: shared),
            ActivitiesConsoleController(shared: shared),
            ClubsConsoleController(shared: shared),
        ]
        for controller in controllers { controller.register(on: pages) }
    }
}
