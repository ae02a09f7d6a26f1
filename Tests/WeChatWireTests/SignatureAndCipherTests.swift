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

    @Test func ourSHA1MatchesSwiftCryptoAtEveryLengthAroundTheBlocks() {
        // Lengths 0…300 cover empty input, every padding case (55, 56, 63, 64 bytes into a
        // block) and several blocks; fed whole and in uneven pieces.
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let expected = Array(Insecure.SHA1.hash(data: bytes))
            var whole = SHA1()
            bytes.withUnsafeBufferPointer { whole.update($0) }
            #expect(whole.finalize() == expected, "length \(length)")
            var pieces = SHA1()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + start % 37)
                bytes[start..<end].withUnsafeBufferPointer { pieces.update($0) }
                start = end
            }
            #expect(pieces.finalize() == expected, "length \(length) in pieces")
        }
        var known = SHA1()
        known.update("abc")
        #expect(Signature.hex(known.finalize()) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test func plainSignaturesMatchTheVectors() throws {
        for vector in try CryptoVectors.load().signature {
            let computed = Signature.compute(token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce)
            #expect(computed == vector.signature)
            #expect(Signature.matches(vector.signature, computed))
            #expect(Signature.matches(vector.signature.uppercased(), computed))
        }
    }

    @Test func decryptVectorsOpen() throws {
        for vector in try CryptoVectors.load().decrypt {
            let signature = Signature.compute(
                token: vector.token, timestamp: vector.timestamp, nonce: vector.nonce, encrypted: vector.encrypt)
            #expect(signature == vector.msgSignature, "\(vector.name)")
            let cipher = try MessageCipher(encodingAESKey: vector.encodingAESKey, appId: vector.appId)
            #expect(try cipher.decrypt(vector.encrypt) == vector.plaintext, "\(vector.name)")
            let message = try InboundMessage.parse(vector.plaintext)
            #expect(message.kind == .text(TextMessage(content: "abcdteT")))
        }
    }

    @Test func encryptVectorsMatchByteForByte() throws {
        for vector in try CryptoVectors.load().encrypt {
            let cipher = try MessageCipher(encodingAESKey: vector.encodingAESKey, appId: vector.appId)
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

    @Test func base64MatchesFoundationForEveryLength() {
        var random = SplitMix64(seed: 64)
        for length in 0..<200 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(Base64.encode(bytes) == Data(bytes).base64EncodedString(), "length \(length)")
        }
    }

    @Test func randomPrefixesDoNotRepeat() {
        let prefixes = (0..<600).map { _ in RandomPool.take(16) }  // more than one refill
        #expect(Set(prefixes).count == prefixes.count)
        #expect(prefixes.allSatisfy { $0.count == 16 })
    }
}
