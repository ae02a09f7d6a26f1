import ArgumentParser

/// The `uniongate` command: the server and the tools union office staff use beside it.
@main
struct UnionGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uniongate",
        abstract: "The server behind a trade union's WeChat official account.",
        version: "0.2.0",
        subcommands: [
            Serve.self, Check.self, Chat.self, Members.self, Suggestions.self, MenuCommand.self, OutboxCommand.self,
            Staff.self, Audit.self, QR.self, Cases.self, Notices.self, Migrate.self,
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

    /// The flag, else `DATABASE_URL`, else the SQLite file in the working directory.
    var location: String { database ?? EnvironmentVariables.value("DATABASE_URL") ?? "./uniongate.sqlite" }
}
