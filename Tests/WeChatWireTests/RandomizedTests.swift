import Foundation
import Testing

@testable import WeChatWire

/// A small seeded generator, so that a failing case can be replayed from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Makes random but valid messages of every kind.
struct MessageGenerator {
    var random: SplitMix64

    static let pieces: [String] = [
        "a", "Z", "9", " ", "\n", "\t", "\r", "入会", "建议", "福利", "😀", "👨‍👩‍👧", "é", "<", ">", "&", "\"", "'", "]]>", "]",
        "]]",
        "<![CDATA[", "&amp;", "\u{7F}", "\u{85}", "&#20013;",
    ]
    /// Characters XML 1.0 forbids: the reader and the writer drop them (see `XMLCharacters`), so
    /// a message that holds them comes back without them.
    static let forbidden: [String] = ["\u{01}", "\u{1F}", "\u{0}", "\u{FFFE}"]

    mutating func string(maxPieces: Int = 8) -> String {
        let count = Int.random(in: 0...maxPieces, using: &random)
        return (0..<count).map { _ in Self.pieces.randomElement(using: &random)! }.joined()
    }

    mutating func optionalString() -> String? {
        Bool.random(using: &random) ? string() : nil
    }

    mutating func identifier(prefix: String) -> String {
        prefix + String(Int.random(in: 0...99_999, using: &random))
    }

    mutating func double() -> Double {
        Double(Int.random(in: -180_000_000...180_000_000, using: &random)) / 1_000_000
    }

    mutating func int() -> Int { Int.random(in: 0...100_000, using: &random) }

    mutating func leafFields(excluding excluded: Set<String>) -> [XMLElement] {
        let names = ["Title", "AppId", "PagePath", "ThumbMediaId", "Status", "Custom", "EventKey", "Extra"]
            .filter { !excluded.contains($0) }
        return (0..<Int.random(in: 0...4, using: &random)).map { _ in
            if Bool.random(using: &random) {
                return XMLElement(name: names.randomElement(using: &random)!, text: string())
            }
            let children = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                XMLElement(name: "item", text: string())
            }
            return XMLElement(name: "List", children: children)
        }
    }

    mutating func event() -> InboundEvent {
        switch Int.random(in: 0...15, using: &random) {
        case 0: return .subscribe(scene: optionalString(), ticket: optionalString())
        case 1: return .unsubscribe
        case 2: return .scan(scene: string(), ticket: optionalString())
        case 3: return .location(latitude: double(), longitude: double(), precision: double())
        case 4: return .click(key: string())
        case 5: return .view(url: string(), menuId: optionalString())
        case 6:
            return .scanCode(
                key: string(), scanType: string(), scanResult: string(), waitForMessage: Bool.random(using: &random))
        case 7:
            let sums = (0..<Int.random(in: 0...3, using: &random)).map { _ in identifier(prefix: "md5") }
            return .pictures(
                key: string(), source: PictureSource.allCases.randomElement(using: &random)!, count: int(),
                md5Sums: sums)
        case 8:
            return .locationSelect(
                key: string(),
                location: SelectedLocation(
                    latitude: double(), longitude: double(), scale: int(), label: string(), poiName: optionalString()))
        case 9: return .viewMiniProgram(pagePath: string(), menuId: optionalString())
        case 10:
            return .templateSendJobFinished(msgId: UInt64.random(in: 0...UInt64.max, using: &random), status: string())
        case 11:
            return .massSendJobFinished(
                msgId: UInt64(int()), status: string(),
                counts: MassSendCounts(total: int(), filtered: int(), sent: int(), failed: int()))
        case 12:
            return .subscriptionChoices(
                changed: Bool.random(using: &random),
                choices: (0..<Int.random(in: 0...3, using: &random)).map { _ in
                    SubscriptionChoice(
                        templateId: identifier(prefix: "tpl"),
                        status: Bool.random(using: &random) ? "accept" : "reject",
                        popupScene: optionalString())
                })
        case 13:
            return .subscriptionSent(
                results: (0..<Int.random(in: 0...3, using: &random)).map { _ in
                    SubscriptionSendResult(
                        templateId: identifier(prefix: "tpl"), msgId: identifier(prefix: "m"),
                        errorCode: Int.random(in: -1...50_000, using: &random), errorStatus: string())
                })
        default:
            return .unknown(
                name: identifier(prefix: "kf_event_"),
                fields: leafFields(excluding: InboundMessage.headerFields.union(["Event"])))
        }
    }

    mutating func message() -> InboundMessage {
        let kind: InboundMessage.Kind
        switch Int.random(in: 0...9, using: &random) {
        case 0: kind = .text(TextMessage(content: string(maxPieces: 40), menuOptionId: optionalString()))
        case 1: kind = .image(ImageMessage(picURL: string(), mediaId: string()))
        case 2:
            kind = .voice(
                VoiceMessage(
                    mediaId: string(), format: string(), mediaId16K: optionalString(), recognition: optionalString()))
        case 3: kind = .video(VideoMessage(mediaId: string(), thumbMediaId: string()))
        case 4: kind = .shortVideo(VideoMessage(mediaId: string(), thumbMediaId: string()))
        case 5:
            kind = .location(LocationMessage(latitude: double(), longitude: double(), scale: int(), label: string()))
        case 6: kind = .link(LinkMessage(title: string(), description: string(), url: string()))
        case 7:
            kind = .unknown(
                msgType: identifier(prefix: "newtype"), fields: leafFields(excluding: InboundMessage.headerFields))
        default: kind = .event(event())
        }
        let isEvent = if case .event = kind { true } else { false }
        let header = MessageHeader(
            account: identifier(prefix: "gh_"), sender: string(),
            createTime: Int64.random(in: 0...4_000_000_000, using: &random),
            msgId: isEvent ? nil : UInt64.random(in: 0...UInt64.max, using: &random),
            msgDataId: Bool.random(using: &random) ? identifier(prefix: "") : nil,
            idx: Bool.random(using: &random) ? identifier(prefix: "") : nil)
        return InboundMessage(header: header, kind: kind)
    }
}

