import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization

/// A stand-in for WeChat's API on 127.0.0.1: issues stable tokens, checks them on every call,
/// records what it was sent, and answers with scripted error codes when told to.
public final class FakeWeChatAPI: Sendable {
    public static let appId = "wxUnionTest"
    public static let secret = "unionSecret"

    /// A call WeChat received.
    public struct Call: Sendable {
        public let path: String
        public let token: String?
        public let body: String
    }

    private struct State {
        var issued = 0
        var requests = 0
        var current: String?
        public var calls: [Call] = []
        var scripted: [String: [Int]] = [:]
        var menu: String?
        var redirecting: Set<String> = []
        var hanging: Duration?
        /// QR tickets issued, with their scene.
        var tickets: [String: String] = [:]
        var temporaryCodes = 0
        /// Temporary media by id: bytes and type.
        var media: [String: (bytes: [UInt8], type: String)] = [:]
        /// Subscription acceptances left, by "openid|template".
        var acceptances: [String: Int] = [:]
        /// The account's template-message templates.
        var templates: Set<String> = []
        /// Members whose 48-hour window has closed.
        var outsideWindow: Set<String> = []
        var lastMsgId: UInt64 = 3_000_000_000
        /// The member the fake's web authorisation signs in (the WeChat user holding the browser).
        var browserMember: String?
        /// Web authorisation codes issued: the member, and whether the code was used.
        var codes: [String: (openid: String, used: Bool)] = [:]
    }

    private let state = Mutex(State())

    /// A fake with no token issued yet.
    public init() {}

    /// Makes the next answers on `path` these error codes, in order.
    public func script(_ path: String, _ codes: [Int]) {
        state.withLock { $0.scripted[path, default: []] += codes }
    }

    /// Makes every call on `path` answer with a redirect to `/redirected`.
    public func redirect(_ path: String) {
        state.withLock { _ = $0.redirecting.insert(path) }
    }

    /// Makes every call (but token requests) wait this long before answering, or none.
    public func hang(for duration: Duration?) {
        state.withLock { $0.hanging = duration }
    }

    /// Makes `media/get` answer `bytes` of `type` for `id`.
    public func addMedia(_ id: String, bytes: [UInt8], type: String) {
        state.withLock { $0.media[id] = (bytes, type) }
    }

    /// Lets `bizsend` reach `openid` with `template` this many times (each one-time acceptance
    /// allows one message).
    public func acceptSubscription(_ openid: String, template: String, times: Int = 1) {
        state.withLock { $0.acceptances["\(openid)|\(template)", default: 0] += times }
    }

    /// Makes `template` one of the account's template-message templates.
    public func addTemplate(_ template: String) {
        state.withLock { _ = $0.templates.insert(template) }
    }

    /// Makes customer-service messages to `openid` answer 45015 (outside the 48-hour window).
    public func closeWindow(_ openid: String) {
        state.withLock { _ = $0.outsideWindow.insert(openid) }
    }

    /// Makes the web authorisation (`/connect/oauth2/authorize`) sign in `openid`, as WeChat
    /// does for whoever opens the page in its browser; nil: nobody (the page is not in WeChat).
    public func browse(as openid: String?) {
        state.withLock { $0.browserMember = openid }
    }

    /// A web authorisation code for `openid`, as WeChat would put in the redirect.
    public func issueCode(for openid: String) -> String {
        state.withLock { state in
            let code = "CODE\(state.codes.count + 1)x\(UInt32.random(in: 0...UInt32.max))"
            state.codes[code] = (openid, false)
            return code
        }
    }

    /// How many times a token was asked for.
    public var tokenRequests: Int { state.withLock { $0.requests } }
    /// How many tokens were issued.
    public var tokensIssued: Int { state.withLock { $0.issued } }
    /// The calls other than token requests, in order.
    public var calls: [Call] { state.withLock { $0.calls } }
    /// The calls to `path`.
    public func calls(to path: String) -> [Call] { calls.filter { $0.path == path } }

