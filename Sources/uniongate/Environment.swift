import ArgumentParser
import Foundation
import Logging
import UnionGateServer
import UnionServices
import WeChatAPI
import WeChatWire

/// Environment variables, read each time a value is asked for; an empty value counts as unset.
/// Flags override them; they override the defaults.
enum EnvironmentVariables {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// Whether a yes/no variable is set to yes (`1`, `true` or `yes`).
    static func flag(_ name: String) -> Bool {
        guard let value = value(name)?.lowercased() else { return false }
        return ["1", "true", "yes"].contains(value)
    }
}

/// The gateway's environment, read and checked in one place for `serve` and for the commands
/// that call WeChat (`menu`, `qr`, …): the same variable means the same thing everywhere.
struct GatewayEnvironment {
    var wechatToken = EnvironmentVariables.value("WECHAT_TOKEN")
    var appId = EnvironmentVariables.value("WECHAT_APP_ID")
    var appSecret = EnvironmentVariables.value("WECHAT_APP_SECRET")
    var encodingAESKey = EnvironmentVariables.value("WECHAT_ENCODING_AES_KEY")
    var apiBaseURL = EnvironmentVariables.value("WECHAT_API_BASE_URL")
    var apiAllowsHTTP = EnvironmentVariables.flag("WECHAT_API_ALLOW_HTTP")
    /// Where QR code images are fetched from (`WECHAT_MP_BASE_URL`, for tests).
    var mpBaseURL = EnvironmentVariables.value("WECHAT_MP_BASE_URL")
    var adminToken = EnvironmentVariables.value("UNIONGATE_ADMIN_TOKEN")
    var publicURL = EnvironmentVariables.value("UNIONGATE_PUBLIC_URL")
    var journal = EnvironmentVariables.value("UNIONGATE_JOURNAL")
    var consoleIdle = EnvironmentVariables.value("UNIONGATE_CONSOLE_IDLE")
    /// How members get into their pages: `oauth` (a certified 服务号) or `link` (every account).
    var memberSignIn = EnvironmentVariables.value("UNIONGATE_MEMBER_SIGN_IN")
    var memberIdle = EnvironmentVariables.value("UNIONGATE_MEMBER_IDLE")
    /// WeChat's web authorisation host (`https://open.weixin.qq.com`; a local fake in tests).
    var openBaseURL = EnvironmentVariables.value("WECHAT_OPEN_BASE_URL")
    var dataKey = EnvironmentVariables.value("UNIONGATE_DATA_KEY")
    var dataKeyFile = EnvironmentVariables.value("UNIONGATE_DATA_KEY_FILE")
    var mode = EnvironmentVariables.value("WECHAT_MODE")
    var replayWindow = EnvironmentVariables.value("UNIONGATE_REPLAY_WINDOW")
    var trustedProxies = EnvironmentVariables.value("UNIONGATE_TRUSTED_PROXIES")
    var logLevel = EnvironmentVariables.value("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:))

    /// WeChat's API options from the environment.
    var apiOptions: WeChatAPIClient.Options {
        var options = WeChatAPIClient.Options()
        options.allowsHTTP = apiAllowsHTTP
        if let mpBaseURL { options.qrImageBaseURL = mpBaseURL }
        return options
    }

    /// The wire mode, if one is set; a value that is not a mode is a validation error.
    func wireMode() throws -> WireMode? {
        guard let mode else { return nil }
        guard let parsed = WireMode(rawValue: mode) else {
            throw ValidationError("WECHAT_MODE must be plain, compatible or safe, not \(mode)")
        }
        return parsed
    }

    /// The replay window in seconds, if one is set.
    func replayWindowSeconds() throws -> Int64? {
        guard let replayWindow else { return nil }
        guard let seconds = Int64(replayWindow), seconds >= 0 else {
            throw ValidationError("UNIONGATE_REPLAY_WINDOW must be a number of seconds, not \(replayWindow)")
        }
        return seconds
    }

    /// The trusted proxies: the flags' values when given, else the environment's; nil when neither.
    func trustedProxies(flags: [String]) throws -> TrustedProxies? {
        let text = flags.isEmpty ? trustedProxies : flags.joined(separator: ",")
        guard let text else { return nil }
        do {
            return try TrustedProxies(parsing: text)
        } catch let error as ConfigurationError {
            throw ValidationError("--trusted-proxy (UNIONGATE_TRUSTED_PROXIES): \(error)")
        }
    }

    /// How members sign in to their pages, if it is set; another value is a validation error.
    func memberSignInMode(flag: String?) throws -> MemberSignIn? {
        guard let value = flag ?? memberSignIn else { return nil }
        guard let mode = MemberSignIn(rawValue: value.lowercased()) else {
            throw ValidationError("--member-sign-in (UNIONGATE_MEMBER_SIGN_IN) is oauth or link, not \(value)")
        }
        return mode
    }

    /// The settings of a gateway configuration that come from the environment.
    func apply(to configuration: inout GatewayConfiguration) throws {
        configuration.wechatToken = wechatToken
        configuration.appId = appId
        configuration.appSecret = appSecret
        configuration.encodingAESKey = encodingAESKey
        configuration.apiBaseURL = apiBaseURL ?? configuration.apiBaseURL
        configuration.apiAllowsHTTP = apiAllowsHTTP
        configuration.adminToken = adminToken
        configuration.publicURL = publicURL
        if let openBaseURL { configuration.authorizeBaseURL = openBaseURL }
        configuration.dataKey = dataKey
        configuration.dataKeyFile = dataKeyFile
        if let mode = try wireMode() { configuration.wireMode = mode }
        if let seconds = try replayWindowSeconds() { configuration.replayWindow = seconds }
    }
}
