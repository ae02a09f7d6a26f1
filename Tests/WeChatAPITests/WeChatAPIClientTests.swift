import Foundation
import Logging
import Synchronization
import Testing
import WeChatAPI
import WeChatTestSupport
import WeChatWire

/// A token cache in memory, for one client.
final class MemoryTokenCache: AccessTokenCache {
    private let state = Mutex<(token: CachedToken?, lease: String?)>((nil, nil))

    func token() async throws -> CachedToken? { state.withLock { $0.token } }
    func store(_ token: CachedToken) async throws { state.withLock { $0.token = token } }
    func acquireRefreshLease(holder: String, until: Int64, now: Int64) async throws -> Bool {
        state.withLock { state in
            guard state.lease == nil || state.lease == holder else { return false }
            state.lease = holder
            return true
        }
    }
    func releaseRefreshLease(holder: String) async throws {
        state.withLock { if $0.lease == holder { $0.lease = nil } }
    }
}

@Suite("WeChat's API client")
struct WeChatAPIClientTests {
    func client(
        _ base: String, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
        configure: (inout WeChatAPIClient.Options) -> Void = { _ in }
    )
        -> WeChatAPIClient
    {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var options = WeChatAPIClient.Options()
        options.backoff = .milliseconds(2)
        options.allowsHTTP = true
        configure(&options)
        return WeChatAPIClient(
            baseURL: base, appId: FakeWeChatAPI.appId, secret: FakeWeChatAPI.secret, cache: MemoryTokenCache(),
            options: options, logger: logger, clock: clock)
    }

