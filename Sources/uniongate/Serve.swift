import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ReplyRules
import UnionGateServer
import WeChatWire

extension UnionGate {
    /// `uniongate serve`: runs the webhook server.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the webhook server.",
            discussion: """
                Environment: WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_ENCODING_AES_KEY, \
                WECHAT_API_BASE_URL (https; WECHAT_API_ALLOW_HTTP=1 accepts http for a local test API), WECHAT_MODE (plain, compatible or safe), UNIONGATE_ADMIN_TOKEN, \
                UNIONGATE_PUBLIC_URL, UNIONGATE_REPLAY_WINDOW (seconds; 0 turns the check off), UNIONGATE_MEMBER_SIGN_IN, \
                UNIONGATE_MEMBER_IDLE, WECHAT_OPEN_BASE_URL (WeChat's web authorisation host), UNIONGATE_TRUSTED_PROXIES. Flags override them. \
                A missing WECHAT_TOKEN or UNIONGATE_ADMIN_TOKEN is generated once and kept in the database.
                """)

        @Option(name: .long, help: "The address to listen on.")
        var hostname: String = "127.0.0.1"

        @Option(name: .long, help: "The port to listen on.")
        var port: Int = 8080

        @OptionGroup var replies: RepliesOptions
        @OptionGroup var database: DatabaseOptions

        @Option(
            name: .long,
            help: """
                The file where messages wait while the database cannot write (default: UNIONGATE_JOURNAL, else \
                <database>.journal beside an SQLite file, or uniongate-<database>.journal in the working directory \
                for PostgreSQL). Each instance needs its own.
                """)
        var journal: String?

        @Option(
            name: .long,
            help: """
                Minutes without a request after which a web console (/admin/) session ends \
                (default: UNIONGATE_CONSOLE_IDLE, else 30).
                """)
        var consoleIdle: Int?

        @Option(
            name: .long,
            help: """
                How members get into their pages (/m/): oauth (WeChat's web authorisation; a certified 服务号, with \
                UNIONGATE_PUBLIC_URL on its web authorisation domain) or link (a personal link sent in the chat; \
                every account). Default: UNIONGATE_MEMBER_SIGN_IN, else link.
                """)
        var memberSignIn: String?

        @Option(
            name: .long,
            help: """
                Minutes without a request after which a member's session on their pages ends \
                (default: UNIONGATE_MEMBER_IDLE, else 120).
                """)
        var memberIdle: Int?

        @Option(
            name: .long, help: "Seconds a reply may take before WeChat is answered 'success' and the reply sent later.")
        var replyDeadline: Double = 4.5

        @Option(name: .long, help: "The most connections open at once; more are closed as they open.")
        var maxConnections: Int = 4096

        @Option(
            name: .customLong("trusted-proxy"), parsing: .upToNextOption,
            help: """
                A reverse proxy (an address or a network such as 10.0.0.0/8; several may follow) whose \
                X-Forwarded-For / X-Real-IP give the client's address, for sign-in limits and the audit log. \
                Requests from other peers are taken at their own address, whatever they send. \
                Default: UNIONGATE_TRUSTED_PROXIES (separated by commas), else none.
                """)
        var trustedProxies: [String] = []

        @Option(name: .long, help: "Seconds a connection may stay idle before it is closed.")
        var idleTimeout: Double = 60

        @Option(name: .long, help: "Seconds a client may take to send one whole request.")
        var requestTimeout: Double = 10

        @Option(
            name: .long,
            help: """
                Seconds a graceful shutdown (SIGTERM, SIGINT) may take: then the work in hand is cancelled, \
                and if that has not ended it 5 s later, the process exits with status 1.
                """)
        var shutdownTimeout: Double = 10

        func run() async throws {
            let environment = GatewayEnvironment()
            var logger = Logger(label: "uniongate")
            logger.logLevel = environment.logLevel ?? .info

            var configuration = GatewayConfiguration()
            configuration.hostname = hostname
            configuration.port = port
            configuration.repliesDirectory = replies.replies
            configuration.databasePath = database.location
            configuration.journalPath = journal ?? environment.journal
            let idle = consoleIdle ?? environment.consoleIdle.flatMap { Int($0) } ?? 30
            guard (1...1440).contains(idle) else {
                throw ValidationError("--console-idle is 1 to 1440 minutes, not \(idle)")
            }
            configuration.consoleIdleSeconds = Int64(idle) * 60
            let memberIdle = memberIdle ?? environment.memberIdle.flatMap { Int($0) } ?? 120
            guard (1...10080).contains(memberIdle) else {
                throw ValidationError("--member-idle is 1 to 10080 minutes, not \(memberIdle)")
            }
            configuration.memberIdleSeconds = Int64(memberIdle) * 60
            do {
                try environment.apply(to: &configuration)
                if let mode = try environment.memberSignInMode(flag: memberSignIn) { configuration.memberSignIn = mode }
                if let proxies = try environment.trustedProxies(flags: trustedProxies) {
                    configuration.trustedProxies = proxies
                }
            } catch let error as ValidationError {
                printError("uniongate: \(error.message)")
                throw ExitCode.configuration
            }
            configuration.replyDeadline = .milliseconds(Int64(replyDeadline * 1000))
            configuration.maxConnections = maxConnections
            configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
            configuration.requestReadTimeout = .milliseconds(Int64(requestTimeout * 1000))

            let application: any ApplicationProtocol
            do {
                application = try await buildApplication(configuration: configuration, logger: logger)
            } catch let problems as RuleProblems {
                printError(problems.description)
                printError("uniongate: the Replies folder has errors; fix them (see `uniongate check`) and start again")
                throw ExitCode.configuration
            } catch let error as ConfigurationError {
                printError("uniongate: \(error)")
                throw ExitCode.configuration
            }
            try await Self.run(application, shutdownTimeout: shutdownTimeout, logger: logger)
        }

        /// Runs the application until SIGTERM or SIGINT, with a hard limit on the shutdown.
        static func run(_ application: any ApplicationProtocol, shutdownTimeout: Double, logger: Logger) async throws {
            let limit = Duration.milliseconds(Int64(max(shutdownTimeout, 0) * 1000))
            var configuration = ServiceGroupConfiguration(
                services: [
                    .init(service: application),
                    .init(
                        service: ShutdownWatchdog(limit: limit + .seconds(5), logger: logger),
                        successTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            configuration.maximumGracefulShutdownDuration = limit
            try await ServiceGroup(configuration: configuration).run()
        }
    }
}

extension ExitCode {
    /// A configuration `serve` refuses (sysexits' EX_CONFIG): a supervisor should not restart
    /// it until someone fixes it (deploy/systemd/uniongate.service).
    static let configuration = ExitCode(78)
}

/// Ends the process if a shutdown overruns its limit: once graceful shutdown begins, a thread
/// of its own waits `limit` and exits with status 1. A shutdown that finishes first ends the
/// process, and the thread with it.
struct ShutdownWatchdog: Service {
    let limit: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        let logger = self.logger
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: seconds)
            logger.critical("shutdown did not finish in time; exiting", metadata: ["seconds": "\(seconds)"])
            exit(1)
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
