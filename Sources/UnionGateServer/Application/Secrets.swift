import UnionServices

/// The two tokens the gateway needs, from configuration or, when missing, generated once and
/// kept in the store so that they survive restarts.
struct GatewaySecrets: Sendable {
    /// The token WeChat signs requests with.
    var wechatToken: String
    /// The admin API's bearer token.
    var adminToken: String
    /// Which of the two were generated and stored, for the start-up notice.
    var generated: Set<Kind>

    /// The secrets by kind.
    enum Kind: String, Sendable, Hashable {
        /// `WECHAT_TOKEN`.
        case wechatToken
        /// `UNIONGATE_ADMIN_TOKEN`.
        case adminToken
    }

    /// Resolves both tokens: the configured value if there is one, otherwise the stored one,
    /// generating and storing it the first time.
    static func resolve(wechatToken: String?, adminToken: String?, store: UnionStore) async throws
        -> GatewaySecrets
    {
        var generated = Set<Kind>()
        func resolve(_ configured: String?, key: String, length: Int, kind: Kind) async throws -> String {
            if let configured, !configured.isEmpty { return configured }
            generated.insert(kind)
            return try await store.settingKeepingFirst(key, value: randomToken(length: length))
        }
        // WeChat accepts 3–32 letters and digits as a token.
        let wechat = try await resolve(wechatToken, key: "wechat_token", length: 32, kind: .wechatToken)
        let admin = try await resolve(adminToken, key: "admin_token", length: 48, kind: .adminToken)
        return GatewaySecrets(wechatToken: wechat, adminToken: admin, generated: generated)
    }

    /// A random token of letters and digits from the system's secure generator.
    static func randomToken(length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    /// The start-up notice for generated tokens: what to paste where. Printed once per start,
    /// never logged.
    func startupNotice(publicURL: String?) -> String? {
        guard !generated.isEmpty else { return nil }
        var lines = ["", "================ UnionGate ================"]
        if generated.contains(.wechatToken) {
            let url = (publicURL ?? "https://<your-domain>") + "/wechat"
            lines += [
                "WECHAT_TOKEN was not set; using the stored token below.",
                "In the WeChat console (mp.weixin.qq.com): 设置与开发 → 基本配置 → 服务器配置:",
                "  服务器地址(URL): \(url)",
                "  令牌(Token):     \(wechatToken)",
            ]
        }
        if generated.contains(.adminToken) {
            lines += [
                "UNIONGATE_ADMIN_TOKEN was not set; using the stored token below.",
                "Admin API: send the header  Authorization: Bearer \(adminToken)",
            ]
        }
        lines += [
            "Set the environment variables to choose your own.", "==========================================", "",
        ]
        return lines.joined(separator: "\n")
    }
}
