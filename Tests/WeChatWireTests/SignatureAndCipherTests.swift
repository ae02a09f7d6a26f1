import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import WeChatWire

@Suite("Signatures and the AES envelope")
struct SignatureAndCipherTests {
    @Test func officialVectorsAreThere() throws {
        let vectors = try CryptoVectors.load()
        #expect(vectors.signature.count >= 2)
        #expect(vectors.decrypt.count >= 1)
        #expect(vectors.encrypt.count >= 2)
    }

    @Test func plainSignaturesMatchTheVectors() throws {
        for vector in try CryptoVectors.load().signature {
            let computed = Signature.compute(token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce)
            #expect(computed == vector.signature)
            #expect(Signature.matches(vector.signature, computed))
            // Exact lowercase hex, as WeChat sends it: the same digest in capitals is refused.
            #expect(!Signature.matches(vector.signature.uppercased(), computed))
        }
    }

    /// Every way this build runs AES (BoringSSL directly, and swift-crypto's `AES._CBC`): both
    /// are compiled on Linux, so a swift-crypto release without the BoringSSL module cannot
    /// break the build unnoticed, and both must pass the vectors.
    @Test func bothAESWaysAreBuiltHere() {
        #if os(Linux)
            #expect(CBCKey.Implementation.available == [.boringSSL, .swiftCrypto])
            #expect(CBCKey.Implementation.fastest == .boringSSL)
        #endif
    }

    @Test(arguments: CBCKey.Implementation.available)
    func decryptVectorsOpen(_ implementation: CBCKey.Implementation) throws {
        for vector in try CryptoVectors.load().decrypt {
            let signature = Signature.compute(
                token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce, encrypted: vector.encrypt)
            #expect(signature == vector.msgSignature, "\(vector.name)")
            let cipher = try MessageCipher(
                encodingAESKey: vector.encodingAESKey, appId: vector.appId, implementation: implementation)
            #expect(try cipher.decrypt(vector.encrypt) == vector.plaintext, "\(vector.name)")
            let message = try InboundMessage.parse(vector.plaintext)
            #expect(message.kind == .text(TextMessage(content: "abcdteT")))
        }
    }

    @Test(arguments: CBCKey.Implementation.available)
    func encryptVectorsMatchByteForByte(_ implementation: CBCKey.Implementation) throws {
        for vector in try CryptoVectors.load().encrypt {
            let cipher = try MessageCipher(
                encodingAESKey: vector.encodingAESKey, appId: vector.appId, implementation: implementation)
            let encrypted = try cipher.encrypt(vector.plaintext, randomPrefix: Array(vector.random.utf8))
            #expect(encrypted == vector.encrypt, "\(vector.name)")
            #expect(try cipher.decrypt(vector.encrypt) == vector.plaintext, "\(vector.name)")
            if let token = vector.token, let timestamp = vector.timestamp, let nonce = vector.nonce,
                let expected = vector.msgSignature
            {
                let signature = Signature.compute(
                    token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted)
                #expect(signature == expected, "\(vector.name)")
            }
        }
    }

