import ArgumentParser
import Foundation
import UnionServices

/// The SQLite file and media folder `backup` and `restore` work on.
struct BackupOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: "The media folder (default: media beside the database).")
    var media: String?

    /// The database file and the media folder, or an exit that says why not (for PostgreSQL,
    /// the commands to use instead).
    func files(for command: String) throws -> (database: String, media: String?) {
        let location: DatabaseLocation
        do {
            location = try DatabaseLocation(database.location)
        } catch {
            printError("uniongate: \(error)")
            throw ExitCode(1)
        }
        switch location {
        case .sqlite(":memory:"):
            printError("uniongate: \(command) needs a database file, not :memory:")
            throw ExitCode(1)
        case .sqlite:
            return (location.description, media ?? location.mediaFolder)
        case .postgres:
            printError(
                "uniongate: \(command) is for the SQLite file; for PostgreSQL use pg_dump --format=custom and pg_restore "
                    + "(see the README, \"Backups\")")
            throw ExitCode(1)
        }
    }
}

/// `uniongate backup --to FILE`: a consistent copy of the live SQLite database and its media.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the SQLite database and its media files into one backup file, while the gateway serves.",
        discussion: """
            The copy is the database as of one commit (SQLite's VACUUM INTO, in one read transaction); the \
            gateway goes on answering meanwhile. The file is a ZIP: uniongate.sqlite, media/…, manifest.json. \
            It holds members' personal data: keep it as safe as the database. An existing file is never \
            overwritten. For PostgreSQL, use pg_dump (see the README).
            """)

    @OptionGroup var options: BackupOptions

    @Option(name: .long, help: "The backup file to write (it must not exist yet).")
    var to: String

    func run() async throws {
        let files = try options.files(for: "backup")
        do {
            let summary = try await StoreBackup.backup(
                database: files.database, media: files.media, to: to,
                logger: quietLogger("uniongate.backup"))
            print(
                "已备份到 \(to)：数据库 \(summary.databaseBytes / 1024) KB（结构版本 \(summary.schemaVersion)），"
                    + "附件 \(summary.mediaFiles) 个。")
        } catch {
            printError("uniongate: backup failed, no backup file was left: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `uniongate restore --from FILE`: puts a backup back, with the gateway stopped.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Put a backup made by `uniongate backup` back in place of the SQLite database and its media.",
        discussion: """
            Refused while a gateway or another uniongate command has the database open: stop the gateway first. \
            The backup is checked (SQLite's integrity check, a schema this version knows) before anything is \
            touched; the database and media folder it replaces are kept beside them as \
            <name>.before-restore-<time>. The gateway then starts on the restored data as usual.
            """)

    @OptionGroup var options: BackupOptions

    @Option(name: .long, help: "The backup file to restore.")
    var from: String

    func run() async throws {
        let files = try options.files(for: "restore")
        guard FileManager.default.fileExists(atPath: from) else {
            printError("uniongate: \(from) does not exist")
            throw ExitCode(1)
        }
        do {
            let summary = try await StoreBackup.restore(
                from: from, database: files.database, media: files.media,
                logger: quietLogger("uniongate.restore"))
            print(
                "已从 \(from) 恢复（备份于 \(StoreBackup.stamp(summary.createdAt)) UTC，结构版本 \(summary.schemaVersion)，"
                    + "附件 \(summary.mediaFiles) 个）。")
            for path in summary.keptAside ?? [] { print("原有文件已保留为 \(path)") }
        } catch {
            printError("uniongate: restore failed, nothing was changed: \(error)")
            throw ExitCode(1)
        }
    }
}
