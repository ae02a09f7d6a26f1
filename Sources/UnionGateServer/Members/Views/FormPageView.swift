import ReplyRules
import UnionServices

/// A form on a member page (`member-fields.mustache`): its fields with what the member typed and
/// what is wrong, the unit search, and the token that makes a double tap store it once.
struct FormPageView: Encodable {
    /// One field of the form.
    struct Field: Encodable {
        let key: String
        let label: String
        let hint: String?
        let value: String
        let problem: String?
        let optional: Bool
        /// The `<input>` type for a typed answer (text, tel, number, date); nil for a choice or a unit.
        let input: String?
        /// The choices of a choice field.
        let choice: Choice?
        /// Set for the unit field: the search, its results and the chosen unit.
        let unit: UnitPicker?
        /// Set for a photo field: how many may be sent.
        let photo: PhotoPicker?
    }

    /// A photo field's file input.
    struct PhotoPicker: Encodable {
        let most: Int
    }

    /// A choice field's `<select>`.
    struct Choice: Encodable {
        let options: [Option]
    }

    /// The unit field: units are many, so the member searches by part of the name.
    struct UnitPicker: Encodable {
        /// What the member searched for.
        let search: String
        /// The units to choose from: the search's results, or all of them when few.
        let choices: [UnitChoice]
        /// Said when a search found nothing, or found too many.
        let unitNote: String?
    }

    struct UnitChoice: Encodable {
        let code: String
        let name: String
        /// The unit's parents, for telling apart units of the same name.
        let path: String?
        let selected: Bool
    }

    let action: String
    /// Whether the form sends files (`multipart/form-data`).
    let multipart: Bool
    let fields: [Field]
    /// The submission's token (one per opened form).
    let submission: String
    /// A line above the form (a draft from the chat was filled in).
    let note: String?

    /// How many units the picker lists at most.
    static let unitLimit = 20

    /// The form's fields filled with `values` (by key, `unit_code` for the unit) and `problems`.
    init(
        form: FormDefinition, organisation: Organisation, values: [String: String], problems: [String: String],
        unitSearch: String, action: String, submission: String, note: String? = nil
    ) {
        self.action = action
        multipart = form.fields.contains(where: \.isPhoto)
        self.submission = submission
        self.note = note
        fields = form.fields.map { field in
            var input: String?
            var choice: Choice?
            var unit: UnitPicker?
            var photo: PhotoPicker?
            switch field.kind {
            case .text: input = "text"
            case .phone: input = "tel"
            case .number: input = "number"
            case .date: input = "date"
            case .choice(let choices):
                choice = Choice(
                    options: [Option(value: "", label: "请选择", selected: (values[field.key] ?? "").isEmpty)]
                        + choices.map { Option(value: $0, label: $0, selected: values[field.key] == $0) })
            case .unit:
                unit = Self.picker(
                    organisation, search: unitSearch, selected: values[PageAnswers.unitCodeKey] ?? "")
            case .photo(let most):
                photo = PhotoPicker(most: most)
            }
            return Field(
                key: field.key, label: field.label, hint: field.hint, value: values[field.key] ?? "",
                problem: problems[field.key], optional: field.optional, input: input, choice: choice, unit: unit,
                photo: photo)
        }
    }

    static func picker(_ organisation: Organisation, search: String, selected: String) -> UnitPicker {
        func choice(_ unit: Organisation.Unit) -> UnitChoice {
            let parents = organisation.path(to: unit.code).dropLast().dropFirst().map(\.name)
            return UnitChoice(
                code: unit.code, name: unit.name, path: parents.isEmpty ? nil : parents.joined(separator: " › "),
                selected: unit.code == selected)
        }
        var units: [Organisation.Unit]
        var note: String?
        let text = search.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty {
            let found = organisation.search(text).filter(\.isLeaf)
            units = Array(found.prefix(unitLimit))
            if found.isEmpty {
                note = "没有找到名称含「\(text)」的单位，请换几个字再搜。"
            } else if found.count > unitLimit {
                note = "找到 \(found.count) 个单位，只列出前 \(unitLimit) 个；可以多输入几个字。"
            }
        } else {
            let leaves = organisation.leaves
            units = leaves.count <= unitLimit ? leaves : []
            if units.isEmpty { note = "请输入单位名称中的几个字，点「搜索单位」。" }
        }
        if !selected.isEmpty, !units.contains(where: { $0.code == selected }),
            let unit = organisation.units[selected], unit.isLeaf
        {
            units.insert(unit, at: 0)
        }
        return UnitPicker(search: text, choices: units.map(choice), unitNote: note)
    }
}
