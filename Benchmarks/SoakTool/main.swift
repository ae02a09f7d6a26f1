// The client side of scripts/soak: sends mixed traffic to a running gateway for a while and
// checks every answer.
//
//     soak-tool PORT SECONDS PID
//
// Workers send, at random: keywords (帮助, 热线, 福利) in plain and safe mode; suggestions
// (建议 …), whose receipt numbers are kept; WeChat-style retries of a request sent in the last
// 15 s (WeChat retries three times, 5 s apart), which must get the same answer; and hostile requests (a forged signature, malformed XML, a hostile
// entity, an oversize body, a stale timestamp, a connection that sends half a request and
// leaves). Every 5 s it samples the server's RSS and open file descriptors (from /proc/PID).
// At the end it reads the suggestions through the admin API and checks that every
// acknowledged receipt is stored, once. It prints a report and exits 1 on any failure.
//
// Token, key, app id and admin token come from WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY,
// WECHAT_APP_ID and UNIONGATE_ADMIN_TOKEN.
import Foundation
import Synchronization
import WeChatWire

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]), let seconds = Double(arguments[2]),
    let pid = Int32(arguments[3])
else { fail("usage: soak-tool PORT SECONDS PID") }
let environment = ProcessInfo.processInfo.environment
guard let token = environment["WECHAT_TOKEN"], let key = environment["WECHAT_ENCODING_AES_KEY"],
    let appId = environment["WECHAT_APP_ID"], let adminToken = environment["UNIONGATE_ADMIN_TOKEN"]
else { fail("set WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY, WECHAT_APP_ID and UNIONGATE_ADMIN_TOKEN") }
let wechat = SimulatedWeChat(token: token, cipher: try MessageCipher(encodingAESKey: key, appId: appId))

/// What the workers saw.
struct Tally: Sendable {
    var counts: [String: Int] = [:]
    var failures: [String] = []
    var receipts: [String] = []
}
let tally = Mutex(Tally())
func count(_ kind: String) { tally.withLock { $0.counts[kind, default: 0] += 1 } }
func failure(_ what: String) {
    tally.withLock { tally in
        if tally.failures.count < 50 { tally.failures.append(what) }
        tally.counts["failures", default: 0] += 1
    }
}

let configuration = URLSessionConfiguration.ephemeral
configuration.timeoutIntervalForRequest = 30
configuration.httpMaximumConnectionsPerHost = 64
let session = URLSession(configuration: configuration)

func post(query: [String: String], body: Data) async throws -> (Int, String) {
    var components = URLComponents()
    components.scheme = "http"
    components.host = "127.0.0.1"
    components.port = port
    components.path = "/wechat"
    components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
    var request = URLRequest(url: components.url!)
    request.httpMethod = "POST"
    request.httpBody = body
    let (data, response) = try await session.data(for: request)
    return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
}

func signed(_ message: InboundMessage, mode: WireMode, timestamp: Int64 = Int64(Date().timeIntervalSince1970))
    throws -> SimulatedWeChat.Request
{
    try wechat.request(
        for: message, mode: mode, timestamp: String(timestamp), nonce: String(UInt64.random(in: 1...UInt64.max)))
}

let msgIds = Atomic<UInt64>(UInt64(Date().timeIntervalSince1970) * 1_000_000)
func text(_ content: String, from sender: String) -> InboundMessage {
    InboundMessage(
        header: MessageHeader(
            account: "gh_soak", sender: sender, createTime: Int64(Date().timeIntervalSince1970),
            msgId: msgIds.add(1, ordering: .relaxed).newValue),
        kind: .text(TextMessage(content: content)))
}

