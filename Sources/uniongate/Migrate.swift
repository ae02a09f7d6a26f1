import ArgumentParser
import Foundation
import UnionServices

/// `uniongate migrate --from ./uniongate.sqlite --to postgres://…`: moves a union to PostgreSQL.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a union's data from its SQLite file into an empty PostgreSQL database.",
        discussion: """
            Every table is copied in one PostgreSQL transaction and the row counts are compared \
            before it commits. A database that already holds data is refused. Stop the gateway \
            first, so that nothing is written to the SQLite file meanwhile.
            """)

    @Option(name: .long, help: "The SQLite file to copy from.")
    var from: String

    @Option(name: .long, help: "The PostgreSQL database to copy into (postgres://user:password@host:5432/db).")
    var to: String

    func run() async throws {
        guard FileManager.default.fileExists(atPath: from) else {
            printError("uniongate: \(from) does not exist")
            throw ExitCode(1)
        }
        let target: DatabaseLocation
        do {
            target = try DatabaseLocation(to)
        } catch {
            printError("uniongate: \(error)")
            throw ExitCode(1)
        }
        guard case .postgres = target else {
            printError("uniongate: --to must be a postgres:// or postgresql:// URL")
            throw ExitCode(1)
        }
        let logger = quietLogger("uniongate.migrate")
        do {
            let source = try await UnionStore.open(.sqlite(path: from), logger: logger)
            let counts: [StoreCopy.TableCount]
            do {
                let destination = try await UnionStore.open(target, logger: logger)
                do {
                    counts = try await StoreCopy.copy(from: source, to: destination)
                } catch {
                    await destination.close()
                    throw error
                }
                await destination.close()
            } catch {
                await source.close()
                throw error
            }
            await source.close()
            print(
                TextTable.render(
                    [["表", "SQLite", "PostgreSQL"]] + counts.map { [$0.table, String($0.source), String($0.target)] }))
            print("已复制 \(counts.reduce(0) { $0 + $1.target }) 行到 \(target)，各表行数一致。")
        } catch {
            printError("uniongate: migrate failed, nothing was kept: \(error)")
            throw ExitCode(1)
        }
    }
}
