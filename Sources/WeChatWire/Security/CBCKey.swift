import Crypto
import _CryptoExtras

import struct Foundation.Data

#if canImport(CCryptoBoringSSL)
    import CCryptoBoringSSL
#endif

/// AES-256-CBC with a fixed key and IV, in place over whole blocks, for ``MessageCipher``.
///
/// Two ways, both compiled and both run against the official vectors in every test run:
/// - `.boringSSL`, where swift-crypto's BoringSSL module is there (Linux): BoringSSL's
///   `AES_cbc_encrypt` called directly, with the keys expanded once. `CCryptoBoringSSL` is not
///   a product swift-crypto publishes; it is used because swift-crypto's own `AES._CBC` costs
///   more than the cipher: every call expands the key again, copies the input into a new
///   `Data`, allocates the output and crosses unspecialized generics. Measured (`wire-benchmark`,
///   release, this machine): 0.43 µs a call for a single block and 0.80 µs for a 480-byte reply,
///   against 0.48 µs for the same 480 bytes with the key expanded once; a safe-mode message
///   takes one of each (safe 帮助 through the server +10–17 %).
/// - `.swiftCrypto`: swift-crypto's `AES._CBC` (`_CryptoExtras`), where that module is absent
///   (Apple platforms, or a swift-crypto release that drops or renames it): the build does not
///   break, it is only slower.
final class CBCKey: Sendable {
    enum Implementation: Sendable, CaseIterable {
        case boringSSL
        case swiftCrypto

        /// The fastest one this build has.
        static var fastest: Implementation {
            #if canImport(CCryptoBoringSSL)
                .boringSSL
            #else
                .swiftCrypto
            #endif
        }

        /// The ones this build has.
        static var available: [Implementation] {
            #if canImport(CCryptoBoringSSL)
                [.boringSSL, .swiftCrypto]
            #else
                [.swiftCrypto]
            #endif
        }
    }

    private enum Keys: Sendable {
        #if canImport(CCryptoBoringSSL)
            case boringSSL(encryption: AES_KEY, decryption: AES_KEY)
        #endif
        case swiftCrypto(SymmetricKey)
    }

    let implementation: Implementation
    private let keys: Keys
    private let iv: (UInt64, UInt64)

    /// - Parameter key: 32 bytes; the IV is their first 16.
    /// - Parameter implementation: one of ``Implementation/available``.
    init(_ key: [UInt8], implementation: Implementation = .fastest) {
        precondition(key.count == 32)
        iv = key.withUnsafeBytes {
            ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        self.implementation = implementation
        switch implementation {
        case .boringSSL:
            #if canImport(CCryptoBoringSSL)
                var encryption = AES_KEY()
                var decryption = AES_KEY()
                precondition(CCryptoBoringSSL_AES_set_encrypt_key(key, 256, &encryption) == 0)
                precondition(CCryptoBoringSSL_AES_set_decrypt_key(key, 256, &decryption) == 0)
                keys = .boringSSL(encryption: encryption, decryption: decryption)
            #else
                preconditionFailure("this build has no BoringSSL module")
            #endif
        case .swiftCrypto:
            keys = .swiftCrypto(SymmetricKey(data: key))
        }
    }

    /// Encrypts `data` in place; its length is a whole number of blocks.
    func encrypt(_ data: inout Data) {
        run(&data, encrypting: true)
    }

    /// Decrypts `data` in place; its length is a whole number of blocks.
    func decrypt(_ data: inout Data) {
        run(&data, encrypting: false)
    }

    private func run(_ data: inout Data, encrypting: Bool) {
        precondition(data.count % 16 == 0)
        switch keys {
        #if canImport(CCryptoBoringSSL)
            case .boringSSL(let encryption, let decryption):
                var iv = self.iv
                withUnsafeMutableBytes(of: &iv) { ivBytes in
                    let ivPointer = ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    data.withUnsafeMutableBytes { buffer in
                        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                        // BoringSSL's CBC reads each block before writing it: in place is allowed.
                        withUnsafePointer(to: encrypting ? encryption : decryption) {
                            CCryptoBoringSSL_AES_cbc_encrypt(
                                base, base, buffer.count, $0, ivPointer, encrypting ? AES_ENCRYPT : AES_DECRYPT)
                        }
                    }
                }
        #endif
        case .swiftCrypto(let key):
            let ivValue = withUnsafeBytes(of: iv) { try! AES._CBC.IV(ivBytes: Array($0)) }
            data =
                encrypting
                ? try! AES._CBC.encrypt(data, using: key, iv: ivValue, noPadding: true)
                : try! AES._CBC.decrypt(data, using: key, iv: ivValue, noPadding: true)
        }
    }
}
