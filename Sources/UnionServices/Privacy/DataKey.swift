import Crypto
import Foundation

/// The key that keeps members' identity data (居民身份证 numbers, phone numbers of the real-name
/// registry) encrypted at rest. It lives outside the database — in `UNIONGATE_DATA_KEY` or a key
/// file — so that a copy of the database alone does not give the numbers away.
///
/// Values are sealed with AES-256-GCM under a fresh nonce each time; a value is found again by
/// an HMAC-SHA-256 of it under a second key derived from the same one (equal values, equal
/// lookups; the lookup does not give the value back).
public struct DataKey: Sendable {
    private let sealing: SymmetricKey
    private let lookup: SymmetricKey
    /// A short value that says which key this is, kept in the store: a gateway started with
    /// another key than the one the data was sealed with refuses to start.
    public let check: String

    /// The key from 32 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw DataKeyError("a data key is 32 bytes, not \(bytes.count)") }
        let master = SymmetricKey(data: bytes)
        sealing = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master, info: Array("uniongate identity sealing".utf8), outputByteCount: 32)
        lookup = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master, info: Array("uniongate identity lookup".utf8), outputByteCount: 32)
        let code = HMAC<SHA256>.authenticationCode(for: Array("uniongate data key check".utf8), using: master)
        check = Array(code).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A fresh random key.
    public static func random() -> DataKey {
        var generator = SystemRandomNumberGenerator()
        return try! DataKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The key written as text: 64 hex digits (or 44 characters of base64).
    public init(text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, let bytes = Self.bytes(hex: trimmed) {
            try self.init(bytes: bytes)
        } else if let data = Data(base64Encoded: trimmed), data.count == 32 {
            try self.init(bytes: Array(data))
        } else {
            throw DataKeyError("a data key is 64 hex digits or 32 bytes in base64 (for example `openssl rand -hex 32`)")
        }
    }

    /// The key's file: read, or made (0600) when it does not exist yet.
    ///
    /// - Returns: the key, and whether this call made the file.
    public static func file(at path: String) throws -> (key: DataKey, created: Bool) {
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw DataKeyError("the data key file \(path) cannot be read: \(error.localizedDescription)")
            }
            do {
                return (try DataKey(text: text), false)
            } catch let error as DataKeyError {
                throw DataKeyError("the data key file \(path): \(error.message)")
            }
        }
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = bytes.map { String(format: "%02x", $0) }.joined() + "\n"
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw DataKeyError("the data key file \(path) cannot be written") }
        return (try DataKey(bytes: bytes), true)
    }

    /// `text` sealed: base64 of nonce, ciphertext and tag.
    public func seal(_ text: String) throws -> String {
        let box = try AES.GCM.seal(Array(text.utf8), using: sealing)
        guard let combined = box.combined else { throw DataKeyError("sealing failed") }
        return combined.base64EncodedString()
    }

    /// What `sealed` holds; an error when it was sealed with another key or damaged.
    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw DataKeyError("a sealed value is not base64") }
        let box = try AES.GCM.SealedBox(combined: data)
        return String(decoding: try AES.GCM.open(box, using: sealing), as: UTF8.self)
    }

    /// The value's lookup: equal for equal values, and nothing else.
    public func lookup(_ text: String) -> String {
        MemberAccess.hex(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: lookup))
    }

    static func bytes(hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// A data key that cannot be used, in words for the operator.
public struct DataKeyError: Error, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension DataKey {
    /// The setting that records which key sealed the store's identity data.
    static let checkSetting = "data_key_check"

    /// The gateway's data key: `configured` (`UNIONGATE_DATA_KEY`), else the key file (`file`,
    /// by default `<sqlite file>.key` beside the database, or `uniongate-<database>.key` in the
    /// working directory for PostgreSQL; made the first time), else for a store in memory a
    /// throwaway key. The store remembers which key it was first used with, and refuses another.
    ///
    /// - Returns: the key, and the key file's path when this call made it (to announce).
    public static func resolve(configured: String?, file: String?, for store: UnionStore) async throws
        -> (key: DataKey, madeFile: String?)
    {
        var made: String?
        let key: DataKey
        if let configured, !configured.isEmpty {
            do {
                key = try DataKey(text: configured)
            } catch let error as DataKeyError {
                throw DataKeyError("UNIONGATE_DATA_KEY: \(error.message)")
            }
        } else if let path = file ?? defaultFile(for: store.location) {
            let loaded = try DataKey.file(at: path)
            key = loaded.key
            if loaded.created { made = path }
        } else {
            key = DataKey.random()
        }
        let stored = try await store.settingInsertingIfAbsent(checkSetting, value: key.check)
        guard stored.value == key.check else {
            if let made { try? FileManager.default.removeItem(atPath: made) }
            throw DataKeyError(
                "the data key is not the one this database's identity data was sealed with; give the gateway the "
                    + "same key (UNIONGATE_DATA_KEY, or the key file of the first start) on every instance")
        }
        return (key, made)
    }

    /// Where the key file is by default; nil for a store in memory.
    static func defaultFile(for location: DatabaseLocation) -> String? {
        switch location {
        case .sqlite(":memory:"): nil
        case .sqlite(let path): path + ".key"
        case .postgres(let postgres):
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .appendingPathComponent("uniongate-\(postgres.database).key").path
        }
    }
}
