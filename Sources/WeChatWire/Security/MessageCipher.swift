import Crypto
import _CryptoExtras

#if canImport(Glibc)
    import Glibc
#endif

import struct Foundation.Data

/// Why an encrypted message could not be opened, or a key could not be used.
public struct CipherError: Error, Hashable, CustomStringConvertible {
    /// What kind of problem was found.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The EncodingAESKey is not 43 base64 characters.
        public static let invalidKey = Code("invalidKey")
        /// The encrypted text is not valid base64.
        public static let invalidBase64 = Code("invalidBase64")
        /// The ciphertext is not a whole number of AES blocks, or too short to hold the envelope.
        public static let invalidLength = Code("invalidLength")
        /// The PKCS#7 padding after decryption is not valid.
        public static let invalidPadding = Code("invalidPadding")
        /// The message length field does not fit the decrypted bytes.
        public static let invalidLengthField = Code("invalidLengthField")
        /// The message is not valid UTF-8.
        public static let invalidUTF8 = Code("invalidUTF8")
        /// The message was encrypted for another app id.
        public static let appIdMismatch = Code("appIdMismatch")
        /// The random prefix given for encryption is not 16 bytes.
        public static let invalidRandomPrefix = Code("invalidRandomPrefix")
    }

    /// What kind of problem was found.
    public let code: Code
    /// A sentence that says what was wrong.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// The AES-256-CBC envelope of WeChat's compatible and safe modes.
///
/// Plaintext is 16 random bytes, the message length as a big-endian UInt32, the message in
/// UTF-8 and the app id, padded with PKCS#7 to a multiple of 32 bytes, then base64-encoded.
/// The key is the EncodingAESKey decoded from base64; the IV is the key's first 16 bytes.
public struct MessageCipher: Sendable {
    /// The app id messages are encrypted for, checked on every decryption.
    public let appId: String
    private let key: SymmetricKey
    private let iv: AES._CBC.IV
    private let appIdBytes: [UInt8]

    /// WeChat pads to this block size, not AES's 16.
    static let paddingBlock = 32

    /// Creates a cipher from the account's 43-character EncodingAESKey and its app id.
    ///
    /// The key's last character carries two spare bits that WeChat's console does not clear,
    /// so they are ignored rather than refused.
    ///
    /// - Throws: ``CipherError`` with code ``CipherError/Code/invalidKey``.
    public init(encodingAESKey: String, appId: String) throws {
        let keyBytes = try Self.decodeKey(encodingAESKey)
        self.key = SymmetricKey(data: keyBytes)
        self.iv = try AES._CBC.IV(ivBytes: keyBytes[0..<16])
        self.appId = appId
        self.appIdBytes = Array(appId.utf8)
    }

