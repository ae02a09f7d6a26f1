import ArgumentParser
import Foundation
import Logging
import ReplyRules
import UnionServices
import WeChatAPI

/// Options for commands that call WeChat's API.
struct WeChatOptions: ParsableArguments {
    @Option(name: .customLong("app-id"), help: "The AppID (default: WECHAT_APP_ID).") var appId: String?
    @Option(name: .customLong("app-secret"), help: "The AppSecret (default: WECHAT_APP_SECRET).") var appSecret: String?
    @Option(
        name: .customLong("api-base-url"),
        help: "WeChat's API address (default: WECHAT_API_BASE_URL or https://api.weixin.qq.com).")
    var apiBaseURL: String?

    func client(store: UnionStore, logger: Logger) throws -> WeChatAPIClient {
        let environment = GatewayEnvironment()
        guard let appId = appId ?? environment.appId, let secret = appSecret ?? environment.appSecret else {
            throw ValidationError("set WECHAT_APP_ID and WECHAT_APP_SECRET (or --app-id and --app-secret)")
        }
        let base = apiBaseURL ?? environment.apiBaseURL ?? WeChatAPIClient.defaultBaseURL
        let options = environment.apiOptions
        if let reason = WeChatAPIClient.refusal(ofBaseURL: base, allowsHTTP: options.allowsHTTP) {
            throw ValidationError(reason)
        }
        return WeChatAPIClient(
            baseURL: base, appId: appId, secret: secret, cache: StoreTokenCache(store: store), options: options,
            logger: logger)
    }
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = GatewayEnvironment().logLevel ?? .error
    return logger
}

/// Runs `body` with the store open, closing it however `body` ends.
func withStore<Value>(_ options: DatabaseOptions, _ body: (UnionStore) async throws -> Value) async throws -> Value {
    let store = try await UnionStore.open(path: options.location, logger: quietLogger("uniongate.store"))
    do {
        let value = try await body(store)
        await store.close()
        return value
    } catch {
        await store.close()
        throw error
    }
}

func loadMenu(_ replies: RepliesOptions) throws -> Menu {
    let book: RuleBook
    do {
        book = try RuleBookLoader().load(directory: replies.replies)
    } catch let problems as RuleProblems {
        print(problems.description)
        throw ExitCode(1)
    }
    guard let menu = book.menu else {
        throw ValidationError("the Replies folder has no menu (menu: in a .yaml file)")
    }
    return menu
}

extension UnionGate {
    /// `uniongate menu`: the account's custom menu.
    struct MenuCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "menu", abstract: "Publish, show or delete the account's menu.",
            subcommands: [Push.self, Show.self, Delete.self])

        struct Push: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check the Replies menu and publish it to WeChat.")
            @OptionGroup var replies: RepliesOptions
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var wechat: WeChatOptions

            func run() async throws {
                let menu = try loadMenu(replies)
                let buttons = MenuPublishing.buttons(
                    menu, publicURL: GatewayEnvironment().publicURL,
                    memberSignIn: try GatewayEnvironment().memberSignInMode(flag: nil) ?? .link)
                try await withStore(database) { store in
                    try await wechat.client(store: store, logger: quietLogger("uniongate.menu")).createMenu(
                        try MenuJSON.encode(buttons))
                    try await AuditLog.record(
                        .commandLine, action: "menu.push", record: "menu",
                        details: ["buttons": buttons.map(\.summary).joined(separator: " | ")], at: UnixTime.now(),
                        in: store)
                }
                print("菜单已发布（\(buttons.count) 个一级按钮）。微信客户端可能要几分钟后才显示新菜单。")
                for button in buttons {
                    print("  " + button.summary)
                    for sub in button.subButtons { print("    " + sub.summary) }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print WeChat's menu and how it differs from Replies.")
            @OptionGroup var replies: RepliesOptions
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var wechat: WeChatOptions

            func run() async throws {
                let answer = try await withStore(database) { store in
                    try await wechat.client(store: store, logger: quietLogger("uniongate.menu")).menu()
                }
                let published = MenuJSON.decode(answer)
                print(published.isEmpty ? "公众号上没有菜单。" : "公众号上的菜单：")
                for button in published {
                    print("  " + button.summary)
                    for sub in button.subButtons { print("    " + sub.summary) }
                }
                let wanted = MenuPublishing.buttons(
                    try loadMenu(replies), publicURL: GatewayEnvironment().publicURL,
                    memberSignIn: try GatewayEnvironment().memberSignInMode(flag: nil) ?? .link)
                let differences = MenuPublishing.differences(published: published, wanted: wanted)
                print(differences.isEmpty ? "与 Replies 里的菜单一致。" : "与 Replies 里的菜单不同：")
                for line in differences { print("  " + line) }
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove the account's menu.")
            @OptionGroup var database: DatabaseOptions
            @OptionGroup var wechat: WeChatOptions

            func run() async throws {
                try await withStore(database) { store in
                    try await wechat.client(store: store, logger: quietLogger("uniongate.menu")).deleteMenu()
                    try await AuditLog.record(
                        .commandLine, action: "menu.delete", record: "menu", at: UnixTime.now(), in: store)
                }
                print("菜单已删除。")
            }
        }
    }

    /// `uniongate outbox`: messages waiting for, or sent through, the customer-service API.
    struct OutboxCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "outbox", abstract: "List the outbox: queued, held, failed and sent messages.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only queued, sending, sent, failed or held messages.") var status: String?

        func run() async throws {
            let status = try parseStatus(status, as: OutboxMessage.Status.self)
            let messages = try await withStore(database) { store in
                try await Outbox.list(status: status, in: store)
            }
            let rows =
                [["ID", "状态", "原因", "尝试", "时间", "内容", "送达渠道", "说明"]]
                + messages.map { message in
                    let report = message.delivery.map { $0 == "success" ? "（已送达）" : "（\($0)）" } ?? ""
                    return [
                        String(message.id), message.status.rawValue,
                        message.notice?.kind.rawValue ?? message.reason.rawValue,
                        String(message.attempts), localTime(message.createdAt),
                        TextTable.terminalSafe(String(visibleText(of: message.bodies).prefix(30))),
                        message.channel.map { $0.chinese + report } ?? "",
                        TextTable.terminalSafe(
                            [message.channelNote, message.status == .sent ? nil : message.lastError].compactMap { $0 }
                                .joined(separator: "；")),
                    ]
                }
            print(TextTable.render(rows))
            print("共 \(messages.count) 条。")
        }
    }
}
