import ArgumentParser
import Testing
import UnionGateServer
import WeChatWire

@testable import uniongate

/// The environment is read and checked in one place, for `serve` and the commands that call
/// WeChat alike.
@Suite("The gateway's environment")
struct EnvironmentTests {
    @Test func itFillsTheConfigurationServeStartsWith() throws {
        var environment = GatewayEnvironment()
        environment.wechatToken = "token"
        environment.appId = "wx123"
        environment.appSecret = "secret"
        environment.apiBaseURL = "http://127.0.0.1:9"
        environment.apiAllowsHTTP = true
        environment.publicURL = "https://union.example"
        environment.mode = "safe"
        environment.replayWindow = "120"
        var configuration = GatewayConfiguration()
        try environment.apply(to: &configuration)
        #expect(configuration.wechatToken == "token")
        #expect(configuration.appId == "wx123")
        #expect(configuration.apiBaseURL == "http://127.0.0.1:9")
        #expect(configuration.apiAllowsHTTP)
        #expect(configuration.publicURL == "https://union.example")
        #expect(configuration.wireMode == .safe)
        #expect(configuration.replayWindow == 120)
    }

    @Test func unsetValuesKeepTheDefaults() throws {
        var environment = GatewayEnvironment()
        environment.apiBaseURL = nil
        environment.mode = nil
        environment.replayWindow = nil
        var configuration = GatewayConfiguration()
        try environment.apply(to: &configuration)
        #expect(configuration.apiBaseURL == GatewayConfiguration().apiBaseURL)
        #expect(configuration.wireMode == nil)
        #expect(configuration.replayWindow == GatewayConfiguration().replayWindow)
    }

    @Test func aWrongModeOrWindowIsRefusedWithTheVariablesName() {
        var environment = GatewayEnvironment()
        environment.mode = "secure"
        var configuration = GatewayConfiguration()
        #expect(throws: ValidationError.self) { try environment.apply(to: &configuration) }
        #expect((try? environment.wireMode()) == nil)
        environment.mode = nil
        environment.replayWindow = "-5"
        #expect {
            try environment.apply(to: &configuration)
        } throws: { error in
            (error as? ValidationError)?.message.contains("UNIONGATE_REPLAY_WINDOW") == true
        }
    }

    @Test func commandsThatCallWeChatGetTheSameAPIOptions() {
        var environment = GatewayEnvironment()
        environment.apiAllowsHTTP = true
        environment.mpBaseURL = "http://127.0.0.1:9/mp"
        let options = environment.apiOptions
        #expect(options.allowsHTTP)
        #expect(options.qrImageBaseURL == "http://127.0.0.1:9/mp")
    }
}
