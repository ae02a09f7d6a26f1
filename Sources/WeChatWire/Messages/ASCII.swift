/// Letter case for text that is ASCII where it matters: message types, event names, keywords.
public enum ASCII {
    /// `text` with its ASCII letters lower-cased and everything else as it is. Costs nothing
    /// (no copy, no Unicode tables) when there is no upper-case ASCII letter, as is usual.
    public static func lowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return text }
        return String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