/// Sends `request` and checks the answer is a well-formed reply to `sender`; returns its text
/// (empty for a reply that is not text) and the body. A `success` without a reply is a failure.
func exchange(_ request: SimulatedWeChat.Request, sender: String, kind: String) async -> (String, String)? {
    do {
        let (status, body) = try await post(query: request.query.parameters, body: Data(request.body.utf8))
        guard status == 200 else {
            failure("\(kind): status \(status)")
            return nil
        }
        guard let reply = try wechat.openReply(body) else {
            failure("\(kind): no reply")
            return nil
        }
        guard reply.recipient == sender else {
            failure("\(kind): a reply to \(reply.recipient), not \(sender)")
            return nil
        }
        if case .text(let text) = reply.body { return (text, body) }
        return ("", body)
    } catch {
        failure("\(kind): \(error)")
        return nil
    }
}

/// A request sent half and left.
func halfRequest() {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { return }
    defer { close(socket) }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { return }
    let head = "POST /wechat?signature=0&timestamp=1&nonce=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n<xml>"
    _ = head.withCString { send(socket, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
}

func worker(_ index: Int, until deadline: Date) async {
    let member = "oSoak\(index)-\(UInt32.random(in: 0...UInt32.max))"
    /// Requests answered in the last 15 s, which WeChat might retry, with their answers.
    var earlier: [(request: SimulatedWeChat.Request, body: String, sent: Date)] = []
    func remember(_ request: SimulatedWeChat.Request, _ body: String) {
        earlier.removeAll { Date().timeIntervalSince($0.sent) > 15 }
        if earlier.count < 50 { earlier.append((request, body, Date())) }
    }
    var number = 0
    while Date() < deadline {
        number += 1
        let roll = Int.random(in: 0..<100)
        do {
            switch roll {
            case 0..<40:
                let mode: WireMode = roll % 2 == 0 ? .plain : .safe
                let keyword = ["帮助", "热线", "福利"][roll % 3]
                let request = try signed(text(keyword, from: member), mode: mode)
                if let (_, body) = await exchange(request, sender: member, kind: "keyword") {
                    remember(request, body)
                    count("keyword")
                }
            case 40..<60:
                let request = try signed(text("建议 第\(index)-\(number)条：车间照明需要改善", from: member), mode: .plain)
                if let (reply, body) = await exchange(request, sender: member, kind: "suggestion") {
                    guard let receipt = reply.firstMatch(of: /JY-\d{4}-\d{6}/) else {
                        failure("suggestion: no receipt in \(reply.prefix(60))")
                        continue
                    }
                    tally.withLock { $0.receipts.append(String(receipt.output)) }
                    remember(request, body)
                    count("suggestion")
                }
            case 60..<75:
                guard let (request, first, sent) = earlier.randomElement(), Date().timeIntervalSince(sent) <= 15 else {
                    continue
                }
                let (status, body) = try await post(query: request.query.parameters, body: Data(request.body.utf8))
                // Safe-mode envelopes differ in their random prefix; what they carry must not.
                if status != 200 || (try? wechat.openReply(body)) != (try? wechat.openReply(first)) {
                    failure("retry: status \(status), a different answer")
                }
                count("retry")
            default:
                let request = try signed(text("帮助", from: member), mode: .plain)
                var expected = 403
                var query = request.query.parameters
                var body = Data(request.body.utf8)
                switch roll % 6 {
                case 0: query["signature"] = String(repeating: "0", count: 40)
                case 1:
                    body = Data("<xml><ToUserName>".utf8)
                    expected = 400
                case 2:
                    body = Data(
                        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml>&e;</xml>"
                            .utf8)
                    expected = 400
                case 3:
                    body = Data(repeating: UInt8(ascii: "a"), count: 70 * 1024)
                    expected = 413
                case 4:
                    let stale = try signed(
                        text("帮助", from: member), mode: .plain, timestamp: Int64(Date().timeIntervalSince1970) - 3600)
                    query = stale.query.parameters
                default:
                    halfRequest()
                    count("hostile")
                    continue
                }
                let (status, _) = try await post(query: query, body: body)
                if status != expected { failure("hostile \(roll % 6): status \(status), expected \(expected)") }
                count("hostile")
            }
        } catch {
            failure("worker: \(error)")
        }
    }
}

/// The server's resident memory (KiB) and open descriptors.
func sample() -> (rss: Int, fds: Int) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let rss =
        status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    return (rss, fds)
}

let start = Date()
let deadline = start.addingTimeInterval(seconds)
let samples = Mutex<[(rss: Int, fds: Int)]>([sample()])
let sampler = Task {
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(5))
        let current = sample()
        samples.withLock { $0.append(current) }
    }
}
await withTaskGroup(of: Void.self) { group in
    for index in 0..<16 {
        group.addTask { await worker(index, until: deadline) }
    }
}
sampler.cancel()
// Idle connections time out (scripts/soak sets 5 s), and the last half-sent requests are
// dropped: one more look once they have.
try? await Task.sleep(for: .seconds(8))
samples.withLock { $0.append(sample()) }

