import ArgumentParser
import Foundation
import ReplyRules
import UnionServices

/// The Replies folder's rules, or the loader's problems printed and exit status 1.
func loadBook(_ replies: RepliesOptions) throws -> RuleBook {
    do {
        return try RuleBookLoader().load(directory: replies.replies)
    } catch let problems as RuleProblems {
        print(problems.description)
        throw ExitCode(1)
    }
}

extension UnionGate {
    /// `uniongate staff`: staff accounts, their roles and tokens.
    struct Staff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list, disable staff accounts; reset passwords; make personal API tokens.",
            subcommands: [Add.self, List.self, Disable.self, ResetPassword.self, Token.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a staff account for a unit, with a role; prints a one-time password unless --password.")
            @OptionGroup var replies: RepliesOptions
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The sign-in name.") var name: String
            @Option(help: "The code of the unit they work for (org.yaml).") var unit: String
            @Option(help: "admin, editor, approver or viewer.") var role: String
            @Option(help: "Their password (8 characters or more); by default a one-time password is made.")
            var password: String?

            func run() async throws {
                guard let role = StaffRole(rawValue: role) else {
                    throw ValidationError(
                        "role must be one of \(StaffRole.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let organisation = try loadBook(replies).join.organisation
                let (member, secret) = try await adminAction(database) { store in
                    try await StaffDirectory(store: store).add(
                        name: name, unit: unit, role: role, password: password, organisation: organisation,
                        by: .commandLine, at: UnixTime.now())
                }
                let unitName = organisation.units[member.unitCode]?.name ?? member.unitCode
                print("已添加工作人员 \(TextTable.terminalSafe(member.name))（\(role.chinese)，\(unitName)）。")
                if password == nil {
                    print("一次性密码：\(secret)")
                    print("首次登录后须修改密码。")
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List staff accounts.")
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let list = try await withStore(database) { try await StaffDirectory(store: $0).list() }
                let rows =
                    [["名称", "单位代码", "角色", "状态", "创建时间"]]
                    + list.map {
                        [
                            TextTable.terminalSafe($0.name), $0.unitCode, $0.role.rawValue,
                            $0.disabled ? "已停用" : ($0.mustChangePassword ? "待改密码" : "正常"), localTime($0.createdAt),
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(list.count) 人。")
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Disable an account: its password and tokens stop working.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The sign-in name.") var name: String

            func run() async throws {
                _ = try await adminAction(database) {
                    try await StaffDirectory(store: $0).disable(name, by: .commandLine, at: UnixTime.now())
                }
                print("已停用 \(TextTable.terminalSafe(name))，其令牌已作废。")
            }
        }

        struct ResetPassword: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "reset-password", abstract: "Set a new one-time password (printed); tokens are revoked.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The sign-in name.") var name: String

            func run() async throws {
                let secret = try await adminAction(database) {
                    try await StaffDirectory(store: $0).resetPassword(name, by: .commandLine, at: UnixTime.now())
                }
                print("新的一次性密码：\(secret)")
                print("首次登录后须修改密码；原有令牌已作废。")
            }
        }

        struct Token: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a personal API token (shown once; only its digest is kept).")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The sign-in name.") var name: String

            func run() async throws {
                let token = try await adminAction(database) {
                    try await StaffDirectory(store: $0).createToken(for: name, by: .commandLine, at: UnixTime.now())
                }
                print(token)
            }
        }
    }

    /// `uniongate audit`: the audit log.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the audit log, newest first.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this action (member.approve, members.export, …).") var action: String?
        @Option(help: "How many entries.") var limit = 50

        func run() async throws {
            let request = try PageRequest(perPage: min(max(limit, 1), PageRequest.maxPerPage))
            let page = try await withStore(database) {
                try await AuditLog.page(for: .commandLine, action: action, request: request, in: $0)
            }
            func values(_ values: [String: String]?) -> String {
                guard let values else { return "" }
                return values.sorted { $0.key < $1.key }.map { "\($0.key)=\(String($0.value.prefix(30)))" }
                    .joined(separator: " ")
            }
            let rows =
                [["时间", "操作人", "操作", "记录", "单位", "之前", "之后"]]
                + page.items.map {
                    [
                        localTime($0.at), TextTable.terminalSafe($0.actor), $0.action,
                        TextTable.terminalSafe($0.record),
                        $0.unitCode, TextTable.terminalSafe(values($0.before)),
                        TextTable.terminalSafe(values($0.after)),
                    ]
                }
            print(TextTable.render(rows))
            print("共 \(page.total) 条，显示最近 \(page.items.count) 条。")
        }
    }

    /// `uniongate qr`: QR codes for joining a unit (扫码入会).
    struct QR: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "qr", abstract: "Make, list and delete the QR codes that join members to a unit.",
            subcommands: [Create.self, List.self, Delete.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a unit's join code through WeChat (permanent unless --days) and store its image.")
            @OptionGroup var replies: RepliesOptions
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var wechat: WeChatOptions
            @Option(help: "The unit's code (org.yaml).") var unit: String
            @Option(help: "A temporary code, living this many days (1–30).") var days: Int?

            func run() async throws {
                let organisation = try loadBook(replies).join.organisation
                let code = try await adminAction(database) { store in
                    try await QRCodes(store: store).create(
                        unit: unit, days: days, organisation: organisation,
                        client: try wechat.client(store: store, logger: quietLogger("uniongate.qr")), by: .commandLine,
                        at: UnixTime.now())
                }
                let name = organisation.units[unit]?.name ?? unit
                let kind = code.expiresAt.map { "临时二维码，\(localTime($0)) 到期" } ?? "永久二维码"
                print("已为「\(name)」生成\(kind)（场景 \(code.scene)）。")
                print("打印海报：GET /admin/qr/\(unit)")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the codes with their funnels.")
            @OptionGroup var replies: RepliesOptions
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let organisation = (try? RuleBookLoader().load(directory: replies.replies))?.join.organisation
                let list = try await withStore(database) { try await QRCodes(store: $0).list(for: .commandLine) }
                let rows =
                    [["单位代码", "单位", "类型", "扫码", "新关注", "开始申请", "提交申请", "审核通过", "状态"]]
                    + list.map { code, funnel in
                        [
                            code.unitCode, TextTable.terminalSafe(organisation?.units[code.unitCode]?.name ?? "？"),
                            code.permanent ? "永久" : "临时", String(funnel.scans), String(funnel.follows),
                            String(funnel.started), String(funnel.submitted), String(funnel.approved),
                            code.deleted ? "已删除" : (code.expiresAt.map { $0 <= UnixTime.now() ? "已过期" : "有效" } ?? "有效"),
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(list.count) 个二维码。")
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stop a unit's codes from filling in the unit (scans fall back to the ordinary 入会).")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "The unit's code.") var unit: String

            func run() async throws {
                let count = try await adminAction(database) {
                    try await QRCodes(store: $0).delete(unit: unit, by: .commandLine, at: UnixTime.now())
                }
                print("已删除 \(count) 个二维码。")
            }
        }
    }
}
