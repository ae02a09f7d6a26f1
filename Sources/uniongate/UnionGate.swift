import ArgumentParser

/// The `uniongate` command: the server and the tools union office staff use beside it.
@main
struct UnionGate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uniongate",
        abstract: "The server behind a trade union's WeChat official account.",
        version: "0.1.0",
        subcommands: [Serve.self]
    )
}

extension UnionGate {
    /// Runs the webhook server. Arrives with the server issue; until then it says so.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the webhook server (not yet available).")

        func run() throws {
            print("uniongate serve: the webhook server is not built yet; the wire-protocol library is.")
            throw ExitCode(2)
        }
    }
}