    @Test func theTokenIsRefreshedShortlyBeforeItExpires() async throws {
        try await withFakeWeChat { fake, base in
            let now = Mutex<Int64>(1_800_000_000)
            let api = client(base, clock: { now.withLock { $0 } })
            try await api.sendCustomMessage(.text("一"), to: "o1")
            now.withLock { $0 += 6000 }  // still 1200 s left: reused without asking
            try await api.sendCustomMessage(.text("二"), to: "o1")
            #expect(fake.tokenRequests == 1)
            now.withLock { $0 += 1000 }  // 200 s left: inside the refresh margin, so it asks again
            try await api.sendCustomMessage(.text("三"), to: "o1")
            #expect(fake.tokenRequests == 2)
            now.withLock { $0 += 60 }  // the refreshed token is good for another two hours
            try await api.sendCustomMessage(.text("四"), to: "o1")
            #expect(fake.tokenRequests == 2)
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 4)
        }
    }

    @Test func aRejectedTokenIsRefreshedOnceAndTheCallRetried() async throws {
        try await withFakeWeChat { fake, base in
            let api = client(base)
            try await api.sendCustomMessage(.text("一"), to: "o1")
            fake.invalidateToken()
            try await api.sendCustomMessage(.text("二"), to: "o1")
            #expect(fake.tokensIssued == 2)
            let sends = fake.calls(to: "/cgi-bin/message/custom/send")
            #expect(sends.map(\.token) == ["TOKEN-1", "TOKEN-1", "TOKEN-2"])

            // Rejected again after the refresh: a typed error, not a loop.
            fake.script("/cgi-bin/message/custom/send", [42001, 42001])
            let error = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("三"), to: "o1")
            }
            #expect(error.code == 42001)
        }
    }

    @Test func busyAnswersAreRetriedABoundedNumberOfTimes() async throws {
        try await withFakeWeChat { fake, base in
            let api = client(base)
            fake.script("/cgi-bin/message/custom/send", [-1, -1])
            try await api.sendCustomMessage(.text("一"), to: "o1")
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 3)
            fake.script("/cgi-bin/message/custom/send", [-1, -1, -1, -1, -1])
            let error = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("二"), to: "o1")
            }
            #expect(error.isBusy)
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == 7)  // 3 + 1 try + 3 retries
            fake.script("/cgi-bin/message/custom/send", [45009])
            let quota = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("三"), to: "o1")
            }
            #expect(quota.code == 45009)
            #expect(quota.message == "scripted error 45009")
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        try await withFakeWeChat { fake, base in
            let api = client(base)
            try await api.sendCustomMessage(.text("先拿到令牌"), to: "o1")
            fake.redirect("/cgi-bin/message/custom/send")
            fake.redirect("/cgi-bin/menu/get")
            for call in [{ try await api.sendCustomMessage(.text("一"), to: "o1") }, { _ = try await api.menu() }] {
                let error = try await #require(throws: WeChatAPIError.self) { try await call() }
                #expect(error.transport)
                #expect(error.message.contains("HTTP 302"))
            }
            #expect(fake.calls(to: "/redirected").isEmpty)
        }
    }

    @Test func anHTTPAddressIsRefusedUnlessAllowed() async throws {
        try await withFakeWeChat { fake, base in
            let api = client(base, configure: { $0.allowsHTTP = false })
            let error = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("一"), to: "o1")
            }
            #expect(error.message.contains("must be https"))
            #expect(fake.tokenRequests == 0)
            #expect(fake.calls.isEmpty)
        }
        #expect(WeChatAPIClient.refusal(ofBaseURL: "https://api.weixin.qq.com", allowsHTTP: false) == nil)
        #expect(WeChatAPIClient.refusal(ofBaseURL: "http://127.0.0.1:9", allowsHTTP: true) == nil)
        #expect(WeChatAPIClient.refusal(ofBaseURL: "ftp://x", allowsHTTP: true) != nil)
        #expect(WeChatAPIClient.refusal(ofBaseURL: "not a url", allowsHTTP: true) != nil)
    }

    /// A hanging API costs three timeouts, then nothing until the pause is over; one call tries
    /// again, and its success closes the circuit.
    @Test func aHangingAPIOpensTheCircuit() async throws {
        try await withFakeWeChat { fake, base in
            let now = Mutex<Int64>(1_800_000_000)
            let api = client(base, clock: { now.withLock { $0 } }) {
                // Foundation on Linux times out at once below a second; two leave room for a busy machine.
                $0.timeout = .seconds(2)
                $0.circuitThreshold = 3
                $0.circuitCooldown = 30
            }
            // The token first; on a machine busy with the rest of the suite, a first try may time
            // out (a success closes the circuit again).
            for attempt in 1...3 {
                do {
                    try await api.sendCustomMessage(.text("先拿到令牌"), to: "o1")
                    break
                } catch let error as WeChatAPIError where error.transport && attempt < 3 {}
            }
            fake.hang(for: .milliseconds(3_000))
            // Three calls at once, each waiting out its timeout.
            try await withThrowingTaskGroup(of: WeChatAPIError?.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        do {
                            try await api.sendCustomMessage(.text("等"), to: "o1")
                            return nil
                        } catch let error as WeChatAPIError { return error }
                    }
                }
                for try await error in group {
                    #expect(error?.transport == true && error?.pausedUntil == nil)
                }
            }
            let sent = fake.calls(to: "/cgi-bin/message/custom/send").count
            // Open: the next calls fail at once and reach nobody.
            for _ in 0..<5 {
                let error = try await #require(throws: WeChatAPIError.self) {
                    try await api.sendCustomMessage(.text("不发"), to: "o1")
                }
                #expect(error.pausedUntil == 1_800_000_030)
            }
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == sent)

            // After the pause one call tries; it hangs too, so the pause doubles.
            now.withLock { $0 += 30 }
            _ = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("试"), to: "o1")
            }
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == sent + 1)
            let doubled = try await #require(throws: WeChatAPIError.self) {
                try await api.sendCustomMessage(.text("不发"), to: "o1")
            }
            #expect(doubled.pausedUntil == 1_800_000_090)

            // WeChat answers again: the trial succeeds and the circuit closes.
            fake.hang(for: nil)
            now.withLock { $0 += 60 }
            try await api.sendCustomMessage(.text("通了"), to: "o1")
            try await api.sendCustomMessage(.text("又通"), to: "o1")
            #expect(fake.calls(to: "/cgi-bin/message/custom/send").count == sent + 3)
        }
    }

    @Test func customMessagesHaveWeChatsShape() throws {
        let text =
            try JSONSerialization.jsonObject(with: CustomMessageJSON.encode(.text("你好"), to: "o1")) as? [String: Any]
        #expect(text?["touser"] as? String == "o1")
        #expect(text?["msgtype"] as? String == "text")
        #expect((text?["text"] as? [String: String])?["content"] == "你好")
        let news =
            try JSONSerialization.jsonObject(
                with: CustomMessageJSON.encode(
                    .news([Article(title: "福利", description: "d", picURL: "https://p", url: "https://u")]), to: "o1"))
            as? [String: Any]
        let articles = (news?["news"] as? [String: Any])?["articles"] as? [[String: String]]
        #expect(articles == [["title": "福利", "description": "d", "url": "https://u", "picurl": "https://p"]])
        #expect(throws: WeChatAPIError.self) {
            try CustomMessageJSON.encode(.transferToCustomerService(agent: nil), to: "o1")
        }
    }
}