// Every acknowledged receipt is stored, once.
var admin = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/admin/api/suggestions")!)
admin.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization")
admin.timeoutInterval = 600
let listed = Date()
var problems: [String] = []
var stored: [String] = []
do {
    let (data, _) = try await session.data(for: admin)
    stored = ((try JSONSerialization.jsonObject(with: data)) as? [[String: Any]] ?? []).compactMap {
        $0["number"] as? String
    }
} catch {
    problems.append("the suggestions could not be listed: \(error)")
}
let listSeconds = Date().timeIntervalSince(listed)
let final = tally.withLock { $0 }
let acknowledged = Set(final.receipts)
let storedSet = Set(stored)
problems += final.failures
let lost = acknowledged.subtracting(storedSet)
if !lost.isEmpty { problems.append("\(lost.count) acknowledged suggestions are not stored, e.g. \(lost.first!)") }
if stored.count != storedSet.count { problems.append("a suggestion is stored twice") }
if acknowledged.count != final.receipts.count { problems.append("two suggestions got the same receipt") }

// Flat: after the first minute, memory and descriptors stay within bounds of where they were.
let all = samples.withLock { $0 }
let settled = Array(all.dropFirst(min(12, all.count / 3)))
let firstThird = settled.prefix(max(1, settled.count / 3))
let lastThird = settled.suffix(max(1, settled.count / 3))
let rssBefore = firstThird.map(\.rss).max() ?? 0
let rssAfter = lastThird.map(\.rss).max() ?? 0
let fdsBefore = all.first?.fds ?? 0
let fdsAfter = all.last?.fds ?? 0
if rssAfter > rssBefore + max(rssBefore / 5, 20_000) {
    problems.append("RSS grew from \(rssBefore / 1024) MB to \(rssAfter / 1024) MB")
}
if fdsAfter > fdsBefore + 4 {
    problems.append("open descriptors grew from \(fdsBefore) to \(fdsAfter) once the clients were gone")
}

let elapsed = Date().timeIntervalSince(start)
let total = final.counts.filter { $0.key != "failures" }.values.reduce(0, +)
print("soak: \(Int(elapsed)) s, \(total) exchanges (\(Int(Double(total) / elapsed))/s)")
for (kind, value) in final.counts.sorted(by: { $0.key < $1.key }) { print("  \(kind): \(value)") }
print(
    "  suggestions acknowledged \(acknowledged.count), stored \(stored.count), lost \(lost.count) (listed in \(String(format: "%.1f", listSeconds)) s)"
)
print(
    "  RSS \(all.first.map { $0.rss / 1024 } ?? 0) MB at start, \(rssBefore / 1024) MB settled, \(rssAfter / 1024) MB at the end (peak \((all.map(\.rss).max() ?? 0) / 1024) MB)"
)
print(
    "  open descriptors \(fdsBefore) at start, \(fdsAfter) once the clients were gone (peak \(all.map(\.fds).max() ?? 0) under load)"
)
if problems.isEmpty {
    print("soak: PASS — memory and descriptors flat, every reply well formed, no acknowledged record lost")
} else {
    print("soak: FAIL")
    for problem in problems.prefix(20) { print("  - \(problem)") }
    exit(1)
}
