import ArgumentParser
import ReplyRules
import UnionServices

/// A `--status` value as `Status`, or a usage error naming the allowed values.
func parseStatus<Status: RawRepresentable & CaseIterable>(_ text: String?, as type: Status.Type) throws -> Status?
where Status.RawValue == String {
    guard let text else { return nil }
    guard let status = Status(rawValue: text) else {
        throw ValidationError("status must be one of \(Status.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return status
}

/// Runs an admin action on the store, with a refusal turned into a usage error the CLI prints.
func adminAction<Value>(_ options: DatabaseOptions, _ action: (UnionStore) async throws -> Value) async throws
    -> Value
{
    try await withStore(options) { store in
        do {
            return try await action(store)
        } catch let error as AdminActionError {
            throw ValidationError(error.message)
        }
    }
}

func localTime(_ unixSeconds: Int64) -> String {
    let time = LocalTime(unixSeconds: unixSeconds, utcOffsetMinutes: 480)
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(time.year)-\(two(time.month))-\(two(time.day)) \(two(time.hour)):\(two(time.minute))"
}

extension UnionGate {
    /// `uniongate members`: join applications.
    struct Members: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, approve and reject join applications.",
            subcommands: [List.self, Approve.self, Reject.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List join applications (newest first).")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "Only pending, approved or rejected applications.") var status: String?
            @Flag(help: "Print CSV (UTF-8 with BOM, for Excel) instead of a table.") var csv = false

            func run() async throws {
                let filter = try parseStatus(status, as: MembershipApplication.Status.self)
                let list = try await withStore(database) { store in
                    let list = try await MembershipRegistry(store: store).list(status: filter)
                    if csv {
                        try await AuditLog.record(
                            .commandLine, action: "members.export", record: "members",
                            details: ["rows": String(list.count), "status": status ?? ""], at: UnixTime.now(), in: store
                        )
                    }
                    return list
                }
                if csv {
                    print(CSVExport.members(list), terminator: "")
                    return
                }
                let rows =
                    [["ID", "编号", "姓名", "手机号", "单位/部门", "状态", "申请时间"]]
                    + list.map {
                        [
                            String($0.id), $0.number, $0.name, $0.phone, $0.unit, $0.status.chinese,
                            localTime($0.createdAt),
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(list.count) 条。")
            }
        }

        struct Approve: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Approve a pending application; the member is notified.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The application's ID (see `members list`).") var id: Int

            func run() async throws {
                let application = try await adminAction(database) {
                    try await MembershipRegistry(store: $0).approve(id, at: UnixTime.now())
                }
                print("已通过：\(application.number) \(TextTable.terminalSafe(application.name))。通知已加入发送队列。")
            }
        }

        struct Reject: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Reject a pending application with a reason; the member is notified.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The application's ID (see `members list`).") var id: Int
            @Option(help: "The reason the member is told.") var reason: String

            func run() async throws {
                let application = try await adminAction(database) {
                    try await MembershipRegistry(store: $0).reject(id, reason: reason, at: UnixTime.now())
                }
                print("未通过：\(application.number) \(TextTable.terminalSafe(application.name))。通知已加入发送队列。")
            }
        }
    }

    /// `uniongate suggestions`: the suggestion box.
    struct Suggestions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List suggestions and update their status.", subcommands: [List.self, Update.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List suggestions (newest first).")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "Only suggestions with this status.") var status: String?
            @Flag(help: "Print CSV (UTF-8 with BOM, for Excel) instead of a table.") var csv = false

            func run() async throws {
                let filter = try parseStatus(status, as: Suggestion.Status.self)
                let list = try await withStore(database) { store in
                    let list = try await SuggestionBox(store: store).list(status: filter)
                    if csv {
                        try await AuditLog.record(
                            .commandLine, action: "suggestions.export", record: "suggestions",
                            details: ["rows": String(list.count), "status": status ?? ""], at: UnixTime.now(), in: store
                        )
                    }
                    return list
                }
                if csv {
                    print(CSVExport.suggestions(list), terminator: "")
                    return
                }
                let rows =
                    [["ID", "编号", "状态", "提交时间", "内容"]]
                    + list.map {
                        [
                            String($0.id), $0.number, $0.status.chinese, localTime($0.createdAt),
                            String($0.content.prefix(40)),
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(list.count) 条。")
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Change a suggestion's status and/or reply; the member is notified.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The suggestion's ID (see `suggestions list`).") var id: Int
            @Option(help: "received, under_review, adopted, not_adopted or rewarded.") var status: String?
            @Option(help: "The union's reply to the member.") var reply: String?

            func run() async throws {
                let parsed = try parseStatus(status, as: Suggestion.Status.self)
                let suggestion = try await adminAction(database) {
                    try await SuggestionBox(store: $0).update(id, status: parsed, reply: reply, at: UnixTime.now())
                }
                print("已更新：\(suggestion.number) \(suggestion.status.chinese)。通知已加入发送队列。")
            }
        }
    }
}
