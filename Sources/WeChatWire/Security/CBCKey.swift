import struct Foundation.Data

#if canImport(CCryptoBoringSSL)
    import CCryptoBoringSSL
#else
    import Crypto
    import _CryptoExtras
#endif

/// AES-256-CBC with a fixed key and IV, in place over whole blocks, for ``MessageCipher``.
///
/// On Linux, swift-crypto's `AES._CBC` runs BoringSSL's `AES_cbc_encrypt`, but every call also
/// expands the key again, copies the input into a new `Data`, allocates the output and crosses
/// unspecialized generics. Measured (`wire-benchmark`, release, this machine): 0.43 µs a call
/// for a single block, 0.80 µs for a 480-byte reply, against 0.48 µs for the same 480 bytes
/// with the key expanded once; decryption likewise. A safe-mode message takes one of each, so
/// where swift-crypto's BoringSSL is present this calls the same BoringSSL function directly,
/// with keys expanded at start-up. Elsewhere (Apple platforms, where swift-crypto uses
/// CryptoKit) it goes through `AES._CBC`. The tests check both directions against `AES._CBC`
/// and the official vectors.
final class CBCKey: Sendable {
    #if canImport(CCryptoBoringSSL)
        private let encryption: AES_KEY
        private let decryption: AES_KEY
    #else
        private let key: SymmetricKey
    #endif
    private let iv: (UInt64, UInt64)

    /// - Parameter key: 32 bytes; the IV is their first 16.
    init(_ key: [UInt8]) {
        precondition(key.count == 32)
        iv = key.withUnsafeBytes {
            ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        #if canImport(CCryptoBoringSSL)
            var encryption = AES_KEY()
            var decryption = AES_KEY()
            precondition(CCryptoBoringSSL_AES_set_encrypt_key(key, 256, &encryption) == 0)
            precondition(CCryptoBoringSSL_AES_set_decrypt_key(key, 256, &decryption) == 0)
            self.encryption = encryption
            self.decryption = decryption
        #else
            self.key = SymmetricKey(data: key)
        #endif
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
        #if canImport(CCryptoBoringSSL)
            var iv = self.iv
            withUnsafeMutableBytes(of: &iv) { ivBytes in
                let ivPointer = ivBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                data.withUnsafeMutableBytes { buffer in
                    guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                    // BoringSSL's CBC reads each block before writing it: in place is allowed.
                    if encrypting {
                        withUnsafePointer(to: encryption) {
                            CCryptoBoringSSL_AES_cbc_encrypt(base, base, buffer.count, $0, ivPointer, AES_ENCRYPT)
                        }
                    } else {
                        withUnsafePointer(to: decryption) {
                            CCryptoBoringSSL_AES_cbc_encrypt(base, base, buffer.count, $0, ivPointer, AES_DECRYPT)
                        }
                    }
                }
            }
        #else
            let ivValue = withUnsafeBytes(of: iv) { try! AES._CBC.IV(ivBytes: Array($0)) }
            data =
                encrypting
                ? try! AES._CBC.encrypt(data, using: key, iv: ivValue, noPadding: true)
                : try! AES._CBC.decrypt(data, using: key, iv: ivValue, noPadding: true)
        #endif
    }
}
