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
        /// Set for a group field (household members): its rows of cells.
        let group: Group?
        /// The keyboard a phone shows (`decimal` for money).
        let inputMode: String?
    }

    /// A group field's rows: those typed, and one empty row to add another (up to its most).
    struct Group: Encodable {
        struct Row: Encodable {
            let title: String
            let cells: [Cell]
        }
        struct Cell: Encodable {
            let name: String
            let id: String
            let label: String
            let value: String
            let input: String?
            let inputMode: String?
            let choice: Choice?
            let optional: Bool
        }
        let rows: [Row]
        /// The button that adds a row (saving what is typed).
        let add: String?
        let addLabel: String
    }

    /// A button under the form.
    struct Button: Encodable {
        let action: String
        let label: String
        let id: String
        let primary: Bool
        /// Whether the browser skips its own checks (saving, going back).
        let skipsChecks: Bool
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
    /// The buttons under it.
    let buttons: [Button]

    /// A form's buttons: submit, and save as a draft.
    static let formButtons = [
        Button(action: "submit", label: "提交", id: "submit", primary: true, skipsChecks: false),
        Button(action: "save", label: "暂存", id: "save", primary: false, skipsChecks: true),
    ]

    /// How many units the picker lists at most.
    static let unitLimit = 20

    /// The form's fields filled with `values` (by key, `unit_code` for the unit) and `problems`.
    init(
        form: FormDefinition, organisation: Organisation, values: [String: String], problems: [String: String],
        unitSearch: String, action: String, submission: String, note: String? = nil, buttons: [Button] = formButtons
    ) {
        self.action = action
        multipart = form.fields.contains(where: \.isPhoto)
        self.submission = submission
        self.note = note
        self.buttons = buttons
        fields = form.fields.map { field in
            var input: String?
            var choice: Choice?
            var unit: UnitPicker?
            var photo: PhotoPicker?
            var group: Group?
            var inputMode: String?
            switch field.kind {
            case .unit:
                unit = Self.picker(
                    organisation, search: unitSearch, selected: values[PageAnswers.unitCodeKey] ?? "")
            case .photo(let most):
                photo = PhotoPicker(most: most)
            case .group(let columns, _, let most):
                group = Self.group(field, columns: columns, most: most, values: values)
            default:
                (input, inputMode, choice) = Self.control(field, value: values[field.key] ?? "")
            }
            return Field(
                key: field.key, label: field.label, hint: field.hint, value: values[field.key] ?? "",
                problem: problems[field.key], optional: field.optional, input: input, choice: choice, unit: unit,
                photo: photo, group: group, inputMode: inputMode)
        }
    }

    /// The `<input>` type, keyboard and choices of a typed field.
    static func control(_ field: FormField, value: String) -> (String?, String?, Choice?) {
        switch field.kind {
        case .text: return ("text", nil, nil)
        case .phone: return ("tel", nil, nil)
        case .number: return ("number", nil, nil)
        case .date: return ("date", nil, nil)
        case .money: return ("text", "decimal", nil)
        case .choice(let choices):
            return (
                nil, nil,
                Choice(
                    options: [Option(value: "", label: "请选择", selected: value.isEmpty)]
                        + choices.map { Option(value: $0, label: $0, selected: value == $0) })
            )
        case .unit, .photo, .group: return (nil, nil, nil)
        }
    }

    /// A group's rows from the cells typed (`key.N.column`): those with something in them, and
    /// one empty row while there is room.
    static func group(_ field: FormField, columns: [FormField], most: Int, values: [String: String]) -> Group {
        let typed = PageAnswers.typedRows(values, key: field.key, columns: columns)
        let count = min(most, typed.count + 1)
        let rows = (0..<count).map { index in
            let row = index < typed.count ? typed[index] : [:]
            return Group.Row(
                title: "第 \(index + 1) 行",
                cells: columns.map { column in
                    let name = PageAnswers.cellName(field.key, row: index, column: column.key)
                    let value = row[column.key] ?? ""
                    let (input, mode, choice) = control(column, value: value)
                    return Group.Cell(
                        name: name, id: "f-" + name.replacingOccurrences(of: ".", with: "-"),
                        label: column.label, value: value, input: input, inputMode: mode, choice: choice,
                        optional: column.optional)
                })
        }
        return Group(
            rows: rows, add: typed.count + 1 < most ? "add:" + field.key : nil, addLabel: "再添加一行")
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
