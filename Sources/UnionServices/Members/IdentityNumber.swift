/// A 居民身份证 number (GB 11643-1999): 17 digits — the region (its first two digits a
/// province), the date of birth, a sequence — and a check character over them (ISO 7064
/// MOD 11-2, `X` for ten).
public struct IdentityNumber: Sendable, Hashable {
    /// The 18 characters, `X` upper-case.
    public let value: String

    /// Why a number was refused, in words for the member.
    public struct Problem: Error, Sendable, Hashable {
        public let message: String
    }

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters = Array("10X98765432")
    /// The first two digits of every province, region and municipality (and 71, 81, 82, 83 for
    /// Taiwan, Hong Kong and Macao residents' numbers).
    static let provinces: Set<String> = [
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
        "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83",
    ]

    /// Checks what a member typed (spaces allowed, full-width digits, a lower-case `x`), as of
    /// the date `today` (`YYYYMMDD`): a birth date after it is refused.
    public static func parse(_ input: String, today: Int) -> Result<IdentityNumber, Problem> {
        let folded = input.precomposedStringWithCompatibilityMapping.filter { !$0.isWhitespace && $0 != "-" }
            .uppercased()
        let characters = Array(folded)
        guard characters.count == 18 else {
            return .failure(Problem(message: "身份证号应为 18 位，您填了 \(characters.count) 位。"))
        }
        let digits = characters.prefix(17).compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard digits.count == 17, characters[17] == "X" || (characters[17].isASCII && characters[17].isNumber) else {
            return .failure(Problem(message: "身份证号前 17 位应为数字，最后一位是数字或 X。"))
        }
        guard provinces.contains(String(characters.prefix(2))) else {
            return .failure(Problem(message: "身份证号开头的地区代码不对，请核对。"))
        }
        let year = digits[6] * 1000 + digits[7] * 100 + digits[8] * 10 + digits[9]
        let month = digits[10] * 10 + digits[11]
        let day = digits[12] * 10 + digits[13]
        guard (1900...2200).contains(year), (1...12).contains(month) else {
            return .failure(Problem(message: "身份证号里的出生日期不对，请核对。"))
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day), year * 10000 + month * 100 + day <= today else {
            return .failure(Problem(message: "身份证号里的出生日期不对，请核对。"))
        }
        let sum = zip(digits, weights).reduce(0) { $0 + $1.0 * $1.1 }
        guard checkCharacters[sum % 11] == characters[17] else {
            return .failure(Problem(message: "身份证号的校验位不对，可能有一位填错了，请核对。"))
        }
        return .success(IdentityNumber(value: folded))
    }

    /// Shown where the number may not be: the first three and the last four characters.
    public var masked: String { Self.mask(value) }

    /// `110***********123X`.
    public static func mask(_ value: String) -> String {
        guard value.count > 7 else { return String(repeating: "*", count: value.count) }
        return String(value.prefix(3)) + String(repeating: "*", count: value.count - 7) + String(value.suffix(4))
    }
}
