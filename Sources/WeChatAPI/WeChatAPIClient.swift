import Foundation
import Logging
import Synchronization
import WeChatWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A client for WeChat's official-account API: the access token (via `stable_token`), the menu,
/// and customer-service messages.
///
/// The token is cached in an ``AccessTokenCache`` shared by every process on the store and
/// refreshed shortly before it expires by one caller at a time. A call answered 40001, 40014 or
/// 42001 refreshes the token once and retries; -1 (busy) is retried with backoff a bounded number
/// of times; every other error code is a ``WeChatAPIError``.
///
/// Redirects are never followed, and the base URL must be https unless
/// ``Options/allowsHTTP`` says otherwise. When WeChat's API stops answering, the client stops
/// calling it as a whole (a circuit): after `circuitThreshold` calls in a row get no usable
/// answer, calls fail at once for `circuitCooldown` seconds, then one call tries again — its
/// success closes the circuit, its failure doubles the pause (up to `circuitMaxCooldown`).
public final class WeChatAPIClient: Sendable {
    /// How the client behaves; defaults suit production, tests shorten the waits.
    public struct Options: Sendable {
        /// How long one request may take.
        public var timeout: Duration = .seconds(10)
        /// How many times a busy (-1) answer is retried.
        public var busyRetries = 3
        /// The first backoff after a busy answer; it doubles each time.
        public var backoff: Duration = .milliseconds(300)
        /// Refresh this long before the token expires.
        public var refreshMargin: Int64 = 300
        /// How long another caller's refresh is waited for.
        public var leaseWait: Duration = .seconds(15)
        /// Whether an `http://` base URL is accepted (tests on loopback; `WECHAT_API_ALLOW_HTTP`).
        public var allowsHTTP = false
        /// How many calls in a row without a usable answer open the circuit.
        public var circuitThreshold = 3
        /// The first pause, in seconds, once the circuit is open.
        public var circuitCooldown: Int64 = 30
        /// The longest pause, in seconds.
        public var circuitMaxCooldown: Int64 = 300
        /// Where QR code images come from (`WECHAT_MP_BASE_URL`): another host than the API's.
        public var qrImageBaseURL = "https://mp.weixin.qq.com"

        /// Creates default options.
        public init() {}
    }

    private let baseURL: String
    private let appId: String
    private let secret: String
    private let cache: any AccessTokenCache
    private let options: Options
    private let session: URLSession
    private let clock: @Sendable () -> Int64
    private let holder = UUID().uuidString
    private let logger: Logger
    private let circuit: Mutex<Circuit>

    /// Calls without a usable answer, and the pause they caused.
    private struct Circuit {
        var failures = 0
        var pausedUntil: Int64?
        var cooldown: Int64
        /// A call is trying again after a pause; others still fail at once.
        var trying = false
    }

    /// WeChat's API address.
    public static let defaultBaseURL = "https://api.weixin.qq.com"

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - baseURL: `WECHAT_API_BASE_URL`, by default `https://api.weixin.qq.com`.
    ///   - clock: the current Unix time.
    public init(
        baseURL: String, appId: String, secret: String, cache: any AccessTokenCache, options: Options = Options(),
        logger: Logger, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.appId = appId
        self.secret = secret
        self.cache = cache
        self.options = options
        self.logger = logger
        self.clock = clock
        let configuration = URLSessionConfiguration.ephemeral
        let seconds = Double(options.timeout.components.seconds) + Double(options.timeout.components.attoseconds) / 1e18
        configuration.timeoutIntervalForRequest = seconds
        configuration.timeoutIntervalForResource = seconds
        self.session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        self.circuit = Mutex(Circuit(cooldown: options.circuitCooldown))
    }

    /// Sends `request` in a task of its own, which the caller's cancellation does not reach: it
    /// ends with its answer or the session's timeout. Cancelling URLSession's async calls
    /// through Swift tasks deadlocks FoundationNetworking on Linux (the task's status lock and
    /// the session's queue taken in opposite orders: seen as a gateway stopping while the outbox
    /// was sending, every thread of the pool stuck).
    private func load(_ request: URLRequest) async throws -> (Data, URLResponse) {
        let session = session
        return try await Task.detached { try await session.data(for: request) }.value
    }

