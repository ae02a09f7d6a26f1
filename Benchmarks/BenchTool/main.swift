// Helpers for scripts/bench: writes signed webhook requests and generated rule files.
//
//     bench-tool requests MODE COUNT OUT   one request a line: "QUERY<TAB>BODY", each with a fresh MsgId
//
// The message is BENCH_KEYWORD (default 帮助; `{n}` in it becomes the request's number); it comes
// from BENCH_SENDERS distinct members (default 5000; 0 for a new member each time) named
// BENCH_SENDER_PREFIX followed by a number (default oBenchMember).
//     bench-tool rules COUNT DIR           DIR/generated.yaml with COUNT keyword rules
//
// Token, key and app id come from WECHAT_TOKEN, WECHAT_ENCODING_AES_KEY and WECHAT_APP_ID.
import Foundation
import WeChatWire

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

let environment = ProcessInfo.processInfo.environment
guard arguments.count >= 2 else { fail("usage: bench-tool requests MODE COUNT OUT | rules COUNT DIR") }

switch arguments[1] {
case "requests":
    guard arguments.count == 5, let mode = WireMode(rawValue: arguments[2]), let count = Int(arguments[3]) else {
        fail("usage: bench-tool requests plain|compatible|safe COUNT OUT")
    }
    guard let token = environment["WECHAT_TOKEN"] else { fail("WECHAT_TOKEN is not set") }
    var cipher: MessageCipher?
    if let key = environment["WECHAT_ENCODING_AES_KEY"] {
        guard let appId = environment["WECHAT_APP_ID"] else { fail("WECHAT_APP_ID is not set") }
        cipher = try MessageCipher(encodingAESKey: key, appId: appId)
    }
    let wechat = SimulatedWeChat(token: token, cipher: cipher)
    var out = ""
    out.reserveCapacity(count * 800)
    // MsgIds and nonces start at a random point, so that files written at the same moment
    // (scripts/bench writes two at a time) share neither.
    let base = UInt64.random(in: 1 << 40..<1 << 62)
    let timestamp = String(Int(Date().timeIntervalSince1970))
    let keyword = environment["BENCH_KEYWORD"] ?? "帮助"
    let senders = Int(environment["BENCH_SENDERS"] ?? "") ?? 5000
    let prefix = environment["BENCH_SENDER_PREFIX"] ?? "oBenchMember"
    for index in 0..<count {
        let message = InboundMessage(
            header: MessageHeader(
                account: "gh_bench", sender: prefix + String(senders > 0 ? index % senders : index),
                createTime: 1_700_000_000, msgId: base + UInt64(index)),
            kind: .text(TextMessage(content: keyword.replacingOccurrences(of: "{n}", with: String(index)))))
        // Signed now, with a nonce of its own: the gateway's replay check sees each as fresh
        // (scripts/bench widens its window to a day, as wrk sends the files again and again).
        let request = try wechat.request(
            for: message, mode: mode, timestamp: timestamp, nonce: String(base + UInt64(index)))
        let query = request.query.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(
            separator: "&")
        out += query + "\t" + request.body.replacingOccurrences(of: "\n", with: " ") + "\n"
    }
    try out.write(toFile: arguments[4], atomically: true, encoding: .utf8)

case "rules":
    guard arguments.count == 4, let count = Int(arguments[2]) else { fail("usage: bench-tool rules COUNT DIR") }
    var yaml = "rules:\n"
    let modes = ["exact", "contains", "prefix"]
    for index in 0..<count {
        yaml +=
            "  - { name: generated\(index), keywords: [\"生成关键词\(index)号\", \"gen\(index)x\"], match: \(modes[index % 3]), reply: \"第\(index)条\" }\n"
    }
    try yaml.write(toFile: arguments[3] + "/generated.yaml", atomically: true, encoding: .utf8)

default:
    fail("unknown command \(arguments[1])")
}
