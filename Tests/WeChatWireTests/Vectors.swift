import Foundation

/// The official vectors in `../shared/vectors/wechat-crypto.json`, read from that file.
struct CryptoVectors: Decodable {
    struct SignatureVector: Decodable {
        let token: String
        let timestamp: String
        let nonce: String
        let signature: String
    }

    struct DecryptVector: Decodable {
        let name: String
        let token: String
        let encodingAESKey: String
        let appId: String
        let timestamp: String
        let nonce: String
        let msgSignature: String
        let encrypt: String
        let plaintext: String
    }

    struct EncryptVector: Decodable {
        let name: String
        let token: String?
        let encodingAESKey: String
        let appId: String
        let timestamp: String?
        let nonce: String?
        let random: String
        let plaintext: String
        let encrypt: String
        let msgSignature: String?
    }

    let signature: [SignatureVector]
    let decrypt: [DecryptVector]
    let encrypt: [EncryptVector]

    /// `UNIONGATE_SHARED_DIR` if set, otherwise `shared/` beside the repository.
    static var url: URL {
        if let shared = ProcessInfo.processInfo.environment["UNIONGATE_SHARED_DIR"] {
            return URL(fileURLWithPath: shared).appendingPathComponent("vectors/wechat-crypto.json")
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // WeChatWireTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the repository
            .deletingLastPathComponent()  // beside it
            .appendingPathComponent("shared/vectors/wechat-crypto.json")
    }

    static func load() throws -> CryptoVectors {
        try JSONDecoder().decode(CryptoVectors.self, from: Data(contentsOf: url))
    }
}
