import Foundation

/// Makes a member's text and a keyword comparable: surrounding whitespace and trailing
/// punctuation removed, full-width letters, digits and symbols folded to their usual forms
/// (NFKC), letters lower-cased. A member who types 「入会。」 or 「ＨＥＬＰ」 gets the same answer as
/// one who types 「入会」 or 「help」.
public enum KeywordNormalizer {
    static let trailingPunctuation: Set<Character> = ["。", "！", "!", "？", "?", "，", ",", ".", "~", "～", "…"]

    /// The normalised form of `text`.
    public static func normalize(_ text: String) -> String {
        var folded = text.precomposedStringWithCompatibilityMapping.lowercased()
        while let last = folded.last, last.isWhitespace || trailingPunctuation.contains(last), folded.count > 1 {
            folded.removeLast()
        }
        while let first = folded.first, first.isWhitespace {
            folded.removeFirst()
        }
        return folded.allSatisfy(\.isWhitespace) ? "" : folded
    }
}
