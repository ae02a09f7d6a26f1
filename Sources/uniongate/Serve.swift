import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ReplyRules
import UnionGateServer
import UnionServices
import WeChatAPI

extension UnionGate {
    /// `uniongate serve`: runs the webhook server.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the webhook server.",
            discussion: """
                Environment: WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_ENCODING_AES_KEY, \
                WECHAT_API_BASE_URL, UNIONGATE_ADMIN_TOKEN, UNIONGATE_PUBLIC_URL. Flags override them. \
                A missing WECHAT_TOKEN or UNIONGATE_ADMIN_TOKEN is generated once and kept in the database.
                """)

        @Option(name: .long, help: "The address to listen on.")
        var hostname: String = "127.0.0.1"

        @Option(name: .long, help: "The port to listen on.")
        var port: Int = 8080

        @OptionGroup var replies: RepliesOptions
        @OptionGroup var database: DatabaseOptions

        @Option(
            name: .long, help: "Seconds a reply may take before WeChat is answered 'success' and the reply sent later.")
        var replyDeadline: Double = 4.5

        func run() async throws {
            var logger = Logger(label: "uniongate")
            logger.logLevel = EnvironmentVariables.value("LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info

            var configuration = GatewayConfiguration()
            configuration.hostname = hostname
            configuration.port = port
            configuration.repliesDirectory = replies.replies
            configuration.databasePath = database.database
            configuration.wechatToken = EnvironmentVariables.value("WECHAT_TOKEN")
            configuration.appId = EnvironmentVariables.value("WECHAT_APP_ID")
            configuration.appSecret = EnvironmentVariables.value("WECHAT_APP_SECRET")
            configuration.encodingAESKey = EnvironmentVariables.value("WECHAT_ENCODING_AES_KEY")
            configuration.apiBaseURL = EnvironmentVariables.value("WECHAT_API_BASE_URL") ?? configuration.apiBaseURL
            configuration.adminToken = EnvironmentVariables.value("UNIONGATE_ADMIN_TOKEN")
            configuration.publicURL = EnvironmentVariables.value("UNIONGATE_PUBLIC_URL")
            configuration.replyDeadline = .milliseconds(Int64(replyDeadline * 1000))

            let rules: LiveRules
            do {
                rules = try LiveRules(directory: configuration.repliesDirectory, logger: logger)
            } catch let problems as RuleProblems {
                printError(problems.description)
                printError("uniongate: the Replies folder has errors; fix them (see `uniongate check`) and start again")
                throw ExitCode(1)
            }
            let store = try await UnionStore.open(path: configuration.databasePath, logger: logger)
            let secrets = try await GatewaySecrets.resolve(
                wechatToken: configuration.wechatToken, adminToken: configuration.adminToken, store: store)
            if let notice = secrets.startupNotice(publicURL: configuration.publicURL) {
                // Written straight through: under a pipe (systemd, docker) buffered stdout could hold it back.
                FileHandle.standardOutput.write(Data((notice + "\n").utf8))
            }
            let held = HeldNotices()
            let services = try await UnionServiceDesk.open(
                store: store, publicURL: configuration.publicURL, logger: logger, held: held)
            let dispatcher = Dispatcher(rules: rules, services: services, membership: services.members, logger: logger)
            // Late replies and notices always go to the outbox; it is sent when WeChat's API is configured.
            var worker: OutboxWorker?
            if let appId = configuration.appId, let secret = configuration.appSecret {
                let client = WeChatAPIClient(
                    baseURL: configuration.apiBaseURL, appId: appId, secret: secret,
                    cache: StoreTokenCache(store: store),
                    logger: logger)
                worker = OutboxWorker(store: store, sender: client, held: held, logger: logger)
            } else {
                logger.warning(
                    "WECHAT_APP_ID or WECHAT_APP_SECRET is not set: late replies and notices wait in the outbox unsent")
            }
            let gateway: Gateway
            do {
                gateway = try Gateway(
                    configuration: configuration, store: store, rules: rules, secrets: secrets, handler: dispatcher,
                    lateDelivery: OutboxLateDelivery(store: store, worker: worker, logger: logger), logger: logger)
            } catch let error as ConfigurationError {
                printError("uniongate: \(error)")
                throw ExitCode(1)
            }
            logger.info(
                "UnionGate starting",
                metadata: [
                    "address": "\(configuration.hostname):\(configuration.port)",
                    "replies": "\(configuration.repliesDirectory)",
                    "database": "\(configuration.databasePath)", "rules": "\(rules.engine.book.rules.count)",
                    "encryption":
                        "\(configuration.encodingAESKey == nil ? "plain only" : "plain, compatible and safe")",
                ])
            try await gateway.buildApplication(outbox: worker).runService()
            await store.close()
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
