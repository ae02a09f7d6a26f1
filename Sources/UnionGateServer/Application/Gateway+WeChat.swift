import Foundation
import Logging
import ReplyRules
import UnionServices
import WeChatAPI

/// What the gateway has of WeChat's API: the client, the outbox worker that sends late replies
/// and notices, and the fetcher of members' media, when an AppID and AppSecret are configured.
/// Late replies and notices always go to the outbox; it is sent only with them.
struct WeChatParts {
    var client: WeChatAPIClient?
    var outbox: OutboxWorker?
    var media: MediaFetcher?
    /// Where members' media is kept.
    let mediaDirectory: String

    init(
        configuration: GatewayConfiguration, store: UnionStore, held: HeldNotices, overrides: GatewayOverrides,
        book: @escaping @Sendable () -> RuleBook, logger: Logger
    ) {
        mediaDirectory =
            configuration.mediaDirectory
            ?? (store.location.mediaFolder
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("uniongate-media-\(UUID().uuidString)")
                .path)
        guard let appId = configuration.appId, let secret = configuration.appSecret else {
            logger.warning(
                "WECHAT_APP_ID or WECHAT_APP_SECRET is not set: late replies and notices wait in the outbox unsent")
            return
        }
        var apiOptions = overrides.apiOptions
        apiOptions.allowsHTTP = configuration.apiAllowsHTTP
        let client = WeChatAPIClient(
            baseURL: configuration.apiBaseURL, appId: appId, secret: secret, cache: StoreTokenCache(store: store),
            options: apiOptions, logger: logger)
        self.client = client
        outbox = OutboxWorker(
            store: store, sender: client, held: held, options: overrides.outboxOptions, logger: logger, book: book)
        media = MediaFetcher(store: store, source: client, directory: mediaDirectory, logger: logger)
    }
}
