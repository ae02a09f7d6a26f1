/// SHA-1 (FIPS 180-4) for WeChat's signatures, which hash a few dozen bytes on every request.
///
/// Written out here because setting up a library digest context costs more than hashing such
/// short input; tests check it against swift-crypto's SHA-1 and the official vectors. It is used
/// only to compute and check WeChat's signatures, never to protect a secret of our own.
struct SHA1 {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0
    )
    /// The bytes not yet hashed, fewer than one block.
    private var pending: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var pendingCount = 0
    private var length: UInt64 = 0

    /// Adds `bytes` to the message.
    mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        length &+= UInt64(bytes.count)
        var index = 0
        while index < bytes.count {
            let take = min(64 - pendingCount, bytes.count - index)
            let start = pendingCount
            withUnsafeMutableBytes(of: &pending) { block in
                for offset in 0..<take { block[start + offset] = bytes[index + offset] }
            }
            pendingCount += take
            index += take
            if pendingCount == 64 {
                compressPending()
                pendingCount = 0
            }
        }
    }

    /// Adds a string's UTF-8 bytes to the message.
    mutating func update(_ text: String) {
        var text = text
        text.withUTF8 { update($0) }
    }

    /// The 20-byte digest.
    mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        // At most 64 bytes of padding and 8 of length.
        var padding:
            (
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
            ) = ((0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0))
        let padLength = pendingCount < 56 ? 56 - pendingCount : 120 - pendingCount  // 1...64
        withUnsafeMutableBytes(of: &padding) { buffer in
            buffer[0] = 0x80
            for index in 0..<8 {
                buffer[padLength + index] = UInt8(truncatingIfNeeded: bits >> (56 - 8 * UInt64(index)))
            }
            update(
                UnsafeBufferPointer(
                    start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: padLength + 8))
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [state.0, state.1, state.2, state.3, state.4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    private mutating func compressPending() {
        var schedule:
            (
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64),
                (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
            ) = (
                (0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0),
                (0, 0, 0, 0, 0, 0, 0, 0)
            )
        var (a, b, c, d, e) = state
        withUnsafeBytes(of: &pending) { block in
            withUnsafeMutableBytes(of: &schedule) { raw in
                let w = raw.bindMemory(to: UInt32.self)  // 80 words
                for t in 0..<16 {
                    w[t] =
                        UInt32(block[4 * t]) << 24 | UInt32(block[4 * t + 1]) << 16 | UInt32(block[4 * t + 2]) << 8
                        | UInt32(block[4 * t + 3])
                }
                for t in 16..<80 {
                    let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                    w[t] = x << 1 | x >> 31
                }
                for t in 0..<80 {
                    let f: UInt32
                    let k: UInt32
                    switch t {
                    case 0..<20:
                        f = (b & c) | (~b & d)
                        k = 0x5A82_7999
                    case 20..<40:
                        f = b ^ c ^ d
                        k = 0x6ED9_EBA1
                    case 40..<60:
                        f = (b & c) | (b & d) | (c & d)
                        k = 0x8F1B_BCDC
                    default:
                        f = b ^ c ^ d
                        k = 0xCA62_C1D6
                    }
                    let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                    e = d
                    d = c
                    c = b << 30 | b >> 2
                    b = a
                    a = temp
                }
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
    }
}