    private func scripted(_ path: String) -> Int? {
        state.withLock { state in
            guard var codes = state.scripted[path], !codes.isEmpty else { return nil }
            let code = codes.removeFirst()
            state.scripted[path] = codes
            return code
        }
    }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ code: Int) -> Response {
        json(["errcode": code, "errmsg": "scripted error \(code)"])
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.post("/cgi-bin/stable_token") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 65536)
            let object =
                (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
            guard object["appid"] as? String == Self.appId, object["secret"] as? String == Self.secret,
                object["grant_type"] as? String == "client_credential"
            else { return Self.error(40013) }
            self.state.withLock { $0.requests += 1 }
            if let code = self.scripted("/cgi-bin/stable_token") { return Self.error(code) }
            let force = object["force_refresh"] as? Bool ?? false
            let token = self.state.withLock { state -> String in
                if !force, let current = state.current { return current }
                state.issued += 1
                state.current = "TOKEN-\(state.issued)"
                return state.current!
            }
            return Self.json(["access_token": token, "expires_in": 7200])
        }
        for path in [
            "/cgi-bin/menu/create", "/cgi-bin/message/custom/send", "/cgi-bin/qrcode/create",
            "/cgi-bin/message/subscribe/bizsend", "/cgi-bin/message/template/send",
        ] {
            router.post(RouterPath(path)) { request, _ in try await self.handle(path, request) }
        }
        for path in ["/cgi-bin/menu/get", "/cgi-bin/menu/delete"] {
            router.get(RouterPath(path)) { request, _ in try await self.handle(path, request) }
        }
        router.get("/cgi-bin/media/get") { request, _ -> Response in
            let token = request.uri.queryParameters.get("access_token")
            let id = request.uri.queryParameters.get("media_id") ?? ""
            let (current, media) = self.state.withLock { state in
                state.calls.append(Call(path: "/cgi-bin/media/get", token: token, body: id))
                return (state.current, state.media[id])
            }
            guard let token, token == current else { return Self.error(40001) }
            if let code = self.scripted("/cgi-bin/media/get") { return Self.error(code) }
            guard let media else { return Self.error(40007) }
            return Response(
                status: .ok, headers: [.contentType: media.type],
                body: .init(byteBuffer: ByteBuffer(bytes: media.bytes)))
        }
        // The QR image host (mp.weixin.qq.com): no token, the ticket in the query.
        router.get("/cgi-bin/showqrcode") { request, _ -> Response in
            let ticket = request.uri.queryParameters.get("ticket") ?? ""
            let scene = self.state.withLock { state -> String? in
                state.calls.append(Call(path: "/cgi-bin/showqrcode", token: nil, body: ticket))
                return state.tickets[ticket]
            }
            guard let scene else { return Response(status: .notFound) }
            return Response(
                status: .ok, headers: [.contentType: "image/bmp"],
                body: .init(byteBuffer: ByteBuffer(bytes: Self.qrLikeImage(scene))))
        }
        // WeChat's web authorisation (open.weixin.qq.com): silent `snsapi_base`, back to the
        // redirect address with a one-time code and the state.
        router.get("/connect/oauth2/authorize") { request, _ -> Response in
            let query = request.uri.queryParameters
            let redirect = query.get("redirect_uri") ?? ""
            let member = self.state.withLock { state -> String? in
                state.calls.append(Call(path: "/connect/oauth2/authorize", token: nil, body: request.uri.query ?? ""))
                return state.browserMember
            }
            guard query.get("appid") == Self.appId, query.get("response_type") == "code",
                query.get("scope") == "snsapi_base", redirect.hasPrefix("http")
            else {
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "参数错误")))
            }
            guard let member else {
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "请在微信客户端打开链接")))
            }
            let code = self.issueCode(for: member)
            let separator = redirect.contains("?") ? "&" : "?"
            let state = (query.get("state") ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            return Response(
                status: .found, headers: [.location: redirect + separator + "code=\(code)&state=\(state)"])
        }
        router.get("/sns/oauth2/access_token") { request, _ -> Response in
            let query = request.uri.queryParameters
            let code = query.get("code") ?? ""
            self.state.withLock { $0.calls.append(Call(path: "/sns/oauth2/access_token", token: nil, body: code)) }
            guard query.get("appid") == Self.appId, query.get("secret") == Self.secret,
                query.get("grant_type") == "authorization_code"
            else { return Self.error(40125) }
            if let scripted = self.scripted("/sns/oauth2/access_token") { return Self.error(scripted) }
            let (openid, refusal) = self.state.withLock { state -> (String?, Int) in
                guard let entry = state.codes[code] else { return (nil, 40029) }
                guard !entry.used else { return (nil, 40163) }
                state.codes[code] = (entry.openid, true)
                return (entry.openid, 0)
            }
            guard let openid else { return Self.error(refusal) }
            return Self.json([
                "access_token": "WEBTOKEN", "expires_in": 7200, "refresh_token": "REFRESH", "openid": openid,
                "scope": "snsapi_base",
            ])
        }
        // Where redirects point: a client that follows one is seen here.
        router.on("/redirected", method: .get) { _, _ in self.redirected() }
        router.on("/redirected", method: .post) { _, _ in self.redirected() }
        return router
    }

    private func redirected() -> Response {
        state.withLock { $0.calls.append(Call(path: "/redirected", token: nil, body: "")) }
        return Self.json(["errcode": 0, "errmsg": "ok"])
    }

    private func handle(_ path: String, _ request: Request) async throws -> Response {
        var request = request
        let token = request.uri.queryParameters.get("access_token")
        let body = String(buffer: try await request.collectBody(upTo: 65536))
        let (redirecting, hanging) = state.withLock { state in
            state.calls.append(Call(path: path, token: token, body: body))
            return (state.redirecting.contains(path), state.hanging)
        }
        if let hanging { try? await Task.sleep(for: hanging) }
        if redirecting {
            return Response(status: .found, headers: [.location: "/redirected"])
        }
        guard let token, token == state.withLock({ $0.current }) else { return Self.error(40001) }
        if let code = scripted(path) { return Self.error(code) }
        switch path {
        case "/cgi-bin/menu/create":
            state.withLock { $0.menu = body }
        case "/cgi-bin/menu/get":
            guard let menu = state.withLock({ $0.menu }),
                let object = try? JSONSerialization.jsonObject(with: Data(menu.utf8))
            else { return Self.error(46003) }
            return Self.json(["menu": object])
        case "/cgi-bin/menu/delete":
            state.withLock { $0.menu = nil }
        case "/cgi-bin/qrcode/create":
            return qrCode(body)
        case "/cgi-bin/message/custom/send":
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
            if state.withLock({ $0.outsideWindow.contains(object["touser"] as? String ?? "") }) {
                return Self.error(45015)
            }
        case "/cgi-bin/message/subscribe/bizsend", "/cgi-bin/message/template/send":
            return templateSend(path, body)
        default:
            break
        }
        return Self.json(["errcode": 0, "errmsg": "ok"])
    }

    /// What `bizsend` and `template/send` answer: 43101 for a subscription the member has not
    /// accepted (or used up), 40037 for a template the account lacks, 47003 for a field that
    /// breaks WeChat's rules (over 20 characters, a `phrase` over 5, a line break); else a
    /// message id.
    private func templateSend(_ path: String, _ body: String) -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any],
            let openid = object["touser"] as? String, let template = object["template_id"] as? String,
            let data = object["data"] as? [String: Any]
        else { return Self.error(47001) }
        for (key, value) in data {
            guard let text = (value as? [String: Any])?["value"] as? String, !text.isEmpty,
                text.count <= (key.hasPrefix("phrase") ? 5 : 20), !text.contains(where: \.isNewline)
            else { return Self.error(47003) }
        }
        let subscription = path.hasSuffix("bizsend")
        let refused = state.withLock { state -> Int? in
            if subscription {
                let key = "\(openid)|\(template)"
                guard let left = state.acceptances[key], left > 0 else { return 43101 }
                state.acceptances[key] = left - 1
            } else if !state.templates.contains(template) {
                return 40037
            }
            return nil
        }
        if let refused { return Self.error(refused) }
        let id = state.withLock { state -> UInt64 in
            state.lastMsgId += 1
            return state.lastMsgId
        }
        return Self.json(["errcode": 0, "errmsg": "ok", "msgid": id])
    }

    /// What `qrcode/create` answers: a ticket (the same one again for a permanent scene, as
    /// WeChat does), or WeChat's error for a malformed request.
    private func qrCode(_ body: String) -> Response {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let action = object["action_name"] as? String, ["QR_STR_SCENE", "QR_LIMIT_STR_SCENE"].contains(action),
            let info = object["action_info"] as? [String: Any], let scene = info["scene"] as? [String: Any],
            let sceneString = scene["scene_str"] as? String, (1...64).contains(sceneString.count)
        else { return Self.error(40053) }
        let temporary = action == "QR_STR_SCENE"
        let seconds = (object["expire_seconds"] as? NSNumber)?.intValue ?? 60
        if temporary, !(60...2_592_000).contains(seconds) { return Self.error(40053) }
        let ticket = state.withLock { state -> String in
            var ticket = "gQ" + Data(sceneString.utf8).base64EncodedString()
            if temporary {
                state.temporaryCodes += 1
                ticket += "-t\(state.temporaryCodes)"
            }
            state.tickets[ticket] = sceneString
            return ticket
        }
        var answer: [String: Any] = ["ticket": ticket, "url": "http://weixin.qq.com/q/\(ticket.prefix(12))"]
        if temporary { answer["expire_seconds"] = seconds }
        return Self.json(answer)
    }

    /// A 25×25-module black-and-white picture derived from `scene` (8 pixels a module), as a BMP.
    public static func qrLikeImage(_ scene: String) -> [UInt8] {
        let modules = 25
        let scale = 8
        let side = modules * scale
        var seed = UInt64(5381)
        for byte in scene.utf8 { seed = seed &* 33 &+ UInt64(byte) }
        func dark(_ x: Int, _ y: Int) -> Bool {
            // Finder squares in three corners, noise elsewhere.
            for (cx, cy) in [(0, 0), (modules - 7, 0), (0, modules - 7)]
            where x >= cx && x < cx + 7 && y >= cy && y < cy + 7 {
                let dx = x - cx
                let dy = y - cy
                return dx == 0 || dx == 6 || dy == 0 || dy == 6 || (dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4)
            }
            var value = seed ^ UInt64(x * 31 + y * 977)
            value = (value ^ (value >> 13)) &* 0x9E37_79B9_7F4A_7C15
            return value >> 63 == 1
        }
        let rowBytes = (side * 3 + 3) / 4 * 4
        let pixels = rowBytes * side
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> ($0 * 8)) & 0xFF) } }
        var bytes: [UInt8] = [0x42, 0x4D] + le32(54 + pixels) + [0, 0, 0, 0] + le32(54)
        bytes += le32(40) + le32(side) + le32(side) + [1, 0, 24, 0] + le32(0) + le32(pixels) + le32(2835) + le32(2835)
        bytes += le32(0) + le32(0)
        for row in (0..<side).reversed() {
            var line: [UInt8] = []
            for column in 0..<side {
                let shade: UInt8 = dark(column / scale, row / scale) ? 0 : 255
                line += [shade, shade, shade]
            }
            line += Array(repeating: 0, count: rowBytes - line.count)
            bytes += line
        }
        return bytes
    }

    /// Makes WeChat forget its token (as when another client called /cgi-bin/token).
    public func invalidateToken() {
        state.withLock { $0.current = "TOKEN-revoked" }
    }
}

/// Runs a fake WeChat API on a free port for `body`, which gets its base URL.
public func withFakeWeChat(_ body: @Sendable (FakeWeChatAPI, String) async throws -> Void) async throws {
    let fake = FakeWeChatAPI()
    let app = Application(router: fake.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in
        try await body(fake, "http://127.0.0.1:\(client.port!)")
    }
}
