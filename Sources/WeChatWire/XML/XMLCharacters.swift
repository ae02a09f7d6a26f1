/// The characters XML 1.0 allows in a document (its `Char` production). WeChat refuses a reply
/// with any other, and a member's message can carry them (a sender field, a form answer echoed
/// back), so the reader drops them from text and the writer never writes them.
public enum XMLCharacters {
    /// Whether XML 1.0 allows `scalar`.
    public static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }

    /// Whether the UTF-8 `bytes` hold a character XML forbids: a control below U+0020 other
    /// than tab, line feed and carriage return, or U+FFFE or U+FFFF. One pass over the bytes.
    public static func containsDisallowed(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        // Eight bytes at a time while none of them is below 0x20 or 0xEF (the lead byte of
        // U+FFFE and U+FFFF); a word that has one is checked byte by byte below. Safe mode's
        // base64 bodies are about a kilobyte each way (wire-benchmark, reading the envelope:
        // 1.17 → 0.81 µs).
        if let base = UnsafeRawPointer(bytes.baseAddress) {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while index + 8 <= bytes.count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let below20 = (word &- ones &* 0x20) & ~word & highs
                let marked = word ^ (ones &* 0xEF)
                let isEF = (marked &- ones) & ~marked & highs
                if below20 | isEF != 0 { break }
                index += 8
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20, byte != 0x9, byte != 0xA, byte != 0xD { return true }
            if byte == 0xEF, index + 2 < bytes.count, bytes[index + 1] == 0xBF, bytes[index + 2] >= 0xBE {
                return true
            }
            index += 1
        }
        return false
    }

    /// `text` without the characters XML forbids.
    public static func removingDisallowed(_ text: String) -> String {
        var text = text
        guard text.withUTF8({ containsDisallowed($0) }) else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.lazy.filter(isAllowed))
        return String(scalars)
    }
}
