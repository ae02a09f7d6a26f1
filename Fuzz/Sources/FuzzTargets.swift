import Foundation
import ReplyRules
import UnionServices
import WeChatWire

/// The fuzz targets. Each takes bytes, must never crash, and checks what must hold for any
/// input (a parsed message renders and parses back to itself; a stored form answer passes its
/// field's validation). A broken promise is a `fatalError` (its message is kept in release
/// builds), which the fuzzer reports as a crash and saves the input that caused it.
enum FuzzTargets {
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError(message()) }
    }

    static let names = ["xml", "codec", "rules", "form"]

    static func run(_ name: String, _ bytes: [UInt8]) {
        switch name {
        case "xml": xml(bytes)
        case "codec": codec(bytes)
        case "rules": rules(bytes)
        case "form": form(bytes)
        default: fatalError("no fuzz target \(name); the targets are \(names)")
        }
    }

    // MARK: The XML reader and the message parser

    static func xml(_ bytes: [UInt8]) {
        _ = try? XMLReader().read(bytes)
        guard let message = try? InboundMessage.parse(bytes) else { return }
        guard let again = try? InboundMessage.parse(message.xml()) else {
            fatalError("a parsed message did not parse again after rendering: \(message)")
        }
        check(again == message, "a message changed through render and parse: \(message) → \(again)")
    }

    // MARK: The webhook codec in all three modes

    static let token = "fuzzToken"
    static let cipher = try! MessageCipher(
        encodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appId: "wxFuzz")
    static let codecWithKey = WebhookCodec(token: token, cipher: cipher)

    /// The first byte picks how the rest arrives: a plain body, a compatible-mode body, an
    /// `Encrypt` field WeChat might have sent (signed), or a message sealed properly around the
    /// rest (so the decrypted XML is what is fuzzed).
    static func codec(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let rest = Array(bytes.dropFirst())
        var query = WebhookQuery()
        query.timestamp = "1700000000"
        query.nonce = "fuzz"
        query.signature = Signature.compute(token: token, timestamp: "1700000000", nonce: "fuzz")
        switch first % 4 {
        case 0:
            _ = try? codecWithKey.open(rest, query: query)
        case 1:
            query.encryptType = "aes"
            query.msgSignature = String(decoding: rest.prefix(40), as: UTF8.self)
            _ = try? codecWithKey.open(rest, query: query)
        case 2:
            let encrypted = String(decoding: rest, as: UTF8.self)
            query.encryptType = "aes"
            query.msgSignature = Signature.compute(
                token: token, timestamp: "1700000000", nonce: "fuzz", encrypted: encrypted)
            let body =
                "<xml><ToUserName><![CDATA[gh_fuzz]]></ToUserName><Encrypt><![CDATA[\(encrypted)]]></Encrypt></xml>"
            _ = try? codecWithKey.open(Array(body.utf8), query: query)
        default:
            guard let encrypted = try? cipher.encrypt(bytes: rest) else { return }
            query.encryptType = "aes"
            query.msgSignature = Signature.compute(
                token: token, timestamp: "1700000000", nonce: "fuzz", encrypted: encrypted)
            let body =
                "<xml><ToUserName><![CDATA[gh_fuzz]]></ToUserName><Encrypt><![CDATA[\(encrypted)]]></Encrypt></xml>"
            let opened = try? codecWithKey.open(Array(body.utf8), query: query)
            // What parses on its own must open the same when sealed properly.
            if let direct = try? InboundMessage.parse(rest) {
                check(opened?.message == direct, "a sealed message opened differently from its XML")
            }
        }
    }

    // MARK: The rule loader

    static func rules(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let book = try? RuleBookLoader().load(files: [("fuzz.yaml", text)]) else { return }
        let engine = RuleEngine(book: book)
        let context = MatchContext(unixTime: 1_795_363_200)
        for content in ["帮助", "入会", "热线", String(text.prefix(40))] {
            let message = InboundMessage(
                header: MessageHeader(account: "gh", sender: "oFuzz", createTime: 1, msgId: 1),
                kind: .text(TextMessage(content: content)))
            _ = engine.decide(message, context: context)
        }
    }

    // MARK: The form conversation

    static let formBook = try! RuleBookLoader().load(files: [
        (
            "forms.yaml",
            """
            forms:
              - name: 全类型
                title: 每种问题
                keywords: [全类型]
                prefix: QT
                fields:
                  - { key: name, label: 姓名, type: text, min: 2, max: 20 }
                  - { key: phone, label: 手机号, type: phone }
                  - { key: people, label: 人数, type: number, min: 1, max: 5 }
                  - { key: date, label: 日期, type: date }
                  - { key: kind, label: 类型, type: choice, choices: [劳动合同, 工资报酬, 其他] }
                  - { key: note, label: 备注, type: text, min: 0, max: 50, optional: true }
                done: 已收到，编号 {number}。
            """
        )
    ])

    /// Lines of the input are a member's answers, one after another.
    static func form(_ bytes: [UInt8]) {
        guard let definition = formBook.forms["全类型"] else { fatalError("the fuzz form did not load") }
        let conversation = FormConversation(form: definition)
        guard case .ask(var progress, _) = conversation.start(at: 1) else { fatalError("no first question") }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            switch conversation.respond(to: String(line), progress: progress, at: 2) {
            case .ask(let next, let reply):
                check(!reply.isEmpty, "an empty question")
                check(next.step >= 0 && next.step <= definition.fields.count, "step \(next.step) out of range")
                progress = next
            case .cancelled:
                return
            case .submit(let answers):
                for field in definition.fields {
                    guard let answer = answers[field.key] else {
                        check(field.optional, "the required answer \(field.key) is missing")
                        continue
                    }
                    if field.optional, answer.isEmpty || answer == "无" { continue }
                    // A stored answer is already in its stored form: checking it again keeps it.
                    guard case .success(let again) = FormAnswer.validate(answer, for: field), again == answer else {
                        fatalError("a stored answer is not its own stored form: \(field.key) = \(answer)")
                    }
                }
                return
            }
        }
    }
}