/// Breaks documents in the ways a network, a bug or an attacker would.
struct Mutator {
    var random: SplitMix64

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        switch Int.random(in: 0...8, using: &random) {
        case 0:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
        case 1:  // flip bits
            for _ in 0..<Int.random(in: 1...8, using: &random) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] ^=
                    UInt8(1) << UInt8.random(in: 0...7, using: &random)
            }
        case 2:  // insert random bytes
            let insert = (0..<Int.random(in: 1...16, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            bytes.insert(contentsOf: insert, at: Int.random(in: 0...bytes.count, using: &random))
        case 3:  // duplicate a slice
            let start = Int.random(in: 0...bytes.count, using: &random)
            let end = Int.random(in: start...bytes.count, using: &random)
            bytes.insert(contentsOf: bytes[start..<end], at: Int.random(in: 0...bytes.count, using: &random))
        case 4:  // deep nesting
            let depth = Int.random(in: 1...100, using: &random)
            let open = Array(String(repeating: "<a>", count: depth).utf8)
            let close = Bool.random(using: &random) ? Array(String(repeating: "</a>", count: depth).utf8) : []
            let at = Int.random(in: 0...bytes.count, using: &random)
            bytes.insert(contentsOf: open + close, at: at)
        case 5:  // huge
            bytes = Array(repeating: bytes, count: 70_000 / max(bytes.count, 1) + 1).flatMap { $0 }
        case 6:  // pure noise
            bytes = (0..<Int.random(in: 0...512, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 7:  // markup noise
            let tokens = [
                "<", ">", "</", "/>", "&", ";", "<![CDATA[", "]]>", "<!--", "-->", "<?", "?>", "<!DOCTYPE", "&#x", "\"",
                "=",
            ]
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                let token = Array(tokens.randomElement(using: &random)!.utf8)
                bytes.insert(contentsOf: token, at: Int.random(in: 0...bytes.count, using: &random))
            }
        default:  // delete a slice
            let start = Int.random(in: 0...bytes.count, using: &random)
            let end = Int.random(in: start...bytes.count, using: &random)
            bytes.removeSubrange(start..<end)
        }
        return bytes
    }
}

