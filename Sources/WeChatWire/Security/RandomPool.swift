import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Random bytes for the envelopes' 16-byte prefixes, drawn from the system's secure generator
/// a page at a time rather than with a system call per message.
enum RandomPool {
    private static let state = Mutex<(bytes: [UInt8], next: Int)>(([], 0))
    private static let refill = 4096

    /// `count` fresh random bytes.
    static func take(_ count: Int) -> [UInt8] {
        state.withLock { state in
            if state.next + count > state.bytes.count {
                state.bytes = fresh(max(refill, count))
                state.next = 0
            }
            defer { state.next += count }
            return Array(state.bytes[state.next..<(state.next + count)])
        }
    }

    private static func fresh(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let device = open("/dev/urandom", O_RDONLY)
        if device >= 0 {
            defer { close(device) }
            var filled = 0
            while filled < count {
                let got = bytes.withUnsafeMutableBytes { read(device, $0.baseAddress! + filled, count - filled) }
                if got <= 0 { break }
                filled += got
            }
            if filled == count { return bytes }
        }
        var generator = SystemRandomNumberGenerator()
        for index in 0..<count { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        return bytes
    }
}

/// Standard base64 encoding with padding, straight into bytes.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode<Bytes: Collection>(_ input: Bytes) -> String where Bytes.Element == UInt8 {
        if let encoded = input.withContiguousStorageIfAvailable({ encode(buffer: $0) }) { return encoded }
        return Array(input).withUnsafeBufferPointer { encode(buffer: $0) }
    }

    private static func encode(buffer data: UnsafeBufferPointer<UInt8>) -> String {
        let length = (data.count + 2) / 3 * 4
        return alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: length) { out in
                var index = 0
                var written = 0
                while index + 3 <= data.count {
                    let value = UInt32(data[index]) << 16 | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2])
                    out[written] = alphabet[Int(value >> 18 & 63)]
                    out[written + 1] = alphabet[Int(value >> 12 & 63)]
                    out[written + 2] = alphabet[Int(value >> 6 & 63)]
                    out[written + 3] = alphabet[Int(value & 63)]
                    index += 3
                    written += 4
                }
                let rest = data.count - index
                if rest > 0 {
                    let value = UInt32(data[index]) << 16 | (rest == 2 ? UInt32(data[index + 1]) << 8 : 0)
                    out[written] = alphabet[Int(value >> 18 & 63)]
                    out[written + 1] = alphabet[Int(value >> 12 & 63)]
                    out[written + 2] = rest == 2 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "=")
                    out[written + 3] = UInt8(ascii: "=")
                    written += 4
                }
                return written
            }
        }
    }
}