    static func decodeKey(_ encodingAESKey: String) throws -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var characters = Array(encodingAESKey.utf8)
        guard characters.count == 43,
            let lastIndex = alphabet.firstIndex(of: characters[42]),
            characters.allSatisfy(alphabet.contains)
        else {
            throw CipherError(.invalidKey, "the EncodingAESKey must be 43 characters of A–Z, a–z, 0–9, + and /")
        }
        // 43 characters carry 258 bits for 256: clear the last character's two spare bits.
        characters[42] = alphabet[lastIndex & ~0b11]
        characters.append(UInt8(ascii: "="))
        guard let data = Data(base64Encoded: Data(characters)), data.count == 32 else {
            throw CipherError(.invalidKey, "the EncodingAESKey does not decode to 32 bytes")
        }
        return [UInt8](data)
    }

    /// Encrypts `message` with 16 fresh random bytes in front.
    public func encrypt(_ message: String) throws -> String {
        try encrypt(bytes: Array(message.utf8))
    }

    /// Encrypts a message given as UTF-8 bytes, with a fresh random prefix.
    public func encrypt(bytes message: [UInt8]) throws -> String {
        try encrypt(bytes: message, randomPrefix: Self.randomPrefix())
    }

    /// 16 bytes from the system's random source, in one call where the system allows it
    /// (`getentropy`); `SystemRandomNumberGenerator` takes one call per 8 bytes.
    /// wire-benchmark, same run: two `next()` 0.87 µs, one `getentropy` of 16 bytes 0.45 µs.
    static func randomPrefix() -> [UInt8] {
        #if canImport(Glibc)
            let bytes = [UInt8](unsafeUninitializedCapacity: 16) { buffer, count in
                count = getentropy(buffer.baseAddress, 16) == 0 ? 16 : 0
            }
            if bytes.count == 16 { return bytes }
        #endif
        var generator = SystemRandomNumberGenerator()
        return withUnsafeBytes(of: (generator.next() as UInt64, generator.next() as UInt64)) { Array($0) }
    }

    /// Encrypts `message` with the given 16 bytes in front (for reproducible tests).
    ///
    /// - Throws: ``CipherError`` when `randomPrefix` is not 16 bytes.
    public func encrypt(_ message: String, randomPrefix: [UInt8]) throws -> String {
        try encrypt(bytes: Array(message.utf8), randomPrefix: randomPrefix)
    }

    private func encrypt(bytes messageBytes: [UInt8], randomPrefix: [UInt8]) throws -> String {
        guard randomPrefix.count == 16 else {
            throw CipherError(.invalidRandomPrefix, "the random prefix must be 16 bytes")
        }
        var plain: [UInt8] = []
        let unpadded = 20 + messageBytes.count + appIdBytes.count
        let padding = Self.paddingBlock - unpadded % Self.paddingBlock
        plain.reserveCapacity(unpadded + padding)
        plain.append(contentsOf: randomPrefix)
        let length = UInt32(messageBytes.count)
        plain.append(contentsOf: [
            UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF),
        ])
        plain.append(contentsOf: messageBytes)
        plain.append(contentsOf: appIdBytes)
        plain.append(contentsOf: repeatElement(UInt8(padding), count: padding))
        let encrypted = try AES._CBC.encrypt(plain, using: key, iv: iv, noPadding: true)
        return encrypted.base64EncodedString()
    }

    /// Decrypts an `Encrypt` value and returns the message it carries.
    ///
    /// - Throws: ``CipherError`` saying which check failed: base64, block length, padding, the
    ///   length field, UTF-8, or the app id.
    public func decrypt(_ encrypted: String) throws -> String {
        guard let data = Data(base64Encoded: encrypted) else {
            throw CipherError(.invalidBase64, "the encrypted message is not valid base64")
        }
        guard data.count >= Self.paddingBlock, data.count % 16 == 0 else {
            throw CipherError(
                .invalidLength, "the encrypted message is \(data.count) bytes, not a whole number of blocks")
        }
        let decrypted = try AES._CBC.decrypt(data, using: key, iv: iv, noPadding: true)
        return try decrypted.withUnsafeBytes { try unwrap($0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// The message inside decrypted bytes, read where they lie: padding, length field, app id, UTF-8.
    private func unwrap(_ plain: UnsafeBufferPointer<UInt8>) throws -> String {
        let padding = Int(plain[plain.count - 1])
        guard padding >= 1, padding <= Self.paddingBlock, padding <= plain.count,
            plain[(plain.count - padding)...].allSatisfy({ $0 == UInt8(padding) })
        else {
            throw CipherError(.invalidPadding, "the decrypted message has invalid padding")
        }
        let content = plain.count - padding
        guard content >= 20 else {
            throw CipherError(.invalidLengthField, "the decrypted message is too short for its header")
        }
        let length = Int(plain[16]) << 24 | Int(plain[17]) << 16 | Int(plain[18]) << 8 | Int(plain[19])
        guard length <= content - 20 else {
            throw CipherError(.invalidLengthField, "the length field (\(length)) is larger than the message")
        }
        let messageEnd = 20 + length
        guard plain[messageEnd..<content].elementsEqual(appIdBytes) else {
            throw CipherError(.appIdMismatch, "the message was encrypted for another app id")
        }
        guard let message = String(validating: plain[20..<messageEnd], as: UTF8.self) else {
            throw CipherError(.invalidUTF8, "the decrypted message is not valid UTF-8")
        }
        return message
    }
}
