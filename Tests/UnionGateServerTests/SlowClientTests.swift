import Foundation
import Testing
import WeChatWire
import WeChatTestSupport

@testable import UnionGateServer

/// Clients that hold connections or bodies: each is a raw socket that a real attacker could open.
@Suite("Slow, idle and unsigned clients")
struct SlowClientTests {
    @Test func anIdleConnectionIsClosed() async throws {
        try await withGateway(configure: { $0.idleTimeout = .milliseconds(300) }) { client, _ in
            let connection = try RawConnection(port: client.port)
            // Nothing is sent: the server closes the connection (the read ends, it does not time out).
            #expect(try await connection.readResponse() == nil)
        }
    }

    @Test func aRequestSentTooSlowlyIsCutOff() async throws {
        try await withGateway(configure: {
            $0.idleTimeout = .seconds(60)
            $0.requestReadTimeout = .milliseconds(300)
        }) { client, _ in
            let whole = try rawRequest(client, Member().text("帮助"))
            let connection = try RawConnection(port: client.port)
            // The head and part of the body, then nothing more: only the read deadline can end it.
            try connection.send(String(whole.prefix(whole.count - 20)))
            #expect(try await connection.readResponse() == nil)
        }
    }

    @Test func anUnsignedRequestIsRefusedFromItsHeadWithoutReadingTheBody() async throws {
        try await withGateway { client, gateway in
            let connection = try RawConnection(port: client.port)
            // Announces a large body and sends none of it: the 403 comes from the head alone, and
            // says the connection closes rather than wait for 10 MB nobody will use.
            try connection.send(
                "POST /wechat?signature=0&timestamp=1&nonce=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
            let response = try #require(try await connection.readResponse())
            #expect(response.status == 403)
            #expect(response.headers["connection"] == "close")
            #expect(try await connection.readResponse() == nil, "and the connection is closed")
            #expect(gateway.metrics.count(.forbidden) == 1)

            // A chunked body (of unknown length): the same.
            let chunked = try RawConnection(port: client.port)
            try chunked.send(
                "POST /wechat?signature=0&timestamp=1&nonce=2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            let refused = try #require(try await chunked.readResponse())
            #expect(refused.status == 403)
            #expect(refused.headers["connection"] == "close")
            #expect(try await chunked.readResponse() == nil)
        }
    }

    /// A keep-alive client (nginx's upstream pool, a fuzzer) sends its next request at once: a
    /// forged request with a small body is refused, its body dropped, and the connection kept, so
    /// the next request is answered.
    @Test func aRefusedRequestKeepsItsKeepAliveConnection() async throws {
        try await withGateway { client, gateway in
            let connection = try RawConnection(port: client.port)
            var sent = 0
            for round in 0..<20 {
                let signed = try client.signed(Member().text("帮助"), mode: .plain)
                var forged = signed.query.parameters
                forged["signature"] = String(repeating: "0", count: 40)
                let good = try rawRequest(client, Member().text("帮助"))
                // Sometimes in one write, sometimes one after the other.
                if round.isMultiple(of: 2) {
                    try connection.send(rawRequest(query: forged, body: signed.body) + good)
                } else {
                    try connection.send(rawRequest(query: forged, body: signed.body))
                    try connection.send(good)
                }
                sent += 1
                let refusal = try #require(try await connection.readResponse(), "round \(round)")
                #expect(refusal.status == 403)
                #expect(refusal.headers["connection"] == nil, "the connection stays")
                let answer = try #require(try await connection.readResponse(), "round \(round)")
                #expect(answer.status == 200)
                #expect(answer.body.contains("工会"))
            }
            #expect(gateway.metrics.count(.forbidden) == sent)
            #expect(gateway.metrics.count(.replied) == sent)
        }
    }

    /// A body over the webhook's limit is refused (413) before it is read whole: the rest is
    /// not read, and the response says the connection closes.
    @Test func aBodyOverTheLimitAnnouncesTheClose() async throws {
        try await withGateway { client, _ in
            let signed = try client.signed(Member().text("帮助"), mode: .plain)
            let query = signed.query.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                .joined(separator: "&")
            let connection = try RawConnection(port: client.port)
            try connection.send(
                "POST /wechat?\(query) HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n"
                    + String(repeating: "x", count: 70_000))
            let response = try #require(try await connection.readResponse())
            #expect(response.status == 413)
            #expect(response.headers["connection"] == "close")
            #expect(try await connection.readResponse() == nil)
        }
    }

    /// The admin API refuses a wrong token before it reads the body; the small body is read and
    /// dropped, and the next request on the connection is answered.
    @Test func anAdminRefusalKeepsTheConnection() async throws {
        try await withGateway { client, _ in
            let connection = try RawConnection(port: client.port)
            let body = #"{"status":"adopted"}"#
            try connection.send(
                "PATCH /admin/api/suggestions/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let refusal = try #require(try await connection.readResponse())
            #expect(refusal.status == 401)
            #expect(refusal.headers["connection"] == nil)
            let health = try #require(try await connection.readResponse())
            #expect(health.status == 200)
        }
    }

    /// Hummingbird's limit of 1,000 header fields holds on the gateway's own pipeline too
    /// (NIO's default would allow 65,534): the request is refused, and nothing is answered.
    @Test func aRequestWithTooManyHeaderFieldsIsRefused() async throws {
        try await withGateway { client, gateway in
            let request = try rawRequest(client, Member().text("帮助"))
            let many = (0..<1_001).map { "X-Filler-\($0): 1\r\n" }.joined()
            let connection = try RawConnection(port: client.port)
            try connection.send(
                request.replacingOccurrences(of: "Host: 127.0.0.1\r\n", with: "Host: 127.0.0.1\r\n" + many))
            let response = try await connection.readResponse()
            #expect(response == nil || response?.status == 400, "\(String(describing: response?.status))")
            #expect(gateway.metrics.count(.replied) == 0)
            // Within the limit, the same request is answered.
            let few = (0..<900).map { "X-Filler-\($0): 1\r\n" }.joined()
            let accepted = try RawConnection(port: client.port)
            try accepted.send(
                request.replacingOccurrences(of: "Host: 127.0.0.1\r\n", with: "Host: 127.0.0.1\r\n" + few))
            #expect(try await accepted.readResponse()?.status == 200)
        }
    }

    @Test func connectionsOverTheCapAreClosedAndTheOthersStillWork() async throws {
        try await withGateway { client, gateway in
            // The test framework's own connection, opened without waiting: let it land first.
            try await waitUntil(timeout: .seconds(30)) { gateway.connections.current == 1 }
            let member = Member()
            let first = try RawConnection(port: client.port)
            try first.send(try rawRequest(client, member.text("帮助")))
            #expect(try await first.readResponse()?.status == 200)
            // Room for one more than are open now.
            gateway.connections.maxConnections = gateway.connections.current + 1
            let second = try RawConnection(port: client.port)
            try second.send(try rawRequest(client, member.text("热线")))
            #expect(try await second.readResponse()?.status == 200)
            let third = try RawConnection(port: client.port)
            #expect(try await third.readResponse() == nil, "the connection over the cap is closed at once")
            try first.send(try rawRequest(client, member.text("福利")))
            #expect(try await first.readResponse()?.status == 200)
            // A closed connection gives its slot back.
            let slots = gateway.connections.current
            second.close()
            try await waitUntil(timeout: .seconds(30)) { gateway.connections.current == slots - 1 }
        }
    }
}
