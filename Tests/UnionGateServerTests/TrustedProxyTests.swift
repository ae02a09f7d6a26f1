import Foundation
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport

@testable import UnionGateServer

/// The client's address behind a reverse proxy: taken from the proxy's header fields only when
/// the proxy is named, so sign-in limits and the audit log see each client, and a stranger's
/// forged field changes nothing.
@Suite("Trusted proxies")
struct TrustedProxyTests {
    @Test func networksParseAndHoldTheirAddresses() throws {
        let v4 = try #require(IPNetwork("10.1.0.0/16"))
        #expect(v4.contains("10.1.255.7"))
        #expect(!v4.contains("10.2.0.1"))
        #expect(v4.contains("::ffff:10.1.2.3"), "the IPv4-mapped form a dual-stack socket reports")
        let host = try #require(IPNetwork("127.0.0.1"))
        #expect(host.contains("127.0.0.1"))
        #expect(!host.contains("127.0.0.2"))
        let v6 = try #require(IPNetwork("fd00::/8"))
        #expect(v6.contains("fd12:3456::1"))
        #expect(!v6.contains("fe80::1"))
        #expect(try #require(IPNetwork("::1")).contains("::1"))
        #expect(try #require(IPNetwork("0.0.0.0/0")).contains("192.0.2.1"))
        #expect(try #require(IPNetwork("10.0.0.1/31")).contains("10.0.0.0"))
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "example.com", "10.0.0.0/", "1.2.3.4/-1", "1.2.3.4/8/8"] {
            #expect(IPNetwork(bad) == nil, "\(bad)")
        }
        #expect(!v4.contains("not an address"))
        #expect(throws: ConfigurationError.self) { try TrustedProxies(parsing: "127.0.0.1, nginx") }
        #expect(try TrustedProxies(parsing: "127.0.0.1, 10.0.0.0/8 ::1").networks.count == 3)
    }

    @Test func theClientIsReadFromTheRightOnlyThroughTrustedHops() throws {
        let proxies = try TrustedProxies(parsing: "127.0.0.1,10.0.0.0/8")
        // An untrusted peer: its fields are ignored, whatever they say.
        #expect(proxies.client(peer: "198.51.100.9", forwardedFor: ["1.1.1.1"], realIP: "2.2.2.2") == "198.51.100.9")
        // nginx appends the address it was reached from: the rightmost untrusted one is the client,
        // and what the client itself wrote further left is not believed.
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 203.0.113.5"], realIP: nil) == "203.0.113.5")
        #expect(
            proxies.client(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "203.0.113.5, 10.0.0.3"], realIP: nil)
                == "203.0.113.5", "a second proxy in the chain is skipped")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: [], realIP: "203.0.113.6") == "203.0.113.6")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: [], realIP: nil) == "127.0.0.1")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: ["10.0.0.4"], realIP: nil) == "10.0.0.4")
        #expect(
            proxies.client(peer: "127.0.0.1", forwardedFor: ["<script>, 10.0.0.4"], realIP: nil) == "10.0.0.4",
            "garbage stops the walk at the last trusted hop")
        #expect(proxies.client(peer: "127.0.0.1", forwardedFor: [], realIP: "unknown") == "127.0.0.1")
    }

    /// Behind a trusted proxy one client's failures lock out that client, not every staff
    /// member, and the log names the client.
    @Test func behindATrustedProxyEachClientHasItsOwnLimit() async throws {
        let logs = LogCapture()
        try await withGateway(
            configure: { $0.trustedProxies = try! TrustedProxies(parsing: "127.0.0.1") }, adminPause: { _ in },
            logs: logs
        ) { client, _ in
            for attempt in 1...20 {
                let result = try await client.request(
                    "GET", "/admin/api/members",
                    headers: ["Authorization": "Bearer wrong-\(attempt)", "X-Forwarded-For": "203.0.113.7"])
                #expect(result.status == 401)
            }
            let locked = try await client.request(
                "GET", "/admin/api/members",
                headers: ["Authorization": "Bearer \(testAdminToken)", "X-Forwarded-For": "203.0.113.7"])
            #expect(locked.status == 429, "the failing client is locked out")
            let other = try await client.request(
                "GET", "/admin/api/members",
                headers: ["Authorization": "Bearer \(testAdminToken)", "X-Forwarded-For": "203.0.113.8"])
            #expect(other.status == 200, "another client behind the same proxy is not")
            let realIP = try await client.request(
                "GET", "/admin/api/members",
                headers: ["Authorization": "Bearer \(testAdminToken)", "X-Real-IP": "203.0.113.7"])
            #expect(realIP.status == 429, "X-Real-IP names the same client")
        }
        let lines = logs.lines.filter { $0.message.contains("admin API: missing or wrong token") }
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.metadata["client"] == "203.0.113.7" })
    }

    /// With no trusted proxy (the default), a forged `X-Forwarded-For` changes nothing: the peer
    /// is locked out however many addresses it claims.
    @Test func aForgedHeaderFromAnUntrustedPeerIsIgnored() async throws {
        let logs = LogCapture()
        try await withGateway(adminPause: { _ in }, logs: logs) { client, _ in
            for attempt in 1...20 {
                let result = try await client.request(
                    "GET", "/admin/api/members",
                    headers: ["Authorization": "Bearer wrong-\(attempt)", "X-Forwarded-For": "203.0.113.\(attempt)"])
                #expect(result.status == 401)
            }
            let locked = try await client.request(
                "GET", "/admin/api/members",
                headers: ["Authorization": "Bearer \(testAdminToken)", "X-Forwarded-For": "198.51.100.1"])
            #expect(locked.status == 429)
        }
        let lines = logs.lines.filter { $0.message.contains("admin API: missing or wrong token") }
        #expect(lines.allSatisfy { $0.metadata["client"] == "127.0.0.1" })

        // A trusted proxy elsewhere: this peer (127.0.0.1) is still not one.
        try await withGateway(
            configure: { $0.trustedProxies = try! TrustedProxies(parsing: "10.0.0.0/8") }, adminPause: { _ in }
        ) { client, _ in
            for attempt in 1...20 {
                _ = try await client.request(
                    "GET", "/admin/api/members",
                    headers: ["Authorization": "Bearer wrong", "X-Forwarded-For": "203.0.113.\(attempt)"])
            }
            let locked = try await client.request(
                "GET", "/admin/api/members", headers: ["Authorization": "Bearer \(testAdminToken)"])
            #expect(locked.status == 429)
        }
    }

    /// The console's failed sign-ins are audited with the client's address.
    @Test func theAuditLogRecordsTheClientBehindTheProxy() async throws {
        try await withGateway(
            configure: { $0.trustedProxies = try! TrustedProxies(parsing: "127.0.0.1") }, adminPause: { _ in }
        ) { client, gateway in
            let form = try await client.request("GET", "/admin/login")
            let csrf = try #require(
                form.body.firstMatch(of: /name="_csrf" value="([0-9a-f]+)"/).map { String($0.output.1) })
            let body = "_csrf=\(csrf)&account=root&password=wrong&next=%2Fadmin%2F"
            let result = try await client.request(
                "POST", "/admin/login", body: Data(body.utf8),
                headers: [
                    "Content-Type": "application/x-www-form-urlencoded", "Cookie": "ug_login=\(csrf)",
                    "X-Forwarded-For": "203.0.113.44",
                ])
            #expect(result.status == 401)
            let audit = try await AuditLog.page(
                for: .root, action: "console.login_failed", request: try PageRequest(), in: gateway.store)
            let failed = try #require(audit.items.first)
            #expect(failed.after?["client"] == "203.0.113.44")
        }
    }
}