    @Test func signaturesSortPartsBytewise() {
        // Bytewise: "1" (0x31) < "B" (0x42) < "a" (0x61); a case-insensitive sort would put "a" first.
        let expected = Insecure.SHA1.hash(data: Array("1Ba".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(Signature.compute(["a", "B", "1"]) == expected)
    }

    /// The request signature's own check (no array, no hex string) agrees with computing the
    /// signature the general way and comparing it, for every order of the three parts and for wrong
    /// candidates.
    @Test func theRequestSignatureCheckAgreesWithComputingIt() throws {
        for vector in try CryptoVectors.load().signature {
            #expect(
                Signature.matches(
                    vector.signature, token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce))
            #expect(
                !Signature.matches(
                    vector.signature.uppercased(), token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce
                ))
        }
        var random = SplitMix64(seed: 7)
        let pieces = ["", "a", "B", "1", "ab", "a1", "1700000000", "中文", "token", "Token", "aa"]
        for _ in 0..<3_000 {
            let (token, timestamp, nonce) = (
                pieces.randomElement(using: &random)!, pieces.randomElement(using: &random)!,
                pieces.randomElement(using: &random)!
            )
            let right = Signature.compute([token, timestamp, nonce])  // the general way: an array, sorted
            #expect(Signature.compute(token: token, timestamp: timestamp, nonce: nonce) == right)
            #expect(Signature.matches(right, token: token, timestamp: timestamp, nonce: nonce))
            var wrong = Array(right.utf8)
            let index = Int.random(in: 0..<wrong.count, using: &random)
            wrong[index] = wrong[index] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
            #expect(
                !Signature.matches(
                    String(decoding: wrong, as: UTF8.self), token: token, timestamp: timestamp, nonce: nonce))
            #expect(!Signature.matches(String(right.dropLast()), token: token, timestamp: timestamp, nonce: nonce))

            // The message signature: four parts, sorted in place by a network of exchanges.
            let encrypted = pieces.randomElement(using: &random)!
            let whole = Signature.compute([token, timestamp, nonce, encrypted])
            #expect(Signature.compute(token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted) == whole)
            #expect(Signature.matches(whole, token: token, timestamp: timestamp, nonce: nonce, encrypted: encrypted))
            var changed = Array(whole.utf8)
            let at = Int.random(in: 0..<changed.count, using: &random)
            changed[at] = changed[at] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            #expect(
                !Signature.matches(
                    String(decoding: changed, as: UTF8.self), token: token, timestamp: timestamp, nonce: nonce,
                    encrypted: encrypted))
            #expect(
                !Signature.matches(
                    whole.uppercased() == whole ? whole + "0" : whole.uppercased(), token: token, timestamp: timestamp,
                    nonce: nonce, encrypted: encrypted))
        }
    }

    @Test func matchingRefusesDifferentLengthsAndContents() {
        #expect(!Signature.matches("abc", "abcd"))
        #expect(!Signature.matches("abd", "abc"))
        #expect(!Signature.matches("", "a"))
        #expect(Signature.matches("", ""))
    }

    let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

    func cipherCode(_ body: () throws -> Void) -> CipherError.Code? {
        do {
            try body()
            return nil
        } catch let error as CipherError {
            return error.code
        } catch {
            return nil
        }
    }

    /// Encrypts raw plaintext bytes with the account's key, for envelopes a correct sender never makes.
    func rawEncrypt(_ plain: [UInt8]) throws -> String {
        let keyBytes = try MessageCipher.decodeKey(key)
        return try AES._CBC.encrypt(
            plain, using: SymmetricKey(data: keyBytes), iv: AES._CBC.IV(ivBytes: keyBytes[0..<16]), noPadding: true
        ).base64EncodedString()
    }

    @Test func decodesTheKeyLenientlyAndRefusesBadKeys() throws {
        // "G" carries spare bits; "E" (same top four bits, spare bits clear) gives the same key.
        let lenient = try MessageCipher.decodeKey(key)
        let strict = try MessageCipher.decodeKey(String(key.dropLast()) + "E")
        #expect(lenient == strict)
        #expect(lenient.count == 32)
        #expect(cipherCode { _ = try MessageCipher(encodingAESKey: "short", appId: "wx") } == .invalidKey)
        #expect(
            cipherCode { _ = try MessageCipher(encodingAESKey: String(key.dropLast()) + "!", appId: "wx") }
                == .invalidKey)
        #expect(cipherCode { _ = try MessageCipher(encodingAESKey: key + "=", appId: "wx") } == .invalidKey)
    }

    @Test func refusesEachKindOfBrokenEnvelope() throws {
        let cipher = try MessageCipher(encodingAESKey: key, appId: "wxUnion")
        #expect(cipherCode { _ = try cipher.decrypt("not base64!!") } == .invalidBase64)
        #expect(cipherCode { _ = try cipher.decrypt(Data(count: 20).base64EncodedString()) } == .invalidLength)
        #expect(cipherCode { _ = try cipher.decrypt(Data(count: 16).base64EncodedString()) } == .invalidLength)

        // Padding byte 0 and 33 are both invalid for WeChat's 32-byte padding.
        var zeroPad = [UInt8](repeating: 7, count: 64)
        zeroPad[63] = 0
        #expect(cipherCode { _ = try cipher.decrypt(try rawEncrypt(zeroPad)) } == .invalidPadding)
        var inconsistent = [UInt8](repeating: 7, count: 64)
        inconsistent[63] = 4
        inconsistent[62] = 4
        inconsistent[61] = 9
        #expect(cipherCode { _ = try cipher.decrypt(try rawEncrypt(inconsistent)) } == .invalidPadding)

        // A length field that claims more than the buffer holds.
        var plain = [UInt8](repeating: 0x41, count: 16) + [0xFF, 0xFF, 0xFF, 0xF0] + Array("<xml/>wxUnion".utf8)
        let pad = 32 - plain.count % 32
        plain += [UInt8](repeating: UInt8(pad), count: pad)
        #expect(cipherCode { _ = try cipher.decrypt(try rawEncrypt(plain)) } == .invalidLengthField)

        // A message encrypted for another app.
        let other = try MessageCipher(encodingAESKey: key, appId: "wxOther")
        #expect(cipherCode { _ = try cipher.decrypt(try other.encrypt("<xml/>")) } == .appIdMismatch)

        // Invalid UTF-8 inside.
        var badText = [UInt8](repeating: 0x41, count: 16) + [0, 0, 0, 2] + [0xFF, 0xFE] + Array("wxUnion".utf8)
        let badPad = 32 - badText.count % 32
        badText += [UInt8](repeating: UInt8(badPad), count: badPad)
        #expect(cipherCode { _ = try cipher.decrypt(try rawEncrypt(badText)) } == .invalidUTF8)

        #expect(cipherCode { _ = try cipher.encrypt("x", randomPrefix: [1, 2, 3]) } == .invalidRandomPrefix)
    }

    @Test func encryptsWithFreshRandomnessEachTime() throws {
        let cipher = try MessageCipher(encodingAESKey: key, appId: "wxUnion")
        let first = try cipher.encrypt("你好，工会")
        let second = try cipher.encrypt("你好，工会")
        #expect(first != second)
        #expect(try cipher.decrypt(first) == "你好，工会")
        #expect(try cipher.decrypt(second) == "你好，工会")
        // Every length pads to a multiple of 32 bytes and opens again.
        for length in 0..<70 {
            let text = String(repeating: "x", count: length)
            let encrypted = try cipher.encrypt(text)
            #expect(Data(base64Encoded: encrypted)!.count % 32 == 0)
            #expect(try cipher.decrypt(encrypted) == text)
        }
    }

    /// The cipher runs BoringSSL's CBC with keys expanded once; swift-crypto's `AES._CBC` is the
    /// reference, in both directions, for every padded length up to several blocks.
    @Test(arguments: CBCKey.Implementation.available)
    func agreesWithSwiftCryptoInBothDirections(_ implementation: CBCKey.Implementation) throws {
        let cipher = try MessageCipher(encodingAESKey: key, appId: "wxUnion", implementation: implementation)
        let prefix = Array("0123456789abcdef".utf8)
        for length in 0..<200 {
            let text = String((0..<length).map { Character(UnicodeScalar(0x61 + ($0 * 7 + length) % 26)!) })
            let message = Array(text.utf8)
            var plain = prefix + [0, 0, UInt8(length >> 8), UInt8(length & 0xFF)] + message + Array("wxUnion".utf8)
            let pad = 32 - plain.count % 32
            plain += [UInt8](repeating: UInt8(pad), count: pad)
            let reference = try rawEncrypt(plain)
            #expect(try cipher.encrypt(text, randomPrefix: prefix) == reference)
            #expect(try cipher.decrypt(reference) == text)
            #expect(try cipher.withDecrypted(reference) { Array($0) } == message)
        }
    }

    @Test func randomPrefixesDoNotRepeat() throws {
        let encodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        let cipher = try MessageCipher(encodingAESKey: encodingAESKey, appId: "wxPrefix")
        let keyBytes = try #require(Data(base64Encoded: encodingAESKey + "="))
        let key = SymmetricKey(data: keyBytes)
        let iv = try AES._CBC.IV(ivBytes: Array(keyBytes.prefix(16)))
        // The first 16 bytes of each decrypted envelope are its random prefix.
        let prefixes = try (0..<600).map { _ in
            let envelope = try #require(Data(base64Encoded: try cipher.encrypt("同一条消息")))
            return Array(try AES._CBC.decrypt(envelope, using: key, iv: iv, noPadding: true).prefix(16))
        }
        #expect(Set(prefixes).count == prefixes.count)
    }
}
