import Foundation
import WeChatWire

/// Makes a member's text and a keyword comparable: surrounding whitespace and trailing
/// punctuation removed, full-width letters, digits and symbols folded to their usual forms
/// (NFKC), letters lower-cased. A member who types 「入会。」 or 「ＨＥＬＰ」 gets the same answer as
/// one who types 「入会」 or 「help」.
public enum KeywordNormalizer {
    static let trailingPunctuation: Set<Unicode.Scalar> = ["。", "！", "!", "？", "?", "，", ",", ".", "~", "～", "…"]

    /// The normalised form of `text`.
    public static func normalize(_ text: String) -> String {
        let folded =
            needsCompatibilityMapping(text)
            ? text.precomposedStringWithCompatibilityMapping.lowercased() : ASCII.lowercased(text)
        // Trimmed by Unicode scalar: what is trimmed is all single-scalar, and this avoids
        // breaking the whole text into grapheme clusters on every message.
        let scalars = folded.unicodeScalars
        var end = scalars.endIndex
        while end > scalars.startIndex {
            let last = scalars.index(before: end)
            // One character always stays: a member who sends just 「？」 means it.
            guard last > scalars.startIndex, isWhitespace(scalars[last]) || trailingPunctuation.contains(scalars[last])
            else { break }
            end = last
        }
        var start = scalars.startIndex
        while start < end, isWhitespace(scalars[start]) {
            start = scalars.index(after: start)
        }
        if start == scalars.startIndex, end == scalars.endIndex { return folded }
        return String(scalars[start..<end])
    }

    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09...0x0D: true
        case 0..<0x80, 0x4E00...0x9FFF: false  // ASCII and CJK ideographs: no property lookup
        default: scalar.properties.isWhitespace
        }
    }

    /// False when NFKC leaves `text` as it is and only ASCII letters need lower-casing: text made
    /// of ASCII and CJK unified ideographs, which is most of what members send. Checking this is
    /// far cheaper than the mapping itself.
    static func needsCompatibilityMapping(_ text: String) -> Bool {
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 || (0x4E00...0x9FFF).contains(value) { continue }
            return true
        }
        return false
    }
}