    /// Whether `baseURL` is acceptable: https, or http when `allowsHTTP`. Nil when it is; the
    /// reason otherwise.
    public static func refusal(ofBaseURL baseURL: String, allowsHTTP: Bool) -> String? {
        guard let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), url.host != nil else {
            return "WECHAT_API_BASE_URL \(baseURL) is not an address"
        }
        if scheme == "https" || (scheme == "http" && allowsHTTP) { return nil }
        return
            "WECHAT_API_BASE_URL must be https (got \(scheme)://); set WECHAT_API_ALLOW_HTTP=1 only for a local test API"
    }

    // MARK: Access token

    /// A valid access token: the cached one, or a new one from `stable_token`.
    ///
    /// - Parameter rejected: a token WeChat just refused; it is never returned, and a forced
    ///   refresh is asked for unless another caller already replaced it.
    public func accessToken(rejected: String? = nil) async throws -> String {
        func usable(_ cached: CachedToken?, at now: Int64) -> String? {
            guard let cached, cached.token != rejected, cached.expiresAt - options.refreshMargin > now else {
                return nil
            }
            return cached.token
        }
        if let token = usable(try await cache.token(), at: clock()) { return token }
        let deadline = ContinuousClock.now + options.leaseWait
        while true {
            let now = clock()
            if try await cache.acquireRefreshLease(holder: holder, until: now + 60, now: now) {
                do {
                    // Another caller may have refreshed while we waited for the lease.
                    if let token = usable(try await cache.token(), at: now) {
                        try await cache.releaseRefreshLease(holder: holder)
                        return token
                    }
                    let token = try await fetchStableToken(force: rejected != nil)
                    try await cache.store(token)
                    try await cache.releaseRefreshLease(holder: holder)
                    logger.info("WeChat access token refreshed", metadata: ["expiresIn": "\(token.expiresAt - now)"])
                    return token.token
                } catch {
                    try? await cache.releaseRefreshLease(holder: holder)
                    throw error
                }
            }
            // Another caller is refreshing: a token that has not yet expired still works meanwhile.
            if let cached = try await cache.token(), cached.token != rejected, cached.expiresAt > now {
                return cached.token
            }
            guard ContinuousClock.now < deadline else {
                throw WeChatAPIError(transport: "timed out waiting for another process to refresh the access token")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func fetchStableToken(force: Bool) async throws -> CachedToken {
        let body: [String: Any] = [
            "grant_type": "client_credential", "appid": appId, "secret": secret, "force_refresh": force,
        ]
        let json = try await send(
            path: "/cgi-bin/stable_token", query: [:], method: "POST",
            body: try JSONSerialization.data(withJSONObject: body))
        guard let token = json["access_token"] as? String, !token.isEmpty else {
            throw WeChatAPIError(transport: "stable_token answered without access_token")
        }
        let expiresIn = (json["expires_in"] as? NSNumber)?.int64Value ?? 7200
        return CachedToken(token: token, expiresAt: clock() + expiresIn)
    }

    // MARK: Calls

    /// Calls an API that takes `access_token`, handling token problems and busy answers.
    /// Returns WeChat's JSON object.
    @discardableResult
    public func call(_ path: String, method: String = "POST", query: [String: String] = [:], json: Data? = nil)
        async throws
        -> [String: Any]
    {
        var token = try await accessToken()
        var refreshed = false
        var busy = 0
        while true {
            var parameters = query
            parameters["access_token"] = token
            do {
                return try await send(path: path, query: parameters, method: method, body: json)
            } catch let error as WeChatAPIError where error.isTokenProblem && !refreshed {
                logger.notice("WeChat rejected the access token; refreshing once", metadata: ["code": "\(error.code)"])
                refreshed = true
                token = try await accessToken(rejected: token)
            } catch let error as WeChatAPIError where error.isBusy && busy < options.busyRetries {
                busy += 1
                try await Task.sleep(for: options.backoff * (1 << (busy - 1)))
            }
        }
    }

    private func send(path: String, query: [String: String], method: String, body: Data?) async throws -> [String: Any]
    {
        if let reason = Self.refusal(ofBaseURL: baseURL, allowsHTTP: options.allowsHTTP) {
            throw WeChatAPIError(transport: reason)
        }
        try enterCircuit()
        do {
            let object = try await exchange(path: path, query: query, method: method, body: body)
            leaveCircuit(answered: true)
            return object
        } catch let error as WeChatAPIError where !error.transport {
            leaveCircuit(answered: true)
            throw error
        } catch {
            leaveCircuit(answered: false)
            throw error
        }
    }

    /// Fails at once while the circuit is open; lets one call try when the pause is over.
    private func enterCircuit() throws {
        let now = clock()
        let paused = circuit.withLock { circuit -> Int64? in
            guard let until = circuit.pausedUntil else { return nil }
            if now >= until, !circuit.trying {
                circuit.trying = true
                return nil
            }
            return max(until, now + 1)
        }
        if let paused {
            throw WeChatAPIError(
                transport: "WeChat's API is not answering; calls are paused for \(paused - now) s", pausedUntil: paused)
        }
    }

    private func leaveCircuit(answered: Bool) {
        let now = clock()
        let opened = circuit.withLock { circuit -> Int64? in
            let wasTrying = circuit.trying
            circuit.trying = false
            if answered {
                circuit = Circuit(cooldown: options.circuitCooldown)
                return nil
            }
            circuit.failures += 1
            if wasTrying {
                circuit.cooldown = min(circuit.cooldown * 2, options.circuitMaxCooldown)
            } else if circuit.failures < options.circuitThreshold || circuit.pausedUntil != nil {
                return nil
            }
            circuit.pausedUntil = now + circuit.cooldown
            return circuit.cooldown
        }
        if let opened {
            logger.error("WeChat's API is not answering; calls paused", metadata: ["seconds": "\(opened)"])
        }
    }

    private func exchange(path: String, query: [String: String], method: String, body: Data?) async throws
        -> [String: Any]
    {
        guard var components = URLComponents(string: baseURL + path) else {
            throw WeChatAPIError(transport: "invalid base URL \(baseURL)")
        }
        if !query.isEmpty {
            components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        }
        guard let url = components.url else { throw WeChatAPIError(transport: "invalid URL for \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = body
            request.setValue("application/json; charset=utf-8", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await load(request)
        } catch {
            throw WeChatAPIError(transport: "\(path): \(error.localizedDescription)")
        }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            let redirect = (300..<400).contains(http.statusCode) ? " (redirects are not followed)" : ""
            throw WeChatAPIError(transport: "\(path) answered HTTP \(http.statusCode)\(redirect)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw WeChatAPIError(transport: "\(path) did not answer JSON")
        }
        if let code = (object["errcode"] as? NSNumber)?.intValue, code != 0 {
            throw WeChatAPIError(code: code, message: object["errmsg"] as? String ?? "")
        }
        return object
    }

    // MARK: Web authorisation

    /// What WeChat's web authorisation told of the member who opened a page.
    public struct WebAuthorisation: Sendable, Hashable {
        /// The member's openid for this account.
        public var openid: String
        /// The member's unionid, where the account is bound to an open platform.
        public var unionid: String?
        /// Whether WeChat called it a snapshot visit (`is_snapshotuser=1`): not a real member.
        public var snapshot: Bool
    }

    /// Exchanges a web authorisation's `code` for the member's openid
    /// (`sns/oauth2/access_token`, server side only; the AppSecret never reaches the browser).
    /// A code works once: 40163 when used, 40029 when invalid or expired.
    public func webAuthorisation(code: String) async throws -> WebAuthorisation {
        let json = try await send(
            path: "/sns/oauth2/access_token",
            query: ["appid": appId, "secret": secret, "code": code, "grant_type": "authorization_code"],
            method: "GET", body: nil)
        guard let openid = json["openid"] as? String, !openid.isEmpty else {
            throw WeChatAPIError(transport: "sns/oauth2/access_token answered without openid")
        }
        return WebAuthorisation(
            openid: openid, unionid: json["unionid"] as? String,
            snapshot: (json["is_snapshotuser"] as? NSNumber)?.intValue == 1)
    }

    // MARK: Menu

    /// Publishes the menu (`{"button": […]}` as built by ``MenuJSON``).
    public func createMenu(_ json: Data) async throws {
        try await call("/cgi-bin/menu/create", json: json)
    }

    /// The menu WeChat has, as its JSON object.
    public func menu() async throws -> [String: Any] {
        try await call("/cgi-bin/menu/get", method: "GET")
    }

    /// Removes the menu.
    public func deleteMenu() async throws {
        try await call("/cgi-bin/menu/delete", method: "GET")
    }

    // MARK: Parametric QR codes

    /// What `qrcode/create` answers.
    public struct QRCodeTicket: Sendable, Hashable {
        /// The ticket, which also fetches the image.
        public var ticket: String
        /// The address the code encodes.
        public var url: String
        /// Seconds until a temporary code expires; nil for a permanent one.
        public var expireSeconds: Int?
    }

    /// WeChat's limits on parametric codes.
    public static let maxSceneLength = 64
    public static let maxTemporarySeconds = 2_592_000

    /// Makes a QR code whose scans carry `scene`: permanent (`QR_LIMIT_STR_SCENE`), or temporary
    /// (`QR_STR_SCENE`) for `expireSeconds`.
    public func createQRCode(scene: String, expireSeconds: Int?) async throws -> QRCodeTicket {
        var body: [String: Any] = ["action_info": ["scene": ["scene_str": scene]]]
        if let expireSeconds {
            body["action_name"] = "QR_STR_SCENE"
            body["expire_seconds"] = expireSeconds
        } else {
            body["action_name"] = "QR_LIMIT_STR_SCENE"
        }
        let answer = try await call(
            "/cgi-bin/qrcode/create", json: try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        guard let ticket = answer["ticket"] as? String, !ticket.isEmpty else {
            throw WeChatAPIError(transport: "qrcode/create answered without a ticket")
        }
        return QRCodeTicket(
            ticket: ticket, url: answer["url"] as? String ?? "",
            expireSeconds: expireSeconds == nil ? nil : (answer["expire_seconds"] as? NSNumber)?.intValue)
    }

    /// The image of the code with `ticket`, from `showqrcode` (at most 1 MB).
    public func qrCodeImage(ticket: String) async throws -> Data {
        let base =
            options.qrImageBaseURL.hasSuffix("/") ? String(options.qrImageBaseURL.dropLast()) : options.qrImageBaseURL
        if let reason = Self.refusal(ofBaseURL: base, allowsHTTP: options.allowsHTTP) {
            throw WeChatAPIError(
                transport: reason.replacingOccurrences(of: "WECHAT_API_BASE_URL", with: "WECHAT_MP_BASE_URL"))
        }
        guard var components = URLComponents(string: base + "/cgi-bin/showqrcode") else {
            throw WeChatAPIError(transport: "invalid image base URL \(base)")
        }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-_.~")
        components.percentEncodedQuery =
            "ticket=" + (ticket.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        guard let url = components.url else { throw WeChatAPIError(transport: "invalid showqrcode address") }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await load(URLRequest(url: url))
        } catch {
            throw WeChatAPIError(transport: "showqrcode: \(error.localizedDescription)")
        }
        let http = response as? HTTPURLResponse
        guard let http, (200..<300).contains(http.statusCode) else {
            throw WeChatAPIError(transport: "showqrcode answered HTTP \(http?.statusCode ?? 0)")
        }
        let type = (http.value(forHTTPHeaderField: "Content-Type") ?? "").lowercased()
        guard type.hasPrefix("image/"), !data.isEmpty, data.count <= 1_048_576 else {
            throw WeChatAPIError(transport: "showqrcode did not answer an image (\(type), \(data.count) bytes)")
        }
        return data
    }

    // MARK: Temporary media

    /// A downloaded media file.
    public struct MediaFile: Sendable {
        /// The bytes (nil for a video, which WeChat gives as an address).
        public var data: Data?
        /// Its type, as WeChat gives it (`image/jpeg`, `audio/amr`, …).
        public var contentType: String
        /// A video's address.
        public var videoURL: String?
    }

    /// The most bytes a media file may have.
    public static let maxMediaBytes = 10 * 1_048_576

    /// Downloads temporary media (`media/get`; WeChat keeps it 3 days). A file over
    /// ``maxMediaBytes`` is refused; a rejected token is refreshed once.
    public func downloadMedia(_ mediaId: String) async throws -> MediaFile {
        var token = try await accessToken()
        var refreshed = false
        while true {
            do {
                return try await fetchMedia(mediaId, token: token)
            } catch let error as WeChatAPIError where error.isTokenProblem && !refreshed {
                refreshed = true
                token = try await accessToken(rejected: token)
            }
        }
    }

    private func fetchMedia(_ mediaId: String, token: String) async throws -> MediaFile {
        if let reason = Self.refusal(ofBaseURL: baseURL, allowsHTTP: options.allowsHTTP) {
            throw WeChatAPIError(transport: reason)
        }
        try enterCircuit()
        guard var components = URLComponents(string: baseURL + "/cgi-bin/media/get") else {
            leaveCircuit(answered: true)
            throw WeChatAPIError(transport: "invalid base URL \(baseURL)")
        }
        components.queryItems = [
            URLQueryItem(name: "access_token", value: token), URLQueryItem(name: "media_id", value: mediaId),
        ]
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await load(URLRequest(url: components.url!))
        } catch {
            leaveCircuit(answered: false)
            throw WeChatAPIError(transport: "media/get: \(error.localizedDescription)")
        }
        leaveCircuit(answered: true)
        guard let http = response as? HTTPURLResponse, (200..<300).contains(http.statusCode) else {
            throw WeChatAPIError(
                transport: "media/get answered HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0)")
        }
        let type = (http.value(forHTTPHeaderField: "Content-Type") ?? "application/octet-stream").lowercased()
        if type.contains("json") || type.hasPrefix("text/plain") {
            let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
            if let code = (object["errcode"] as? NSNumber)?.intValue, code != 0 {
                throw WeChatAPIError(code: code, message: object["errmsg"] as? String ?? "")
            }
            if let video = object["video_url"] as? String {
                return MediaFile(data: nil, contentType: "video", videoURL: video)
            }
            throw WeChatAPIError(transport: "media/get answered JSON without a file")
        }
        guard data.count <= Self.maxMediaBytes else {
            throw WeChatAPIError(transport: "media/get: the file has \(data.count) bytes, over the limit of 10 MB")
        }
        return MediaFile(data: data, contentType: type, videoURL: nil)
    }

    // MARK: Customer-service messages

    /// Sends `body` to `openid` through the customer-service API. Text, one article (news),
    /// image, voice, video and music are sent; other kinds are refused.
    public func sendCustomMessage(_ body: ReplyBody, to openid: String) async throws {
        try await call("/cgi-bin/message/custom/send", json: try CustomMessageJSON.encode(body, to: openid))
    }

    // MARK: Subscription notifications and template messages

    /// Sends a subscription notification (订阅通知, `message/subscribe/bizsend`). WeChat answers
    /// 43101 when the member has not accepted the template, or has used up the acceptance.
    /// Returns WeChat's message id when it gives one.
    @discardableResult
    public func sendSubscriptionMessage(
        templateId: String, to openid: String, page: String?, data: [(key: String, value: String)]
    ) async throws -> String? {
        try await sendFromTemplate(
            "/cgi-bin/message/subscribe/bizsend", templateId: templateId, to: openid, link: page.map { ("page", $0) },
            data: data)
    }

    /// Sends a template message (模板消息, `message/template/send`); returns WeChat's message id,
    /// which its `TEMPLATESENDJOBFINISH` report carries.
    @discardableResult
    public func sendTemplateMessage(
        templateId: String, to openid: String, url: String?, data: [(key: String, value: String)]
    ) async throws -> String? {
        try await sendFromTemplate(
            "/cgi-bin/message/template/send", templateId: templateId, to: openid, link: url.map { ("url", $0) },
            data: data)
    }

    /// `{touser, template_id, page|url?, data: {key: {value}}}` to `path`; WeChat's `msgid`.
    private func sendFromTemplate(
        _ path: String, templateId: String, to openid: String, link: (key: String, value: String)?,
        data: [(key: String, value: String)]
    ) async throws -> String? {
        var fields: [String: Any] = [:]
        for (key, value) in data { fields[key] = ["value": value] }
        var message: [String: Any] = ["touser": openid, "template_id": templateId, "data": fields]
        if let link { message[link.key] = link.value }
        let answer = try await call(
            path,
            json: try JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]))
        return Self.messageId(in: answer)
    }

    private static func messageId(in answer: [String: Any]) -> String? {
        if let number = answer["msgid"] as? NSNumber { return number.stringValue }
        return answer["msgid"] as? String
    }
}

/// Refuses every redirect: the API's answers come from the address configured, or not at all.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// The customer-service API's message bodies.
public enum CustomMessageJSON {
    /// The JSON for sending `body` to `openid`.
    public static func encode(_ body: ReplyBody, to openid: String) throws -> Data {
        var message: [String: Any] = ["touser": openid]
        switch body {
        case .text(let text):
            message["msgtype"] = "text"
            message["text"] = ["content": text]
        case .news(let articles):
            guard let article = articles.first else {
                throw WeChatAPIError(code: 0, message: "a news message needs an article")
            }
            message["msgtype"] = "news"
            message["news"] = [
                "articles": [
                    [
                        "title": article.title, "description": article.description, "url": article.url,
                        "picurl": article.picURL,
                    ]
                ]
            ]
        case .image(let mediaId):
            message["msgtype"] = "image"
            message["image"] = ["media_id": mediaId]
        case .voice(let mediaId):
            message["msgtype"] = "voice"
            message["voice"] = ["media_id": mediaId]
        case .video(let mediaId, let title, let description):
            message["msgtype"] = "video"
            message["video"] = ["media_id": mediaId, "title": title ?? "", "description": description ?? ""]
        case .music(let music):
            message["msgtype"] = "music"
            message["music"] = [
                "title": music.title ?? "", "description": music.description ?? "", "musicurl": music.musicURL ?? "",
                "hqmusicurl": music.hqMusicURL ?? "", "thumb_media_id": music.thumbMediaId,
            ]
        case .transferToCustomerService:
            throw WeChatAPIError(code: 0, message: "a transfer cannot be sent as a customer-service message")
        }
        return try JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