@Suite("Randomized messages")
struct RandomizedTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func validMessagesSurviveRenderAndParse(seed: UInt64) throws {
        var generator = MessageGenerator(random: SplitMix64(seed: seed))
        for round in 0..<1500 {
            let message = generator.message()
            let xml = message.xml()
            let parsed = try InboundMessage.parse(xml)
            #expect(parsed == message, "seed \(seed), round \(round): \(xml)")
            if parsed != message { return }
        }
    }

    @Test(arguments: [4, 5] as [UInt64])
    func forbiddenCharactersAreDroppedOnTheWayInAndOut(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let clean = (0..<6).map { _ in MessageGenerator.pieces.randomElement(using: &random)! }
            var dirty: [String] = []
            for piece in clean {
                dirty.append(piece)
                if Bool.random(using: &random) {
                    dirty.append(MessageGenerator.forbidden.randomElement(using: &random)!)
                }
            }
            let message = InboundMessage(
                header: MessageHeader(account: "gh_a", sender: "o" + dirty.joined(), createTime: 1, msgId: 1),
                kind: .text(TextMessage(content: dirty.joined())))
            let parsed = try InboundMessage.parse(message.xml())
            #expect(parsed.header.sender == "o" + clean.joined())
            guard case .text(let text) = parsed.kind else {
                Issue.record("not a text message: \(parsed)")
                return
            }
            #expect(text.content == clean.joined())
        }
    }

    /// The check reads eight bytes at a time; it must agree with the definition scalar by scalar
    /// wherever the forbidden character falls: in a word, across two words, or in the tail.
    @Test func theWordAtATimeCheckAgreesWithTheDefinition() {
        var random = SplitMix64(seed: 21)
        let pieces: [String] = [
            "a", "Zz09+/=", "中", "\u{EF}", "\u{FEFF}", "\u{FFFD}", "\u{FFFF}", "\u{FFFE}", "\t", "\n",
        ]
        let bytePieces: [[UInt8]] = [[0x1F], [0x20], [0x00], [0x7F], [0xEF, 0xBF], [0xEF], [0xBF, 0xBE], [0x0D]]
        var found = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...24, using: &random) {
                if Int.random(in: 0..<8, using: &random) == 0 {
                    bytes += bytePieces.randomElement(using: &random)!
                } else {
                    bytes += Array(pieces.randomElement(using: &random)!.utf8)
                }
            }
            let expected = String(decoding: bytes, as: UTF8.self).unicodeScalars.contains {
                !XMLCharacters.isAllowed($0)
            }
            // Invalid UTF-8 decodes to U+FFFD, which is allowed; the check looks at the bytes.
            let bytewise = bytes.indices.contains { index in
                let byte = bytes[index]
                return (byte < 0x20 && byte != 0x9 && byte != 0xA && byte != 0xD)
                    || (byte == 0xEF && index + 2 < bytes.count && bytes[index + 1] == 0xBF && bytes[index + 2] >= 0xBE)
            }
            let actual = bytes.withUnsafeBufferPointer { XMLCharacters.containsDisallowed($0) }
            #expect(actual == bytewise, "\(bytes)")
            if String(validating: bytes, as: UTF8.self) != nil { #expect(actual == expected, "\(bytes)") }
            if actual { found += 1 }
            if actual != bytewise { return }
        }
        #expect(found > 2_000 && found < 18_000)
    }

    @Test(arguments: [11, 12, 13] as [UInt64])
    func mutatedMessagesNeverCrashTheReader(seed: UInt64) throws {
        var generator = MessageGenerator(random: SplitMix64(seed: seed))
        var mutator = Mutator(random: SplitMix64(seed: seed &* 31))
        var refused = 0
        var accepted = 0
        for _ in 0..<2500 {
            var bytes = Array(generator.message().xml().utf8)
            for _ in 0..<Int.random(in: 1...3, using: &mutator.random) {
                bytes = mutator.mutate(bytes)
            }
            do {
                let message = try InboundMessage.parse(bytes)
                // Whatever is accepted renders and reads back the same.
                #expect(try InboundMessage.parse(message.xml()) == message)
                accepted += 1
            } catch is XMLReadError {
                refused += 1
            } catch is MessageParseError {
                refused += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        #expect(refused > 0)
        #expect(accepted > 0)
    }

    @Test func mutatedCiphertextNeverCrashesTheDecryptor() throws {
        let cipher = try MessageCipher(encodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appId: "wxUnion")
        var generator = MessageGenerator(random: SplitMix64(seed: 99))
        var mutator = Mutator(random: SplitMix64(seed: 100))
        var refused = 0
        var openedChanged = 0
        for _ in 0..<3000 {
            let original = generator.message().xml()
            let encrypted = try cipher.encrypt(original)
            let mutated = mutator.mutate(Array(encrypted.utf8))
            let text = String(decoding: mutated, as: UTF8.self)
            do {
                let opened = try cipher.decrypt(text)
                // A ciphertext with the same bytes (an equivalent encoding) opens to the same
                // message. CBC has no MAC, so a changed one can open too, but only rarely: the
                // padding, the length field and the app id must all survive the change.
                if Data(base64Encoded: text) == Data(base64Encoded: encrypted) {
                    #expect(opened == original)
                } else {
                    openedChanged += 1
                }
            } catch is CipherError {
                refused += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        #expect(refused > 2000)
        #expect(openedChanged < 150, "changed ciphertexts that opened: \(openedChanged)")
    }

    @Test func randomBytesThroughTheWholeCodec() throws {
        let codec = WebhookCodec(
            token: "t",
            cipher: try MessageCipher(encodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appId: "wx"))
        var random = SplitMix64(seed: 7)
        var query = WebhookQuery([:])
        query.timestamp = "1"
        query.nonce = "2"
        query.signature = Signature.compute(token: "t", timestamp: "1", nonce: "2")
        for round in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            query.encryptType = round.isMultiple(of: 2) ? "aes" : nil
            query.msgSignature = round.isMultiple(of: 2) ? "0" : nil
            #expect(throws: (any Error).self) { try codec.open(bytes, query: query) }
        }
    }
}
