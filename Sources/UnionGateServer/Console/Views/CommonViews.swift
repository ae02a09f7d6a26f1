/// One `<option>` of a `<select>`: its value, its label, whether it is chosen.
struct Option: Encodable {
    let value: String
    let label: String
    let selected: Bool

    /// Each value with its label, the one equal to `selected` chosen.
    static func list(_ pairs: [(String, String)], selected: String) -> [Option] {
        pairs.map { Option(value: $0.0, label: $0.1, selected: $0.0 == selected) }
    }
}

/// A unit in a unit `<select>`, indented by its depth below the staff member's unit.
struct UnitOption: Encodable {
    let code: String
    let name: String
    let selected: Bool
}

/// The pager under a list (`console-pager.mustache`).
struct Pager: Encodable {
    let total: Int
    let previous: String?
    let next: String?
}

/// A rule file's problem, where it is and what it says (`console-ruleProblems.mustache`).
struct ProblemLine: Encodable {
    let `where`: String
    let line: Int
    let message: String
}
