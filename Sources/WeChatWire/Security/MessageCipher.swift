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
    private let key: CBCKey
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
        try self.init(encodingAESKey: encodingAESKey, appId: appId, implementation: .fastest)
    }

    /// A cipher whose AES runs the way given (the tests run every way this build has).
    init(encodingAESKey: String, appId: String, implementation: CBCKey.Implementation) throws {
        let keyBytes = try Self.decodeKey(encodingAESKey)
        self.key = CBCKey(keyBytes, implementation: implementation)
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
        seal(message) { RandomPool.shared.fill16($0) }
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
        return seal(messageBytes) { $0.copyBytes(from: randomPrefix) }
    }

    /// The envelope's plaintext written in one pass into one buffer, encrypted there and
    /// base64-encoded.
    private func seal(_ message: [UInt8], prefix: (UnsafeMutableRawBufferPointer) -> Void) -> String {
        let unpadded = 20 + message.count + appIdBytes.count
        let padding = Self.paddingBlock - unpadded % Self.paddingBlock
        var plain = Data(count: unpadded + padding)
        plain.withUnsafeMutableBytes { buffer in
            prefix(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<16]))
            let length = UInt32(message.count).bigEndian
            withUnsafeBytes(of: length) {
                UnsafeMutableRawBufferPointer(rebasing: buffer[16..<20]).copyMemory(from: $0)
            }
            message.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[20..<(20 + message.count)]).copyMemory(from: $0)
            }
            appIdBytes.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: buffer[(20 + message.count)..<unpadded]).copyMemory(from: $0)
            }
            buffer[unpadded...].initializeMemory(as: UInt8.self, repeating: UInt8(padding))
        }
        key.encrypt(&plain)
        return plain.base64EncodedString()
    }

    /// Decrypts an `Encrypt` value and returns the message it carries.
    ///
    /// - Throws: ``CipherError`` saying which check failed: base64, block length, padding, the
    ///   length field, UTF-8, or the app id.
    public func decrypt(_ encrypted: String) throws -> String {
        try withDecrypted(encrypted) { String(decoding: $0, as: UTF8.self) }
    }

    /// Decrypts an `Encrypt` value and hands `body` the message's UTF-8 bytes where they lie,
    /// after the same checks as ``decrypt(_:)``; the bytes are valid only inside `body`.
    public func withDecrypted<Result>(
        _ encrypted: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) throws -> Result {
        guard var data = Data(base64Encoded: encrypted) else {
            throw CipherError(.invalidBase64, "the encrypted message is not valid base64")
        }
        guard data.count >= Self.paddingBlock, data.count % 16 == 0 else {
            throw CipherError(
                .invalidLength, "the encrypted message is \(data.count) bytes, not a whole number of blocks")
        }
        key.decrypt(&data)
        return try data.withUnsafeBytes { try body(unwrap($0.assumingMemoryBound(to: UInt8.self))) }
    }

    /// The message inside decrypted bytes, read where they lie: padding, length field, app id, UTF-8.
    private func unwrap(_ plain: UnsafeBufferPointer<UInt8>) throws -> UnsafeBufferPointer<UInt8> {
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
        let message = UnsafeBufferPointer(rebasing: plain[20..<messageEnd])
        guard UTF8Validation.firstInvalidByte(in: message) == nil else {
            throw CipherError(.invalidUTF8, "the decrypted message is not valid UTF-8")
        }
        return message
    }
}
