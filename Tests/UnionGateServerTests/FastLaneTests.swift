import Foundation
import Synchronization
import Testing
import UnionServices
import WeChatWire

#if canImport(Glibc)
    import Glibc
#endif

@testable import UnionGateServer

/// The webhook's fast lane answers on the event loop; these check what a client sees on the
/// wire that URLSession hides: the order of pipelined responses, and connections closing.
@Suite("Webhook fast lane on the wire")
struct FastLaneTests {
    /// Answers 「快」 at once; anything else waits in `handle` until the test opens the gate.
    final class SplitHandler: MessageHandler {
        let gate = Gate()
        let started: AsyncStream<Void>
        private let startedContinuation: AsyncStream<Void>.Continuation
        let quickAnswers = Mutex(0)

        init() {
            (started, startedContinuation) = AsyncStream.makeStream()
        }

        func answerAtOnce(_ message: InboundMessage) -> HandlerOutcome? {
            guard case .text(let text) = message.kind, text.content == "快" else { return nil }
            quickAnswers.withLock { $0 += 1 }
            return HandlerOutcome(replies: [.text("快的回复")], ruleName: "quick")
        }

        func handle(_ message: InboundMessage) async -> HandlerOutcome {
            startedContinuation.yield()
            await gate.wait()
            return HandlerOutcome(replies: [.text("慢的回复")], ruleName: "slow")
        }
    }

    @Test func pipelinedResponsesKeepTheirOrderBehindASlowMessage() async throws {
        let handler = SplitHandler()
        try await withGateway(handler: handler) { client, _ in
            let member = Member()
            let slow = try rawRequest(client, member.text("慢"))
            let quick = try rawRequest(client, member.text("快"))
            let connection = try RawConnection(port: client.port)
            // Both requests in one write: the quick one arrives while the slow one is with the router.
            try connection.send(slow + quick)
            var started = handler.started.makeAsyncIterator()
            _ = await started.next()
            await handler.gate.open()
            let first = try await connection.readResponse()
            let second = try await connection.readResponse()
            #expect(first?.status == 200)
            #expect(second?.status == 200)
            #expect(first?.body.contains("慢的回复") == true, "the slow message's reply must come first")
            #expect(second?.body.contains("快的回复") == true)
            // The quick one waited its turn behind the slow one, and was answered once.
            #expect(handler.quickAnswers.withLock { $0 } == 1)
        }
    }

    @Test func answersInTheLaneWithTheRouteHeadersAndKeepsTheConnection() async throws {
        try await withGateway { client, gateway in
            let member = Member()
            let message = member.text("帮助")
            let connection = try RawConnection(port: client.port)
            try connection.send(try rawRequest(client, message) + rawRequest(client, message))
            let first = try #require(try await connection.readResponse())
            let retry = try #require(try await connection.readResponse())
            #expect(first.status == 200)
            #expect(first.headers["content-type"] == "application/xml; charset=utf-8")
            #expect(first.headers["content-length"] == String(first.body.utf8.count))
            #expect(first.headers["server"] == "UnionGate")
            #expect(first.body.contains("工会"))
            #expect(retry.body == first.body, "a retry gets the same reply, CreateTime included")
            #expect(gateway.metrics.count(.replied) == 2)
            #expect(gateway.metrics.duplicateCount == 1)
            let metrics = try await client.request("GET", "/metrics").body
            #expect(metrics.contains("uniongate_rule_hits_total{rule=\"帮助\"} 1"))
        }
    }

    @Test func aRequestThatAsksToCloseIsAnsweredThenClosed() async throws {
        try await withGateway { client, _ in
            let connection = try RawConnection(port: client.port)
            try connection.send(try rawRequest(client, Member().text("帮助"), close: true))
            let response = try #require(try await connection.readResponse())
            #expect(response.status == 200)
            #expect(response.body.contains("工会"))
            #expect(try await connection.readResponse() == nil, "the server closes the connection")
        }
    }

