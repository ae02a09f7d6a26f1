import Foundation
import HTTPTypes
import Hummingbird
import UnionServices

/// The routes: the webhook, health, metrics, the hotline page and the admin API.
func buildRouter(_ gateway: Gateway) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    if !gateway.configuration.trustedProxies.isEmpty {
        router.add(middleware: ClientAddressMiddleware(proxies: gateway.configuration.trustedProxies))
    }
    let webhook = gateway.webhook
    router.get("/wechat") { request, _ in webhook.verify(request) }
    router.post("/wechat") { request, _ in await webhook.receive(request) }
    let health = gateway.store
    let journal = gateway.core.journal
    let rules = gateway.rules
    router.get("/healthz") { _, _ in
        // Not ready while the database cannot write, or messages wait in the journal for it (a
        // small write may get through meanwhile, a member's does not): a load balancer sends
        // members elsewhere. Each instance says which rules it serves (they reload the Replies
        // folder on their own).
        let version = rules.engine.book.version
        var response =
            health.writesFailing || !journal.pending.isEmpty
            ? Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: "database not writable")))
            : WebhookResponder.text("ok rules=\(version)")
        response.headers[HTTPField.Name("X-UnionGate-Rules")!] = version
        return response
    }
    let pages = gateway.pages
    router.get("/hotline") { _, _ in
        let book = rules.engine.book
        return try pages.response(HotlinePage(book.hotline, unionName: book.settings.unionName), template: "hotline")
    }
    let store = gateway.store
    AdminRoutes(
        auth: gateway.adminAuth, registry: MembershipRegistry(store: store), mediaDirectory: gateway.mediaDirectory,
        suggestions: SuggestionBox(store: store), submissions: FormSubmissions(store: store), store: store,
        rules: rules, clock: gateway.unixTime, pages: pages
    ).register(on: router)
    let metrics = gateway.metrics
    ConsoleRoutes(
        shared: ConsoleShared(
            store: store, rules: rules, secrets: gateway.secrets, staff: gateway.staff,
            attempts: gateway.adminAuth.attempts, metrics: metrics, clock: gateway.unixTime,
            pause: gateway.adminAuth.pause,
            secureCookie: gateway.configuration.publicURL?.lowercased().hasPrefix("https://") ?? false,
            idle: gateway.configuration.consoleIdleSeconds, logger: gateway.logger,
            pages: ConsolePages(library: pages, unionName: { rules.engine.book.settings.unionName }),
            wechat: gateway.wechat, publicURL: gateway.configuration.publicURL,
            memberSignIn: gateway.configuration.memberSignIn, dataKey: gateway.dataKey,
            mediaDirectory: gateway.mediaDirectory)
    ).register(on: router)
    if let access = gateway.core.services.memberAccess {
        MemberRoutes(
            shared: MemberShared(
                store: store, rules: rules, desk: gateway.core.services, access: access,
                cards: MemberCards(store: store), records: MemberRecords(store: store),
                registry: RealNameRegistry(store: store, key: gateway.dataKey),
                sessions: ConsoleSessions(store: store), wechat: gateway.wechat,
                signIn: gateway.configuration.memberSignIn, publicURL: gateway.configuration.publicURL,
                authorizeBaseURL: gateway.configuration.authorizeBaseURL, appId: gateway.configuration.appId,
                secureCookie: gateway.configuration.publicURL?.lowercased().hasPrefix("https://") ?? false,
                idle: gateway.configuration.memberIdleSeconds, clock: gateway.unixTime, logger: gateway.logger,
                pages: MemberPageRenderer(library: pages, unionName: { rules.engine.book.settings.unionName }),
                mediaDirectory: gateway.mediaDirectory)
        ).register(on: router)
    }
    let inbox = Inbox(store: store)
    let aid = AidApplications(store: store)
    let unixTime = gateway.unixTime
    router.get("/metrics") { _, _ in
        // Cases past their due time, counted when asked (a gauge of the store, not of this process).
        if let overdue = try? await inbox.overdueCount(at: unixTime()) { metrics.overdueCases(overdue) }
        if let overdue = try? await aid.overdueCount(at: unixTime()) { metrics.overdueAidApplications(overdue) }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }
    return router
}
