import ReplyRules
import SQLKit

/// What a staff member may do. The names are a contract (`staff add --role`).
public enum StaffRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// Everything.
    case admin
    /// Rules, menu and QR codes; reads everything in their part.
    case editor
    /// Members, suggestions and submissions: decides them and exports them.
    case approver
    /// Reads, nothing else.
    case viewer

    /// The role in Chinese, for lists staff read.
    public var chinese: String {
        switch self {
        case .admin: "管理员"
        case .editor: "编辑"
        case .approver: "审核员"
        case .viewer: "只读"
        }
    }

    /// What the role allows.
    public var permissions: Set<Permission> {
        switch self {
        case .admin: Set(Permission.allCases)
        case .editor: [.read, .editRules, .manageQR]
        case .approver: [.read, .decide, .export, .seeIdentity]
        case .viewer: [.read]
        }
    }
}

/// One kind of action, as roles allow them.
public enum Permission: String, Sendable, Hashable, CaseIterable {
    /// Lists, records and statistics of the staff member's part of the tree.
    case read
    /// Approving and rejecting applications, changing suggestions, replying.
    case decide
    /// Exporting members' personal data (CSV).
    case export
    /// Changing the reply rules and the menu.
    case editRules
    /// Making and deleting QR codes.
    case manageQR
    /// Reading the audit log, and the outbox, and managing staff.
    case administer
    /// Seeing members' full 居民身份证 and phone numbers on the real-name roster (each time audited);
    /// everyone else sees them masked, in pages and exports.
    case seeIdentity
}

/// The units whose records someone sees: everything (the root's staff, the root admin), or one
/// unit and those below it.
public enum UnitScope: Sendable, Hashable {
    /// Every record, including those of units no longer in the tree.
    case everything
    /// The records of these units only.
    case units(Set<String>)

    /// Whether a record of `code` is visible.
    public func contains(_ code: String) -> Bool {
        switch self {
        case .everything: true
        case .units(let codes): codes.contains(code)
        }
    }

    /// The scope of `code`'s subtree, when `code` is in this scope; nil when it is not (or is no
    /// unit), which the API answers as not found.
    public func narrowed(to code: String, in organisation: Organisation) -> UnitScope? {
        guard organisation.units[code] != nil, contains(code) else { return nil }
        return .units(Set(organisation.subtree(of: code)))
    }

    /// The scope of someone at `code`: everything at the root, its subtree below it, nothing if
    /// the unit has left the tree.
    public static func of(unit code: String, in organisation: Organisation) -> UnitScope {
        if code == organisation.root { return .everything }
        return .units(Set(organisation.subtree(of: code)))
    }

    /// `query` restricted to the records of this scope, by their `column`.
    func restrict(_ query: SQLSelectBuilder, column: String = "unit_code") -> SQLSelectBuilder {
        switch self {
        case .everything:
            return query
        case .units(let codes) where codes.isEmpty:
            return query.where(SQLRaw("1 = 0"))
        case .units(let codes):
            return query.where(column, .in, codes.sorted())
        }
    }
}

/// Who is acting: the root admin (`UNIONGATE_ADMIN_TOKEN`), the command line, or a staff member,
/// with their role and the units they see.
public struct Principal: Sendable, Hashable {
    /// The name the audit log records: `root`, `cli`, or the staff member's name.
    public var name: String
    /// What they may do.
    public var role: StaffRole
    /// Their unit's code; nil for the root admin and the command line.
    public var unit: String?
    /// Whose records they see.
    public var scope: UnitScope
    /// The club whose leader they are, for an account scoped to one club: it sees that club's
    /// members and activities and nothing of the units.
    public var club: Int?

    /// Creates a principal.
    public init(name: String, role: StaffRole, unit: String?, scope: UnitScope, club: Int? = nil) {
        self.name = name
        self.role = role
        self.unit = unit
        self.scope = scope
        self.club = club
    }

    /// The holder of `UNIONGATE_ADMIN_TOKEN`.
    public static let root = Principal(name: "root", role: .admin, unit: nil, scope: .everything)
    /// Whoever runs `uniongate` on the server itself, with the database file in hand.
    public static let commandLine = Principal(name: "cli", role: .admin, unit: nil, scope: .everything)

    /// The gateway itself, acting on its own schedule (escalating overdue cases).
    public static let system = Principal(name: "system", role: .admin, unit: nil, scope: .everything)
    /// The Replies folder, changed on disk by whoever edits it: recorded when the server reloads it.
    public static let repliesFolder = Principal(name: "replies", role: .editor, unit: nil, scope: .everything)

    /// A member acting on their own pages (binding their WeChat to the roster), as the audit
    /// log names them: `member:` and the start of their openid. They may do nothing as staff.
    public static func member(_ openid: String) -> Principal {
        Principal(name: "member:" + PersonalData.maskOpenID(openid), role: .viewer, unit: nil, scope: .units([]))
    }

    /// A staff member, seeing their unit's subtree of `organisation`.
    public static func staff(_ member: StaffMember, in organisation: Organisation) -> Principal {
        Principal(
            name: member.name, role: member.role, unit: member.unitCode,
            scope: member.clubId == nil ? .of(unit: member.unitCode, in: organisation) : .units([]),
            club: member.clubId)
    }

    /// Whether the role allows `permission`. Administering (audit, outbox, staff) also needs the
    /// whole tree in view, except for reading the audit log of one's own part.
    public func may(_ permission: Permission) -> Bool {
        role.permissions.contains(permission)
    }

    /// Refuses (403) what the role does not allow.
    public func require(_ permission: Permission) throws {
        guard may(permission) else {
            throw AdminActionError(.forbidden, "the \(role.rawValue) role may not do this (\(permission.rawValue))")
        }
    }

    /// Refuses (403) what needs the whole tree in view.
    public func requireWholeTree(_ permission: Permission) throws {
        try require(permission)
        guard scope == .everything else {
            throw AdminActionError(.forbidden, "only staff of the top unit may do this (\(permission.rawValue))")
        }
    }
}
