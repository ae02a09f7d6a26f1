import ArgumentParser
import Foundation
import ReplyRules
import UnionServices

extension UnionGate {
    /// `uniongate cases`: the inbox (留言).
    struct Cases: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List, show, answer and close members' cases (messages no rule answered).",
            subcommands: [List.self, Show.self, Reply.self, Close.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List cases (newest first).")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "Only open, answered or closed cases.") var status: String?
            @Flag(help: "Only cases waiting past their due time.") var overdue = false
            @Option(help: "How many.") var limit = 50

            func run() async throws {
                let status = try parseStatus(status, as: MemberCase.Status.self)
                let now = UnixTime.now()
                let page = try await withStore(database) {
                    try await Inbox(store: $0).page(
                        RecordFilter(status: status?.rawValue), overdueAt: overdue ? now : nil,
                        request: try PageRequest(perPage: min(max(limit, 1), PageRequest.maxPerPage)))
                }
                let rows =
                    [["ID", "编号", "状态", "单位", "收到", "答复期限", "评分"]]
                    + page.items.map {
                        [
                            String($0.id), $0.number, $0.isOverdue(at: now) ? "已超期" : $0.status.chinese, $0.unitCode,
                            localTime($0.createdAt), localTime($0.dueAt), $0.rating.map(String.init) ?? "",
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(page.total) 条。")
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a case and its thread.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The case's ID (see `cases list`).") var id: Int

            func run() async throws {
                let (memberCase, messages) = try await adminAction(database) {
                    try await Inbox(store: $0).thread(id, for: .commandLine)
                }
                print("\(memberCase.number)（\(memberCase.status.chinese)），答复期限 \(localTime(memberCase.dueAt))")
                for message in messages {
                    let who = message.direction == "staff" ? "工会（\(message.author ?? "")）" : "职工"
                    print("\(localTime(message.createdAt)) \(who)：\(TextTable.terminalSafe(message.content))")
                }
            }
        }

        struct Reply: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Answer a case; the member is sent the reply.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The case's ID.") var id: Int
            @Option(help: "The reply.") var text: String

            func run() async throws {
                let memberCase = try await adminAction(database) {
                    try await Inbox(store: $0).reply(id, text: text, by: .commandLine, at: UnixTime.now())
                }
                print("已答复 \(memberCase.number)，消息已加入发送队列。")
            }
        }

        struct Close: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Close a case; the member is asked to rate the answer.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The case's ID.") var id: Int

            func run() async throws {
                let memberCase = try await adminAction(database) {
                    try await Inbox(store: $0).close(id, by: .commandLine, at: UnixTime.now())
                }
                print("已办结 \(memberCase.number)，已请职工打分。")
            }
        }
    }
}

extension UnionGate {
    /// `uniongate notices`: notices WeChat would not deliver.
    struct Notices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Notices WeChat would not deliver (outside the 48-hour window).", subcommands: [Pending.self])

        struct Pending: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The members to call (需电话通知), with their phone numbers and what is waiting.")
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                let list = try await withStore(database) { try await Outbox.phoneNotices(for: .commandLine, in: $0) }
                let rows =
                    [["姓名", "手机号", "单位", "等待自", "待通知内容", "未送达原因"]]
                    + list.map {
                        [
                            TextTable.terminalSafe($0.name), $0.phone, $0.unitCode, localTime($0.since),
                            TextTable.terminalSafe(String($0.notices.joined(separator: " / ").prefix(60))),
                            TextTable.terminalSafe(String(($0.why.last ?? "").prefix(60))),
                        ]
                    }
                print(TextTable.render(rows))
                print("共 \(list.count) 人需电话通知。")
            }
        }
    }
}
