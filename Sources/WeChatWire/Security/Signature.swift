import Crypto

/// WeChat's request signatures: the SHA-1 of the sorted, joined parts, in lowercase hex.
public enum Signature {
    /// `sha1_hex(join(sort_bytewise(parts)))`: the plain `signature` over token, timestamp and
    /// nonce, or `msg_signature` when the encrypted message is one of the parts.
    public static func compute(_ parts: [String]) -> String {
        let sorted = parts.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        // Short input (the plain signature) is hashed here; long input (an encrypted message)
        // by swift-crypto, whose SHA-1 uses the processor's SHA instructions.
        guard sorted.reduce(0, { $0 + $1.utf8.count }) > 128 else {
            var hasher = SHA1()
            for part in sorted { hasher.update(part) }
            return hex(hasher.finalize())
        }
        var hasher = Insecure.SHA1()
        for var part in sorted {
            part.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        }
        return hasher.finalize().withUnsafeBytes { hex($0) }
    }

    /// The plain request signature.
    public static func compute(token: String, timestamp: String, nonce: String) -> String {
        // The same as `compute([token, timestamp, nonce])`, without an array on every request.
        guard token.utf8.count + timestamp.utf8.count + nonce.utf8.count <= 128 else {
            return compute([token, timestamp, nonce])
        }
        func precedes(_ left: String, _ right: String) -> Bool { left.utf8.lexicographicallyPrecedes(right.utf8) }
        var (a, b, c) = (token, timestamp, nonce)
        if precedes(b, a) { swap(&a, &b) }
        if precedes(c, b) { swap(&b, &c) }
        if precedes(b, a) { swap(&a, &b) }
        var hasher = SHA1()
        hasher.update(a)
        hasher.update(b)
        hasher.update(c)
        return hex(hasher.finalize())
    }

    /// The message signature of an encrypted body (`msg_signature`, `MsgSignature`).
    public static func compute(token: String, timestamp: String, nonce: String, encrypted: String) -> String {
        compute([token, timestamp, nonce, encrypted])
    }

    /// Whether `candidate` equals `expected`, in time that depends only on their lengths.
    /// Hex digits compare case-insensitively.
    public static func matches(_ candidate: String, _ expected: String) -> Bool {
        var candidate = candidate
        var expected = expected
        return candidate.withUTF8 { left in
            expected.withUTF8 { right in
                guard left.count == right.count else { return false }
                var difference: UInt8 = 0
                for index in 0..<left.count {
                    difference |= (left[index] | 0x20) ^ (right[index] | 0x20)
                }
                return difference == 0
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var written = 0
            for byte in bytes {
                out[written] = hexDigits[Int(byte >> 4)]
                out[written + 1] = hexDigits[Int(byte & 0x0F)]
                written += 2
            }
            return written
        }
    }
}
