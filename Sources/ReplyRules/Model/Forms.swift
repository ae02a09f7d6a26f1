/// A form members fill in through the chat, one question at a time: joining the union, and any
/// form the union defines in Replies (疗休养报名 …).
public struct FormDefinition: Sendable, Hashable {
    /// The form's name, used by `service: form:NAME` and in the admin API's address.
    public var name: String
    /// The title shown to members.
    public var title: String
    /// The first thing a member reads when the form starts.
    public var intro: String?
    /// The questions, in order.
    public var fields: [FormField]
    /// The receipt-number prefix, such as `FL` for `FL-2026-000001`.
    public var prefix: String
    /// What the member reads after submitting; `{number}` is the receipt number.
    public var done: String
    /// Whether only approved members may fill it in.
    public var membersOnly: Bool
    /// Keywords that start the form (besides rules that hand over to it).
    public var keywords: [String]
    /// A menu key that starts the form.
    public var click: String?
    /// Where it was written.
    public var source: SourceLocation

    /// Creates a form.
    public init(
        name: String, title: String, intro: String? = nil, fields: [FormField], prefix: String, done: String,
        membersOnly: Bool = false, keywords: [String] = [], click: String? = nil, source: SourceLocation
    ) {
        self.name = name
        self.title = title
        self.intro = intro
        self.fields = fields
        self.prefix = prefix
        self.done = done
        self.membersOnly = membersOnly
        self.keywords = keywords
        self.click = click
        self.source = source
    }
}

/// One question of a form.
public struct FormField: Sendable, Hashable {
    /// The answer's key in stored submissions and exports.
    public var key: String
    /// The question's label, such as 姓名.
    public var label: String
    /// What kind of answer it takes.
    public var kind: Kind
    /// A hint shown with the question.
    public var hint: String?
    /// Whether the member may skip it by replying 「无」.
    public var optional: Bool
    /// Whether the answer is sensitive (household income, illness, an ID number): in a workflow,
    /// shown in full only to the staff who act on it in the member's branch of the tree.
    public var sensitive: Bool

    /// Creates a field.
    public init(
        key: String, label: String, kind: Kind, hint: String? = nil, optional: Bool = false, sensitive: Bool = false
    ) {
        self.key = key
        self.label = label
        self.kind = kind
        self.hint = hint
        self.optional = optional
        self.sensitive = sensitive
    }

    /// Whether the answer is photos (uploaded on a page, not typed in the chat).
    public var isPhoto: Bool {
        if case .photo = kind { return true }
        return false
    }

    /// Whether the answer is a repeatable group of rows (household members), answered on a page.
    public var isGroup: Bool {
        if case .group = kind { return true }
        return false
    }

    /// The kinds of answer.
    public enum Kind: Sendable, Hashable {
        /// Free text of bounded length.
        case text(minLength: Int, maxLength: Int)
        /// A mainland mobile number.
        case phone
        /// A whole number in a range.
        case number(min: Int, max: Int)
        /// A date, such as 2026-12-01.
        case date
        /// One of the listed choices, by number or by name.
        case choice([String])
        /// A unit of the organisation, found by part of its name or walked level by level.
        case unit
        /// Photos (JPEG or PNG, at most `max`), uploaded on the member pages; the chat leaves
        /// the question out and says the photos can be added on the page.
        case photo(max: Int)
        /// An amount of money in yuan, with at most two decimals (fen), in a range of whole yuan.
        case money(min: Int, max: Int)
        /// Rows of the same questions, such as the household's members (workflows only, on the
        /// member pages): between `min` and `max` rows; the answer is kept as a JSON array of
        /// objects by sub-field key.
        indirect case group(fields: [FormField], min: Int, max: Int)
    }
}

/// What the join-the-union form asks beyond name and phone (`join:`).
public struct JoinSettings: Sendable, Hashable {
    /// The units or branches a member picks from, as an old `join.units` list; empty means
    /// free text (unless `org:` describes the organisation).
    public var units: [String]
    /// The organisation a member joins a unit of: `org:`, or `units` as one level; set when the
    /// folder is loaded.
    public var organisation = Organisation() {
        didSet { form = Self.form(organisation: organisation, extraFields: extraFields) }
    }
    /// Further questions the union adds.
    public var extraFields: [FormField] {
        didSet { form = Self.form(organisation: organisation, extraFields: extraFields) }
    }
    /// The full join form: name, phone, unit, then the union's own questions. Kept with the
    /// settings it comes from, so that each message in the form does not build it (and the list
    /// of units) again.
    public private(set) var form: FormDefinition

    /// Creates join settings.
    public init(units: [String] = [], extraFields: [FormField] = []) {
        self.units = units
        self.extraFields = extraFields
        self.form = Self.form(organisation: Organisation(), extraFields: extraFields)
    }

    /// The join form's name.
    public static let formName = "join"

    private static func form(organisation: Organisation, extraFields: [FormField]) -> FormDefinition {
        let unit: FormField.Kind =
            organisation.isEmpty
            ? .text(minLength: 2, maxLength: 50)
            : organisation.isPlainChoice ? .choice(organisation.leaves.map(\.name)) : .unit
        return FormDefinition(
            name: Self.formName, title: "入会申请",
            intro: "欢迎申请加入工会！请按提示回复，随时回复「取消」可放弃。",
            fields: [
                FormField(key: "name", label: "姓名", kind: .text(minLength: 2, maxLength: 20), hint: "请填写真实姓名"),
                FormField(key: "phone", label: "手机号", kind: .phone, hint: "11 位手机号码"),
                FormField(key: "unit", label: "单位/部门", kind: unit),
            ] + extraFields,
            prefix: "RH", done: "", source: SourceLocation(path: "", line: 0))
    }
}

/// The welfare catalogue (`welfare:`).
public struct WelfareCatalogue: Sendable, Hashable {
    /// The items, in the order shown.
    public var items: [WelfareItem]

    /// Creates a catalogue.
    public init(items: [WelfareItem] = []) {
        self.items = items
    }
}

/// One welfare item, shown as an article card.
public struct WelfareItem: Sendable, Hashable {
    /// The card's title.
    public var title: String
    /// The card's description.
    public var description: String
    /// The picture's address.
    public var picURL: String
    /// Where a tap leads.
    public var url: String
    /// Whether only approved members see it.
    public var membersOnly: Bool

    /// Creates an item.
    public init(
        title: String, description: String = "", picURL: String = "", url: String = "", membersOnly: Bool = false
    ) {
        self.title = title
        self.description = description
        self.picURL = picURL
        self.url = url
        self.membersOnly = membersOnly
    }
}
