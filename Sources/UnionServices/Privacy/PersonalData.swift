/// Masks personal data before it reaches a log.
public enum PersonalData {
    /// A mainland mobile number with its middle four digits hidden: `138****5678`. Any 11-digit
    /// run starting with 1 inside `text` is masked, so free text can be logged safely.
    public static func maskPhones(_ text: String) -> String {
        var characters = Array(text)
        var index = 0
        while index < characters.count {
            guard characters[index] == "1", index + 11 <= characters.count,
                characters[index..<(index + 11)].allSatisfy({ $0.isASCII && $0.isNumber }),
                index == 0 || !(characters[index - 1].isASCII && characters[index - 1].isNumber),
                index + 11 == characters.count || !(characters[index + 11].isASCII && characters[index + 11].isNumber)
            else {
                index += 1
                continue
            }
            for offset in 3..<7 { characters[index + offset] = "*" }
            index += 11
        }
        return String(characters)
    }

    /// An openid shortened to its first six characters, enough to follow one member in the logs.
    public static func maskOpenID(_ openid: String) -> String {
        openid.count <= 6 ? openid : String(openid.prefix(6)) + "…"
    }
}
