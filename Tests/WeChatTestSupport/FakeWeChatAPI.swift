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
        for path in ["/cgi-bin/menu/create", "/cgi-bin/message/custom/send"] {
            router.post(RouterPath(path)) { request, _ in try await self.handle(path, request) }
        }
        for path in ["/cgi-bin/menu/get", "/cgi-bin/menu/delete"] {
            router.get(RouterPath(path)) { request, _ in try await self.handle(path, request) }
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
        default:
            break
        }
        return Self.json(["errcode": 0, "errmsg": "ok"])
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
