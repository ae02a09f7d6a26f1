import ArgumentParser
import Foundation

/// The `uniongate` command: the server and the tools union office staff use beside it.
@main
struct UnionGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uniongate",
        abstract: "The server behind a trade union's WeChat official account.",
        version: "0.2.0",
        subcommands: [
            Serve.self, Check.self, Chat.self, Members.self, Suggestions.self, MenuCommand.self, OutboxCommand.self,
            Staff.self, Audit.self, QR.self, Cases.self, Notices.self, Migrate.self, BackupCommand.self,
            RestoreCommand.self,
        ]
    )
}

/// Options every command that reads the rules shares.
struct RepliesOptions: ParsableArguments {
    @Option(name: .long, help: "The Replies folder.")
    var replies: String = "./Replies"
}

/// Options every command that opens the store shares.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: """
            The SQLite database file (or :memory:), or a PostgreSQL URL \
            (postgres://user:password@host:5432/database?sslmode=prefer&pool_size=8). \
            Default: DATABASE_URL, else ./uniongate.sqlite.
            """)
    var database: String?

    @Option(
        name: .long,
        help: """
            PostgreSQL only: the most connections this process opens, 1–200 \
            (default: DATABASE_POOL_SIZE, else the URL's pool_size, else 8).
            """)
    var databasePool: Int?

    /// The flag, else `DATABASE_URL`, else the SQLite file in the working directory; a pool size,
    /// when one is given, goes into the PostgreSQL URL's `pool_size`.
    var location: String {
        guard let pool = poolSize, var components = URLComponents(string: given) else { return given }
        components.queryItems =
            (components.queryItems ?? []).filter { !["pool_size", "pool_max"].contains($0.name) }
            + [URLQueryItem(name: "pool_size", value: String(pool))]
        return components.string ?? given
    }

    private var given: String { database ?? EnvironmentVariables.value("DATABASE_URL") ?? "./uniongate.sqlite" }

    private var poolSize: Int? { databasePool ?? EnvironmentVariables.value("DATABASE_POOL_SIZE").flatMap { Int($0) } }

    func validate() throws {
        if databasePool == nil, let text = EnvironmentVariables.value("DATABASE_POOL_SIZE"), Int(text) == nil {
            throw ValidationError("DATABASE_POOL_SIZE must be a number from 1 to 200, not \(text)")
        }
        guard let pool = poolSize else { return }
        guard (1...200).contains(pool) else {
            throw ValidationError("--database-pool must be a number from 1 to 200, not \(pool)")
        }
        guard given.hasPrefix("postgres://") || given.hasPrefix("postgresql://") else {
            throw ValidationError(
                "--database-pool (DATABASE_POOL_SIZE) is for PostgreSQL; SQLite writes through one connection")
        }
    }
}
