/// Strict UTF-8 validation with a fast path for ASCII, which most of a WeChat message is.
enum UTF8Validation {
    /// The offset of the first byte that does not begin a well-formed UTF-8 sequence, or nil if
    /// every byte is well formed. Overlong forms, surrogates and values above U+10FFFF are refused.
    static func firstInvalidByte(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let count = bytes.count
        var index = 0
        while index < count {
            while index + 8 <= count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            guard index < count else { return nil }
            let lead = base[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            @inline(__always) func continuation(_ offset: Int) -> UInt8? {
                let at = index + offset
                guard at < count, base[at] & 0xC0 == 0x80 else { return nil }
                return base[at]
            }
            switch lead {
            case 0xC2...0xDF:
                guard continuation(1) != nil else { return index }
                index += 2
            case 0xE0...0xEF:
                guard let second = continuation(1), continuation(2) != nil else { return index }
                if lead == 0xE0 && second < 0xA0 { return index }  // overlong
                if lead == 0xED && second >= 0xA0 { return index }  // surrogate
                index += 3
            case 0xF0...0xF4:
                guard let second = continuation(1), continuation(2) != nil, continuation(3) != nil else {
                    return index
                }
                if lead == 0xF0 && second < 0x90 { return index }  // overlong
                if lead == 0xF4 && second >= 0x90 { return index }  // above U+10FFFF
                index += 4
            default:
                return index
            }
        }
        return nil
    }
}
