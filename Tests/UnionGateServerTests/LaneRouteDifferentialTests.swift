import Foundation
import Testing
import UnionServices
import WeChatWire

@testable import UnionGateServer

/// The fast lane and the route are one way through: the same message gets the same response,
/// byte for byte, whichever of them answers it.
@Suite("Fast lane and route answer alike")
struct LaneRouteDifferentialTests {
    static let fixedTime: Int64 = 1_795_363_200

    /// The response with the `Date` header's value masked: the two may straddle a second.
    static func comparable(_ response: RawConnection.Response) -> String {
        String(decoding: response.raw, as: UTF8.self).replacing(/Date: [^\r]*/, with: "Date: *")
    }

    /// Sends each request to two fresh gateways: to one through the lane, to the other past it
    /// (a `Connection: keep-alive` header sends it to the route).
    func bothWays(_ requests: @escaping @Sendable (WeChatClient) throws -> [String], mode: WireMode)
        async throws -> [(lane: RawConnection.Response, route: RawConnection.Response)]
    {
        let clock: @Sendable () -> Int64 = { Self.fixedTime }
        let results = ResultBox()
        try await withGateway(clock: clock) { laneClient, _ in
            try await withGateway(clock: clock) { routeClient, _ in
                let laneRequests = try requests(laneClient)
                let routeRequests = try requests(routeClient).map {
                    $0.replacingOccurrences(
                        of: "Content-Type: text/xml\r\n", with: "Content-Type: text/xml\r\nConnection: keep-alive\r\n")
                }
                for (laneRequest, routeRequest) in zip(laneRequests, routeRequests) {
                    // A connection each: a request refused from its head alone is answered, then closed.
                    let lane = try RawConnection(port: laneClient.port)
                    let route = try RawConnection(port: routeClient.port)
                    try lane.send(laneRequest)
                    try route.send(routeRequest)
                    let a = try #require(try await lane.readResponse())
                    let b = try #require(try await route.readResponse())
                    results.append((a, b))
                }
            }
        }
        return results.all
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [(lane: RawConnection.Response, route: RawConnection.Response)] = []
        func append(_ item: (lane: RawConnection.Response, route: RawConnection.Response)) {
            lock.withLock { items.append(item) }
        }
        var all: [(lane: RawConnection.Response, route: RawConnection.Response)] { lock.withLock { items } }
    }

    static func messages() -> [InboundMessage] {
        let member = Member("oDifferential")
        return [
            member.text("帮助"),  // a keyword reply, from memory
            member.text("热线"),  // the hotline service, through the handler
            member.text("建议 夜班食堂增加热菜供应"),  // a suggestion, stored
            member.text("这句话没有规则"),  // the default reply
            member.event(.subscribe(scene: nil, ticket: nil)),
            member.event(.click(key: "NO_SUCH_KEY")),  // nothing to say: success
        ]
    }

    @Test func plainModeResponsesAreTheSameBytes() async throws {
        let messages = Self.messages()
        let pairs = try await bothWays({ client in try messages.map { try rawRequest(client, $0) } }, mode: .plain)
        #expect(pairs.count == messages.count)
        for (index, pair) in pairs.enumerated() {
            #expect(pair.lane.status == 200)
            #expect(Self.comparable(pair.lane) == Self.comparable(pair.route), "message \(index)")
            #expect(pair.lane.headers["date"] != nil)
        }
        #expect(pairs[2].lane.body.contains("JY-"))
    }

    @Test func refusalsAreTheSameBytes() async throws {
        let pairs = try await bothWays(
            { client in
                let signed = try client.signed(Member().text("帮助"), mode: .plain)
                var forged = signed.query.parameters
                forged["signature"] = String(repeating: "0", count: 40)
                return [
                    rawRequest(query: forged, body: signed.body),  // 403
                    rawRequest(query: signed.query.parameters, body: "<xml><ToUserName>"),  // 400
                    rawRequest(query: signed.query.parameters, body: ""),  // 400
                ]
            }, mode: .plain)
        #expect(pairs.map(\.lane.status) == [403, 400, 400])
        for pair in pairs {
            #expect(Self.comparable(pair.lane) == Self.comparable(pair.route))
        }
    }

    @Test func safeModeRepliesOpenToTheSameMessage() async throws {
        let messages = Array(Self.messages().prefix(3))
        let pairs = try await bothWays(
            { client in try messages.map { try rawRequest(client, $0, mode: .safe) } }, mode: .safe)
        let wechat = WeChatClient(port: 0).wechat
        for pair in pairs {
            // The envelope's random prefix differs; what it carries and the headers do not.
            let lane = try #require(try wechat.openReply(pair.lane.body))
            let route = try #require(try wechat.openReply(pair.route.body))
            #expect(lane == route)
            let names = { (response: RawConnection.Response) in
                String(decoding: response.raw, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
                    .components(separatedBy: "\r\n").map { $0.split(separator: ":").first.map(String.init) ?? "" }
            }
            #expect(names(pair.lane) == names(pair.route))
        }
    }
}
