import UnionServices
import WeChatAPI
import WeChatWire

/// Everything the gateway needs to start, as plain values: the command line and the
/// environment are read elsewhere, so tests build this directly.
public struct GatewayConfiguration: Sendable {
    /// The address to listen on.
    public var hostname: String = "127.0.0.1"
    /// The port to listen on; 0 picks a free one.
    public var port: Int = 8080
    /// The Replies folder.
    public var repliesDirectory: String = "./Replies"
    /// The SQLite file, or `:memory:`.
    public var databasePath: String = "./uniongate.sqlite"
    /// Where members' media (images, voice, video sent to the inbox) is kept; by default a
    /// `media` folder beside the database.
    public var mediaDirectory: String?
    /// Where messages wait while the database cannot write; nil: beside the SQLite file, or
    /// `uniongate-<database>.journal` in the working directory for PostgreSQL.
    public var journalPath: String?
    /// The token set in WeChat's console; generated and stored when not given.
    public var wechatToken: String?
    /// The account's AppID.
    public var appId: String?
    /// The account's AppSecret.
    public var appSecret: String?
    /// The EncodingAESKey, which enables compatible and safe mode.
    public var encodingAESKey: String?
    /// WeChat's API base address.
    public var apiBaseURL: String = WeChatAPIClient.defaultBaseURL
    /// Whether an `http://` API address is accepted (`WECHAT_API_ALLOW_HTTP=1`; a local test API).
    public var apiAllowsHTTP = false
    /// The token for the admin API; generated and stored when not given.
    public var adminToken: String?
    /// The gateway's public https address, for links and the menu.
    public var publicURL: String?
    /// Seconds without a request after which a web console session ends.
    public var consoleIdleSeconds: Int64 = 1800
    /// How members get into their pages (`/m/`): WeChat's web authorisation (a certified 服务号)
    /// or a personal link sent in the chat (every account; the default).
    public var memberSignIn: MemberSignIn = .link
    /// WeChat's web authorisation host (`WECHAT_OPEN_BASE_URL`; a local fake in tests).
    public var authorizeBaseURL: String = "https://open.weixin.qq.com"
    /// Seconds without a request after which a member's session on their pages ends.
    public var memberIdleSeconds: Int64 = 7200
    /// The key that seals members' identity numbers (`UNIONGATE_DATA_KEY`: 64 hex digits).
    public var dataKey: String?
    /// The file that holds that key when it is not given (`UNIONGATE_DATA_KEY_FILE`); by default
    /// beside the SQLite file (`<file>.key`), or `uniongate-<database>.key` in the working
    /// directory for PostgreSQL; made on the first start.
    public var dataKeyFile: String?
    /// How long a handler may take before the member is answered `success` and the reply sent later.
    public var replyDeadline: Duration = .milliseconds(4500)
    /// How often the Replies folder is checked for changes.
    public var reloadInterval: Duration = .seconds(1)
    /// The largest request body accepted.
    public var bodyLimit: Int = 64 * 1024
    /// How long replies are kept for WeChat's retries: between half of this and all of it.
    public var duplicateWindow: Duration = .seconds(300)
    /// The most messages kept for retries; at least half as many of the latest are always kept
    /// (they are forgotten a generation of half the capacity at a time). WeChat retries within
    /// about 15 s, so 48,000 covers its retries up to some 1,500 messages a second, sustained;
    /// memory stays bounded (about 7 MB) above that.
    public var duplicateCapacity: Int = 48_000
    /// How long a connection may stay idle before it is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// How long a client may take to send one whole request, head and body.
    public var requestReadTimeout: Duration = .seconds(10)
    /// The most connections open at once; more are closed as soon as they open.
    public var maxConnections: Int = 4096
    /// The reverse proxies whose `X-Forwarded-For` / `X-Real-IP` name the client
    /// (`--trusted-proxy`, `UNIONGATE_TRUSTED_PROXIES`); none by default, so the peer is the client.
    public var trustedProxies = TrustedProxies([])
    /// How far a request's timestamp may be from the server's clock, in seconds; its signed URL
    /// is remembered that long (`UNIONGATE_REPLAY_WINDOW`). Zero turns the check off, for
    /// benchmarks that replay requests signed long before.
    public var replayWindow: Int64 = 300
    /// The mode the account is set to in WeChat's console (`WECHAT_MODE`): in safe mode a plain
    /// body is refused. Nil: what the key implies (compatible with a key, plain without).
    public var wireMode: WireMode?

    /// Creates the default configuration.
    public init() {}
}

extension GatewayConfiguration {
    /// The `Server` header's value.
    static let serverName = "UnionGate"

    /// The shortest admin token accepted: a shorter one could be guessed.
    static let minimumAdminTokenLength = 32

    /// Checks what can be checked before anything starts.
    ///
    /// - Throws: ``ConfigurationError`` for an admin token that is too short.
    func validate() throws {
        if appId != nil, appSecret != nil,
            let reason = WeChatAPIClient.refusal(ofBaseURL: apiBaseURL, allowsHTTP: apiAllowsHTTP)
        {
            throw ConfigurationError(reason)
        }
        if memberSignIn == .oauth {
            guard appId != nil, appSecret != nil else {
                throw ConfigurationError(
                    "UNIONGATE_MEMBER_SIGN_IN is oauth but WECHAT_APP_ID and WECHAT_APP_SECRET are not both set: "
                        + "WeChat's web authorisation needs them")
            }
            guard let publicURL, publicURL.hasPrefix("http") else {
                throw ConfigurationError(
                    "UNIONGATE_MEMBER_SIGN_IN is oauth but UNIONGATE_PUBLIC_URL is not set: WeChat sends members back "
                        + "to it, on the web authorisation domain set in WeChat's console")
            }
        }
        if wireMode != nil, wireMode != .plain, encodingAESKey?.isEmpty ?? true {
            throw ConfigurationError(
                "WECHAT_MODE is \(wireMode!.rawValue) but WECHAT_ENCODING_AES_KEY is not set: encrypted modes need the key"
            )
        }
        if let adminToken, !adminToken.isEmpty, adminToken.count < Self.minimumAdminTokenLength {
            throw ConfigurationError(
                "UNIONGATE_ADMIN_TOKEN is \(adminToken.count) characters long; use at least \(Self.minimumAdminTokenLength) "
                    + "(for example the output of `openssl rand -hex 24`), or leave it unset to have one generated")
        }
    }

    /// The cipher for compatible and safe mode, when an EncodingAESKey is configured.
    ///
    /// - Throws: ``ConfigurationError`` when the key is unusable or the AppID is missing for it.
    func messageCipher() throws -> MessageCipher? {
        guard let key = encodingAESKey, !key.isEmpty else { return nil }
        guard let appId, !appId.isEmpty else {
            throw ConfigurationError(
                "WECHAT_ENCODING_AES_KEY is set but WECHAT_APP_ID is not: encrypted modes need both")
        }
        do {
            return try MessageCipher(encodingAESKey: key, appId: appId)
        } catch {
            throw ConfigurationError("WECHAT_ENCODING_AES_KEY is not usable: \(error)")
        }
    }
}
