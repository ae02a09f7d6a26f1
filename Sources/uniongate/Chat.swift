import ArgumentParser
import Foundation
import Logging
import ReplyRules
import UnionServices
import WeChatWire

extension UnionGate {
    /// `uniongate chat`: talk to the account as a member from the terminal.
    struct Chat: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Talk to the account as a member, through the same rules and database as the server.",
            discussion: """
                Type a message and press Enter. Commands: /click KEY, /view URL, /subscribe [SCENE], \
                /scan SCENE, /image, /help, /quit. Saved changes to the Replies folder apply to the next message.
                """)

        @OptionGroup var replies: RepliesOptions
        @OptionGroup var database: DatabaseOptions

        @Option(name: .long, help: "The openid to chat as.")
        var openid: String = "terminal-member"

        func run() async throws {
            var logger = Logger(label: "uniongate.chat")
            logger.logLevel = GatewayEnvironment().logLevel ?? .error
            let rules: LiveRules
            do {
                rules = try LiveRules(directory: replies.replies, logger: logger)
            } catch let problems as RuleProblems {
                printError(problems.description)
                throw ExitCode(1)
            }
            var options = UnionCore.Options()
            options.publicURL = GatewayEnvironment().publicURL
            let core = try await UnionCore.open(
                databasePath: database.location, rules: rules, options: options, logger: logger)
            print("以会员 \(openid) 的身份和公众号对话。输入 /help 查看命令，/quit 退出。")
            var messageId = UInt64(UnixTime.now()) * 1000
            while let line = readLine() {
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/quit" || input == "/exit" { break }
                if input == "/help" {
                    print("命令：/click KEY  /view URL  /subscribe [场景值]  /scan 场景值  /image  /quit；其他输入作为文字消息发送。")
                    continue
                }
                guard let action = ChatInput.parse(input) else {
                    print("! 无法识别的命令：\(input)（输入 /help 查看命令）")
                    continue
                }
                rules.reloadIfChanged()
                messageId += 1
                let message = action.message(
                    account: "gh_terminal", sender: openid, createTime: UnixTime.now(), msgId: messageId)
                // Through the wire format both ways, so staff see exactly what members would.
                let received = try InboundMessage.parse(message.xml())
                let outcome = await core.dispatcher.handle(received)
                print(ChatTranscript.render(ReplyPlan(outcome, answering: received)))
            }
            await core.store.close()
        }
    }
}

/// Reads a chat line: text, or a slash command for a menu tap or an event.
enum ChatInput {
    static func parse(_ line: String) -> ConversationExample.Input? {
        guard line.hasPrefix("/") else { return .text(line) }
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        let argument = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
        switch parts[0] {
        case "/click": return argument.map { .click($0) }
        case "/view": return argument.map { .view($0) }
        case "/subscribe": return .subscribe(scene: argument)
        case "/scan": return argument.map { .scan($0) }
        case "/image": return .image
        default: return nil
        }
    }
}

/// Shows replies as a member would get them: the passive reply now, the rest marked as sent later.
enum ChatTranscript {
    static func render(_ plan: ReplyPlan) -> String {
        guard let passive = plan.passive else { return "（没有回复）" }
        var lines = ["< " + describe(passive).replacingOccurrences(of: "\n", with: "\n  ")]
        for body in plan.later.flatMap(\.bodies) {
            lines.append("< （稍后推送）" + describe(body).replacingOccurrences(of: "\n", with: "\n  "))
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ body: ReplyBody) -> String {
        switch body {
        case .news(let articles):
            articles.map { "【\($0.title)】\($0.description)\($0.url.isEmpty ? "" : " \($0.url)")" }.joined(
                separator: "\n")
        default:
            visibleText(of: [body])
        }
    }
}
