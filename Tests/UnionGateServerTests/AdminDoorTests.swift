import Foundation
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport

@testable import UnionGateServer

@Suite("The admin API's door")
struct AdminDoorTests {
    @Test func wrongTokensAreSlowedThenRefusedPerAddressAndLogged() async throws {
        let clock = TestClock()
        let pauses = Mutex<[Duration]>([])
        let logs = LogCapture()
        try await withGateway(
            clock: clock.read, adminPause: { pause in pauses.withLock { $0.append(pause) } }, logs: logs
        ) { client, _ in
            for attempt in 1...20 {
                let result = try await client.admin(
                    "GET", "/admin/api/members", token: attempt == 7 ? nil : "wrong-\(attempt)")
                #expect(result.status == 401, "attempt \(attempt)")
            }
            // Three free, then 0.5 s doubling up to 8 s.
            let expected: [Duration] =
                [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)]
                + Array(repeating: .seconds(8), count: 13)
            #expect(pauses.withLock { $0 } == expected)

            // The twenty-first is refused without its token being looked at, the right one too.
            let locked = try await client.admin("GET", "/admin/api/members")
            #expect(locked.status == 429)
            let retryAfter = try await client.request(
                "GET", "/admin/api/members", headers: ["Authorization": "Bearer \(testAdminToken)"])
            #expect(retryAfter.status == 429)
            #expect(pauses.withLock { $0.count } == 17)

            // Fifteen minutes after the first failure, the address may try again; a right token
            // clears its record, so a later slip is not slowed.
            clock.advance(seconds: 900)
            #expect(try await client.admin("GET", "/admin/api/members").status == 200)
            #expect(try await client.admin("GET", "/admin/api/members", token: "slip").status == 401)
            #expect(pauses.withLock { $0.count } == 17)
        }
        // Logged at the first failure, the first slowed one and the lockout: not 21 lines.
        let lines = logs.lines.filter { $0.message.contains("admin API: missing or wrong token") }
        #expect(lines.map { $0.metadata["failures"] } == ["1", "4", "20", "1"])
        #expect(lines.allSatisfy { $0.metadata["client"] == "127.0.0.1" })
        #expect(!logs.lines.contains { $0.text.contains("wrong-") })
    }

    @Test func theTableOfAddressesIsBounded() {
        let clock = TestClock()
        let attempts = AdminAttempts(capacity: 100, unixTime: clock.read)
        for index in 0..<1_000 { _ = attempts.failed("10.0.\(index / 256).\(index % 256)") }
        #expect(attempts.count <= 100)
        #expect(attempts.failed("10.9.9.9").failures == 1)
    }

    @Test func anAdminServerErrorIsLogged() async throws {
        let logs = LogCapture()
        try await withGateway(logs: logs) { client, gateway in
            await gateway.store.close()
            let result = try await client.admin("GET", "/admin/api/suggestions")
            #expect(result.status == 500)
        }
        let errors = logs.lines.filter { $0.level == .error && $0.message.contains("admin API") }
        #expect(errors.contains { $0.metadata["route"] == "GET /admin/api/suggestions" })
    }
}

@Suite("Refusal logs")
struct RefusalLogTests {
    @Test func linesAreRateLimitedAndSayHowManyWereHeldBack() {
        let logs = LogCapture()
        let now = Mutex(ContinuousClock.now)
        let log = RefusalLog(logger: logs.logger(), perSecond: 5, burst: 20, now: { now.withLock { $0 } })
        for _ in 0..<1_000 { log.warning("webhook request refused", ["reason": "forged"]) }
        #expect(logs.lines.count == 20)
        now.withLock { $0 += .seconds(1) }
        for _ in 0..<1_000 { log.warning("webhook request refused", ["reason": "forged"]) }
        #expect(logs.lines.count == 25)
        #expect(logs.lines[20].metadata["held_back"] == "980")
        #expect(logs.lines[21].metadata["held_back"] == nil)
    }

    @Test func clientTextIsCutEscapedAndMasked() {
        let hostile = "\u{1B}[2J\u{7}退出\r\n13812345678\u{202E}txt.exe" + String(repeating: "很长", count: 200)
        let clean = RefusalLog.clean(hostile)
        #expect(clean.utf8.count <= 163)
        #expect(clean.hasSuffix("…"))
        #expect(clean.hasPrefix("\\u{1b}[2J\\u{7}退出\\u{d}\\u{a}138****5678\\u{202e}txt.exe"))
        #expect(!clean.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x202E })
    }

    @Test func forgedRequestsAreCountedAndTheirLinesBounded() async throws {
        let logs = LogCapture()
        try await withGateway(logs: logs) { client, gateway in
            let signed = try client.signed(Member().text("热线"), mode: .plain)
            var forged = signed.query
            forged.signature = String(repeating: "0", count: 40)
            for _ in 0..<200 {
                let result = try await client.request(
                    "POST", "/wechat", query: forged.parameters, body: Data(signed.body.utf8))
                #expect(result.status == 403)
            }
            #expect(gateway.metrics.count(.forbidden) == 200)
        }
        let refused = logs.lines.filter { $0.message == "webhook request refused" }
        #expect(refused.count >= 20)
        #expect(refused.count < 200)
        #expect(refused.allSatisfy { $0.text.utf8.count < 300 })
    }
}

@Suite("HTML escaping")
struct HTMLEscapingTests {
    /// `<` followed by U+0338 is one character (canonically "≮"), and `&` with a combining mark
    /// is one too: escaping by character let both through.
    @Test func escapesScalarsThatCombiningMarksJoinToOthers() {
        let escaped = HTMLText.escape("<\u{338}script>&\u{301}\"'")
        #expect(Array(escaped.unicodeScalars) == Array("&lt;\u{338}script&gt;&amp;\u{301}&quot;&#39;".unicodeScalars))
        #expect(!escaped.unicodeScalars.contains { "<>\"'".unicodeScalars.contains($0) })
    }
}
