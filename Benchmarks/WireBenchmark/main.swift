// Measures the wire protocol's cost per message. Run in release mode:
//     swift run -c release wire-benchmark
// Targets on the 2-core reference machine: under 10 µs plain, under 30 µs safe.
import WeChatWire

let token = "benchToken"
let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
let cipher = try MessageCipher(encodingAESKey: key, appId: "wxBenchUnion")
let codec = WebhookCodec(token: token, cipher: cipher)
let wechat = SimulatedWeChat(token: token, cipher: cipher)

let message = InboundMessage(
    header: MessageHeader(
        account: "gh_10f6c3c3ac5a", sender: "oyORnuP8q7ou2gfYjqLzSIWZf0rs", createTime: 1_700_000_000,
        msgId: 6_054_768_590_064_713_728),
    kind: .text(TextMessage(content: "福利")))
let reply = PassiveReply.message(
    .text("职工福利：\n1. 福利商城\n2. 职工互助保险\n3. 困难帮扶\n4. 疗休养\n回复数字查看详情，回复「帮助」查看全部服务。"))

/// Runs `body` in rounds and prints the median time per call.
func measure(_ name: String, iterations: Int, rounds: Int = 7, _ body: () throws -> Int) rethrows -> Double {
    var sink = 0
    for _ in 0..<max(iterations / 10, 1) { sink &+= try body() }  // warm up
    var perCall: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<rounds {
        let start = clock.now
        for _ in 0..<iterations { sink &+= try body() }
        let elapsed = clock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        perCall.append(nanoseconds / Double(iterations))
    }
    perCall.sort()
    let median = perCall[perCall.count / 2]
    let micro = median / 1000
    print(
        "\(name.padding(toLength: 56, withPad: " ", startingAt: 0)) \(String(format3(micro)).leftPadded(9)) µs/op   (best \(format3(perCall[0] / 1000)), \(iterations) × \(rounds))"
    )
    if sink == 42 { print("") }  // keeps the work from being optimised away
    return micro
}

func format3(_ value: Double) -> String {
    let scaled = (value * 1000).rounded() / 1000
    return String(describing: scaled)
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

// Plain mode: verify the signature, read the message, render the reply.
let plainRequest = try wechat.request(for: message, mode: .plain, timestamp: "1700000000", nonce: "1320562132")
let plainBody = Array(plainRequest.body.utf8)
// Safe mode: verify both signatures, decrypt, read, render, encrypt, sign the envelope.
let safeRequest = try wechat.request(for: message, mode: .safe, timestamp: "1700000000", nonce: "1320562132")
let safeBody = Array(safeRequest.body.utf8)

print("UnionGate wire benchmark (release build, per message)")
let plain = try measure("plain: signature + parse + render text reply", iterations: 50_000) {
    let opened = try codec.open(plainBody, query: plainRequest.query)
    return try codec.seal(
        reply, answering: opened, createTime: 1_700_000_001, timestamp: "1700000000", nonce: "1320562132"
    ).utf8.count
}
let safe = try measure("safe: signatures + decrypt + parse + render + encrypt", iterations: 20_000) {
    let opened = try codec.open(safeBody, query: safeRequest.query)
    return try codec.seal(
        reply, answering: opened, createTime: 1_700_000_001, timestamp: "1700000000", nonce: "1320562132"
    ).utf8.count
}
// Safe mode by step: where its extra cost over plain mode goes.
let safeEnvelope = try XMLReader().read(safeBody)
let encryptedText = safeEnvelope.text(of: "Encrypt") ?? ""
let innerXML = try cipher.decrypt(encryptedText)
let replyXML = reply.renderBytes(answering: message, createTime: 1_700_000_001)
_ = try measure("safe step: read the envelope", iterations: 100_000) {
    try XMLReader().read(safeBody).children.count
}
_ = measure("safe step: msg_signature over the Encrypt text", iterations: 100_000) {
    Signature.compute(token: token, timestamp: "1700000000", nonce: "1320562132", encrypted: encryptedText).utf8.count
}
_ = try measure("safe step: decrypt (base64, AES, checks)", iterations: 100_000) {
    try cipher.decrypt(encryptedText).utf8.count
}
_ = try measure("safe step: read the decrypted message", iterations: 100_000) {
    try InboundMessage(xml: XMLReader().read(innerXML)).header.createTime == 0 ? 1 : 0
}
_ = try measure("safe step: encrypt the reply (AES, base64)", iterations: 100_000) {
    try cipher.encrypt(bytes: replyXML).utf8.count
}
_ = try measure("safe step: seal (render, encrypt, sign, envelope)", iterations: 100_000) {
    try codec.sealBytes(
        reply, answering: OpenedMessage(message: message, mode: .safe), createTime: 1_700_000_001,
        timestamp: "1700000000", nonce: "1320562132"
    ).count
}
_ = try measure("parse only: text message", iterations: 100_000) {
    try InboundMessage.parse(plainBody).header.createTime == 0 ? 1 : 0
}

// Hostile documents are refused before any work proportional to what they ask for.
let xxe = Array(
    "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><Content>&xxe;</Content></xml>"
        .utf8)
var laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
for level in 1...9 {
    laughs +=
        "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level == 1 ? "" : String(level - 1));", count: 10) + "\">"
}
laughs += "]><xml><Content>&lol9;</Content></xml>"
let laughBytes = Array(laughs.utf8)
let junk = [UInt8](repeating: UInt8(ascii: "<"), count: 2 * 1024 * 1024)
let reader = XMLReader()
func refusal(_ bytes: [UInt8]) -> Int {
    do {
        _ = try reader.read(bytes)
        fatalError("a hostile document was accepted")
    } catch {
        return 1
    }
}
_ = measure("refuse: XXE file entity", iterations: 100_000) { refusal(xxe) }
_ = measure("refuse: billion laughs", iterations: 100_000) { refusal(laughBytes) }
_ = measure("refuse: 2 MiB of junk", iterations: 100_000) { refusal(junk) }

print("")
print("targets: plain < 10 µs \(plain < 10 ? "met" : "NOT met"); safe < 30 µs \(safe < 30 ? "met" : "NOT met")")
