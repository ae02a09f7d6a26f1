import Crypto
import UnionServices

/// The two tokens the gateway needs, from configuration or, when missing, generated once and
/// kept in the store so that they survive restarts.
///
/// A generated token is shown once, in the notice of the start that generated it. The admin
/// token is kept as its SHA-256 digest only: whoever reads the database file does not get the
/// admin API with it. (The WeChat token is kept as it is: every request's signature needs it.)
struct GatewaySecrets: Sendable {
    /// The token WeChat signs requests with.
    var wechatToken: String
    /// The SHA-256 digest of the admin API's bearer token.
    var adminTokenDigest: [UInt8]
    /// The tokens this start generated, for the start-up notice; empty on later starts.
    var generated: [Kind: String]

    /// The secrets by kind.
    enum Kind: String, Sendable, Hashable {
        /// `WECHAT_TOKEN`.
        case wechatToken
        /// `UNIONGATE_ADMIN_TOKEN`.
        case adminToken
    }

    /// The settings the tokens are kept under.
    static let wechatTokenKey = "wechat_token"
    static let adminDigestKey = "admin_token_sha256"
    /// Where earlier versions kept the admin token itself; moved to its digest on start.
    static let legacyAdminTokenKey = "admin_token"

    /// Resolves both tokens: the configured value if there is one, otherwise the stored one,
    /// generating and storing it the first time.
    static func resolve(wechatToken: String?, adminToken: String?, store: UnionStore) async throws
        -> GatewaySecrets
    {
        var generated: [Kind: String] = [:]
        var wechat = wechatToken ?? ""
        if wechat.isEmpty {
            // WeChat accepts 3–32 letters and digits as a token.
            let stored = try await store.settingInsertingIfAbsent(wechatTokenKey, value: randomToken(length: 32))
            wechat = stored.value
            if stored.inserted { generated[.wechatToken] = stored.value }
        }
        let digest: [UInt8]
        if let adminToken, !adminToken.isEmpty {
            digest = Self.digest(of: adminToken)
        } else {
            if let legacy = try await store.setting(legacyAdminTokenKey) {
                try await store.setSetting(adminDigestKey, value: hex(Self.digest(of: legacy)))
                try await store.removeSetting(legacyAdminTokenKey)
            }
            let token = randomToken(length: 48)
            let stored = try await store.settingInsertingIfAbsent(adminDigestKey, value: hex(Self.digest(of: token)))
            if stored.inserted { generated[.adminToken] = token }
            guard let bytes = Self.bytes(ofHex: stored.value), bytes.count == SHA256.byteCount else {
                throw ConfigurationError(
                    "the stored admin token digest is damaged; set UNIONGATE_ADMIN_TOKEN to choose a token")
            }
            digest = bytes
        }
        return GatewaySecrets(wechatToken: wechat, adminTokenDigest: digest, generated: generated)
    }

    /// The SHA-256 digest of `token`.
    static func digest(of token: some StringProtocol) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// Whether `token` is the admin token, in time that does not depend on where they differ.
    func isAdminToken(_ token: some StringProtocol) -> Bool {
        let candidate = Self.digest(of: token)
        var difference: UInt8 = 0
        for index in 0..<candidate.count { difference |= candidate[index] ^ adminTokenDigest[index] }
        return difference == 0
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    private static func bytes(ofHex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count.isMultiple(of: 2) else { return nil }
        var out: [UInt8] = []
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = Int(String(UnicodeScalar(utf8[index])), radix: 16),
                let low = Int(String(UnicodeScalar(utf8[index + 1])), radix: 16)
            else { return nil }
            out.append(UInt8(high << 4 | low))
        }
        return out
    }

    /// A random token of letters and digits from the system's secure generator.
    static func randomToken(length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// The start-up notice for tokens generated on this start: what to paste where. Shown on
    /// this start only, never logged.
    func startupNotice(publicURL: String?) -> String? {
        guard !generated.isEmpty else { return nil }
        var lines = ["", "================ UnionGate ================"]
        if let token = generated[.wechatToken] {
            let url = (publicURL ?? "https://<your-domain>") + "/wechat"
            lines += [
                "WECHAT_TOKEN was not set; this token was generated and stored.",
                "In the WeChat console (mp.weixin.qq.com): 设置与开发 → 基本配置 → 服务器配置:",
                "  服务器地址(URL): \(url)",
                "  令牌(Token):     \(token)",
            ]
        }
        if let token = generated[.adminToken] {
            lines += [
                "UNIONGATE_ADMIN_TOKEN was not set; this token was generated. Only its hash is stored:",
                "copy it now, it is not shown again (set UNIONGATE_ADMIN_TOKEN to choose another).",
                "Admin API: send the header  Authorization: Bearer \(token)",
                "Web console: sign in as root with it as the password.",
            ]
        }
        lines += [
            "Set the environment variables to choose your own.", "==========================================", "",
        ]
        return lines.joined(separator: "\n")
    }

    /// Where the web console is and how to sign in, printed at every start.
    static func consoleNotice(consoleURL: String) -> String {
        [
            "UnionGate web console (网页后台): \(consoleURL)",
            "  Staff sign in with their own accounts (uniongate staff add); the account root signs in with",
            "  UNIONGATE_ADMIN_TOKEN as its password.",
        ].joined(separator: "\n")
    }
}
