/// Refuses regular expressions that a backtracking engine (Swift's `Regex`) can take
/// exponential or high polynomial time on, so that no rule can stall the gateway: nested
/// repetition (`(a+)+`, `(a|aa)*`), back-references (`\1`, `\k<name>`), and more than two
/// unbounded repetitions in one pattern. With the text a pattern sees capped at
/// ``RuleEngine/regexTextLimit`` characters, what is left runs in at most quadratic time in that
/// cap. Conservative: it may refuse a pattern that would have been safe, and says why.
enum RegexSafety {
    /// The most unbounded repetitions (`*`, `+`, `{n,}`) a pattern may have.
    static let unboundedLimit = 2

    /// Why `pattern` is refused, in Chinese for the staff, or nil when it is accepted.
    static func problem(with pattern: String) -> String? {
        struct Group {
            var repeats = false
            var alternates = false
        }
        let characters = Array(pattern)
        var groups = [Group()]
        var unbounded = 0
        var index = 0

        /// Reads a quantifier at `index`, if there is one: whether it repeats more than once and
        /// whether it is unbounded. Moves past it and any lazy or possessive suffix.
        func quantifier() -> (repeats: Bool, unbounded: Bool)? {
            guard index < characters.count else { return nil }
            var found: (repeats: Bool, unbounded: Bool)?
            switch characters[index] {
            case "*", "+":
                found = (true, true)
                index += 1
            case "?":
                found = (false, false)
                index += 1
            case "{":
                guard let close = characters[index...].firstIndex(of: "}") else { return nil }
                let body = String(characters[(index + 1)..<close])
                let parts = body.split(separator: ",", omittingEmptySubsequences: false)
                guard (1...2).contains(parts.count), parts.allSatisfy({ $0.allSatisfy(\.isNumber) }),
                    !(parts.first?.isEmpty ?? true)
                else { return nil }  // a literal brace
                let upper = parts.count == 2 ? Int(parts[1]) : Int(parts[0])
                found = (upper.map { $0 > 1 } ?? true, parts.count == 2 && parts[1].isEmpty)
                index = close + 1
            default:
                return nil
            }
            if index < characters.count, characters[index] == "?" || characters[index] == "+" { index += 1 }
            return found
        }

        func noteQuantifier(_ found: (repeats: Bool, unbounded: Bool)) {
            if found.unbounded { unbounded += 1 }
            groups[groups.count - 1].repeats = true
        }

        while index < characters.count {
            let character = characters[index]
            index += 1
            switch character {
            case "\\":
                guard index < characters.count else { break }
                let escaped = characters[index]
                index += 1
                if ("1"..."9").contains(escaped) {
                    return "不支持反向引用（\\\(escaped)）：它会让匹配慢到无法控制"
                }
                if escaped == "k" { return "不支持反向引用（\\k<名字>）：它会让匹配慢到无法控制" }
                if let found = quantifier() { noteQuantifier(found) }
            case "[":
                // A character class: skip to its closing bracket.
                if index < characters.count, characters[index] == "^" { index += 1 }
                if index < characters.count, characters[index] == "]" { index += 1 }
                while index < characters.count, characters[index] != "]" {
                    index += characters[index] == "\\" ? 2 : 1
                }
                index += 1
                if let found = quantifier() { noteQuantifier(found) }
            case "(":
                groups.append(Group())
                if index < characters.count, characters[index] == "?" {
                    // (?: (?= (?! (?<= (?<! (?<name> (?'name': the group's own syntax, not a quantifier.
                    index += 1
                    if index < characters.count, characters[index] == "<" || characters[index] == "'" {
                        while index < characters.count, characters[index] != ">", characters[index] != "'",
                            characters[index] != "=", characters[index] != "!"
                        {
                            index += 1
                        }
                    }
                    index += 1
                }
            case ")":
                guard groups.count > 1 else { break }  // unbalanced: Regex itself refuses it
                let group = groups.removeLast()
                if let found = quantifier() {
                    if found.repeats, group.repeats || group.alternates {
                        return "不支持嵌套的重复（如 (a+)+ 或 (a|b)*）：它会让匹配慢到无法控制"
                    }
                    noteQuantifier(found)
                }
                if group.repeats { groups[groups.count - 1].repeats = true }
            case "|":
                groups[groups.count - 1].alternates = true
            default:
                if let found = quantifier() { noteQuantifier(found) }
            }
        }
        if unbounded > unboundedLimit {
            return "不定次数的重复（* + {n,}）最多 \(unboundedLimit) 处，这里有 \(unbounded) 处：它会让匹配变慢"
        }
        return nil
    }
}