    /// The lane reads NIO's own request heads: an HTTP/1.0 request is answered as an HTTP/1.1
    /// one is, as the router would.
    @Test func anHTTP10RequestIsAnsweredLikeAnyOther() async throws {
        try await withGateway { client, gateway in
            let connection = try RawConnection(port: client.port)
            let request = try rawRequest(client, Member().text("帮助"))
            try connection.send(request.replacingOccurrences(of: " HTTP/1.1\r\n", with: " HTTP/1.0\r\n"))
            let response = try #require(try await connection.readResponse())
            #expect(response.status == 200)
            #expect(response.body.contains("工会"))
            #expect(gateway.metrics.count(.replied) == 1)
        }
    }

    @Test func refusalsAreAnsweredAndCountedInOnePlace() async throws {
        try await withGateway { client, gateway in
            var request = try rawRequest(client, Member().text("帮助"))
            request = request.replacingOccurrences(of: "signature=", with: "signature=0")
            let connection = try RawConnection(port: client.port)
            try connection.send(request)
            let response = try #require(try await connection.readResponse())
            #expect(response.status == 403)
            #expect(gateway.metrics.count(.forbidden) == 1)
        }
    }

}

/// A signed request for `message`, as raw HTTP/1.1; `connection` sets that header (which sends
/// the request past the fast lane to the route).
func rawRequest(
    _ client: WeChatClient, _ message: InboundMessage, mode: WireMode = .plain, close: Bool = false,
    connection: String? = nil
) throws -> String {
    let signed = try client.signed(message, mode: mode)
    return rawRequest(query: signed.query.parameters, body: signed.body, close: close, connection: connection)
}

/// A raw HTTP/1.1 POST to the webhook.
func rawRequest(query: [String: String], body: String, close: Bool = false, connection: String? = nil) -> String {
    let query = query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    let header = close ? "close" : connection
    return "POST /wechat?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
        + (header.map { "Connection: \($0)\r\n" } ?? "") + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

/// One HTTP/1.1 connection over a plain socket. Reads happen on their own thread, so a
/// blocking read never holds up the tasks that serve the request.
final class RawConnection: Sendable {
    struct Response: Equatable {
        var status: Int
        var headers: [String: String]
        var body: String
        /// The response as it came, head and body.
        var raw: [UInt8]
    }

    private let socket: Int32
    private let buffered = Mutex<[UInt8]>([])

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(socket)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { Glibc.close(socket) }

    /// Closes the connection from this side.
    func close() { shutdown(socket, Int32(SHUT_RDWR)) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let wrote = bytes[sent...].withUnsafeBytes { write(socket, $0.baseAddress!, $0.count) }
            guard wrote > 0 else { throw POSIXError(.EPIPE) }
            sent += wrote
        }
    }

    /// The next response, or nil when the server closed the connection first.
    func readResponse() async throws -> Response? {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                do {
                    continuation.resume(returning: try readResponseBlocking())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }

    private func readResponseBlocking() throws -> Response? {
        let separator = Array("\r\n\r\n".utf8)
        while true {
            let response = buffered.withLock { bytes -> Response? in
                guard let end = bytes.firstRange(of: separator) else { return nil }
                let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                        in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                guard bytes.count - end.upperBound >= length else { return nil }
                let body = String(decoding: bytes[end.upperBound..<end.upperBound + length], as: UTF8.self)
                let status = Int(head[0].split(separator: " ")[1]) ?? 0
                let raw = Array(bytes[..<(end.upperBound + length)])
                bytes.removeFirst(end.upperBound + length)
                return Response(status: status, headers: headers, body: body, raw: raw)
            }
            if let response { return response }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let got = chunk.withUnsafeMutableBytes { read(socket, $0.baseAddress!, $0.count) }
            if got == 0 || (got < 0 && errno == ECONNRESET) { return nil }  // closed (or reset) by the server
            guard got > 0 else { throw POSIXError(.ETIMEDOUT) }
            buffered.withLock { $0 += chunk[..<got] }
        }
    }
}
