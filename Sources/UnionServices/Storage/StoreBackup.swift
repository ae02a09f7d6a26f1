import Foundation
import Logging
import SQLiteKit
import ZIPFoundation

#if canImport(Glibc)
    import Glibc
#endif

/// Backups of an SQLite store (`uniongate backup` and `uniongate restore`): one ZIP file holding
/// a consistent copy of the database, the media files kept beside it, and a manifest.
///
/// The copy is made with SQLite's `VACUUM INTO` on a connection of its own: it reads the
/// database in one read transaction, so it is the database as of one commit, while the gateway
/// goes on writing (WAL mode lets readers and the writer run side by side). Media files are
/// copied after it: every file a copied row names was written before its row.
///
/// A restore refuses a database that a process has open (each ``UnionStore`` on an SQLite file
/// holds a shared lock on `<file>.lock`), checks the copy (SQLite's integrity check, a schema
/// this build knows) before it touches anything, and keeps what it replaces beside it
/// (`<file>.before-restore-<time>`, and the media folder likewise).
public enum StoreBackup {
    /// What a backup holds, or a restore put back.
    public struct Summary: Sendable, Hashable, Codable {
        /// The format, for later versions.
        public var format: Int
        /// When the backup was made, Unix seconds.
        public var createdAt: Int64
        /// The newest schema migration in the copy.
        public var schemaVersion: Int
        /// The database copy's size in bytes.
        public var databaseBytes: Int64
        /// How many media files it holds.
        public var mediaFiles: Int
        /// Where a restore moved what it replaced; nil in a backup.
        public var keptAside: [String]?
    }

    static let databaseEntry = "uniongate.sqlite"
    static let manifestEntry = "manifest.json"
    static let mediaPrefix = "media/"

    /// Copies the SQLite database at `database`, and the files in `media` when it exists, into
    /// a new ZIP file at `destination`. Nothing is left at `destination` unless it succeeds.
    ///
    /// - Throws: ``StoreError`` when the database cannot be read or `destination` exists.
    @discardableResult
    public static func backup(
        database: String, media: String?, to destination: String, logger: Logger, now: Int64 = UnixTime.now()
    ) async throws -> Summary {
        let files = FileManager.default
        guard files.fileExists(atPath: database) else { throw StoreError("there is no database at \(database)") }
        guard !files.fileExists(atPath: destination) else {
            throw StoreError("\(destination) exists already; a backup never overwrites a file (choose a new name)")
        }
        let partial = destination + ".partial"
        let copy = destination + ".sqlite-partial"
        try? files.removeItem(atPath: partial)
        try? files.removeItem(atPath: copy)
        defer {
            try? files.removeItem(atPath: partial)
            try? files.removeItem(atPath: copy)
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: database), logger: logger)
        let schema: Int
        do {
            _ = try await connection.query("PRAGMA busy_timeout = 10000")
            _ = try await connection.query("VACUUM INTO ?", [.text(copy)])
            schema = try await newestMigration(connection)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw StoreError("the database could not be copied: \(error)")
        }
        let media = media.flatMap { files.fileExists(atPath: $0) ? $0 : nil }
        var summary = Summary(
            format: 1, createdAt: now, schemaVersion: schema,
            databaseBytes: (try? files.attributesOfItem(atPath: copy)[.size] as? Int64) ?? 0, mediaFiles: 0)
        do {
            let archive = try Archive(url: URL(fileURLWithPath: partial), accessMode: .create)
            try archive.addEntry(with: databaseEntry, fileURL: URL(fileURLWithPath: copy), compressionMethod: .deflate)
            if let media {
                let base = URL(fileURLWithPath: media)
                for relative in try mediaFiles(in: media) {
                    try archive.addEntry(
                        with: mediaPrefix + relative, fileURL: base.appendingPathComponent(relative),
                        compressionMethod: .none)  // photos and PDFs are compressed already
                    summary.mediaFiles += 1
                }
            }
            let manifest = try JSONEncoder().encode(summary)
            try archive.addEntry(
                with: manifestEntry, type: .file, uncompressedSize: Int64(manifest.count),
                provider: { position, size in manifest.subdata(in: Int(position)..<Int(position) + size) })
        } catch {
            throw StoreError("the backup could not be written: \(error)")
        }
        try? files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: partial)  // members' data
        guard rename(partial, destination) == 0 else {
            throw StoreError("the backup could not be moved to \(destination): \(String(cString: strerror(errno)))")
        }
        return summary
    }

    /// Reads a backup's manifest.
    public static func manifest(of backup: String) throws -> Summary {
        let archive = try open(backup)
        guard let entry = archive[manifestEntry] else { throw StoreError("\(backup) is not a UnionGate backup") }
        var data = Data()
        _ = try archive.extract(entry) { data.append($0) }
        return try JSONDecoder().decode(Summary.self, from: data)
    }

    /// Puts the backup at `backup` in place of the database at `database` and of the media
    /// folder `media`. What was there is kept aside, not deleted.
    ///
    /// - Throws: ``StoreError`` when a process has the database open, the backup is not one or
    ///   fails its checks (nothing is changed then), or a file cannot be moved.
    @discardableResult
    public static func restore(
        from backup: String, database: String, media: String?, logger: Logger, now: Int64 = UnixTime.now()
    ) async throws -> Summary {
        let lock: FileLock
        switch FileLock.take(database + ".lock", exclusive: true) {
        case .locked(let taken): lock = taken
        case .held:
            throw StoreError(
                "\(database) is in use (a gateway or another uniongate command has it open); stop it first")
        case .unopenable(let reason): throw StoreError("\(database).lock cannot be opened: \(reason)")
        }
        defer { lock.release() }
        let files = FileManager.default
        var summary = try manifest(of: backup)
        let archive = try open(backup)
        let staged = database + ".restoring"
        let stagedMedia = media.map { $0 + ".restoring" }
        try? files.removeItem(atPath: staged)
        if let stagedMedia { try? files.removeItem(atPath: stagedMedia) }
        var done = false
        defer {
            if !done {
                try? files.removeItem(atPath: staged)
                if let stagedMedia { try? files.removeItem(atPath: stagedMedia) }
            }
        }
        guard let entry = archive[databaseEntry] else { throw StoreError("\(backup) holds no database") }
        _ = try archive.extract(entry, to: URL(fileURLWithPath: staged))
        try? files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: staged)
        try await check(staged, logger: logger)
        if let stagedMedia {
            try files.createDirectory(atPath: stagedMedia, withIntermediateDirectories: true)
            for entry in archive where entry.path.hasPrefix(mediaPrefix) {
                let relative = String(entry.path.dropFirst(mediaPrefix.count))
                guard entry.type == .file, isSafe(relative) else {
                    throw StoreError(
                        "\(backup) holds an entry that is not a plain media file: \(entry.path.prefix(120))")
                }
                _ = try archive.extract(entry, to: URL(fileURLWithPath: stagedMedia).appendingPathComponent(relative))
            }
        }
        // Checked: now move what is there aside, then the copy in.
        let stamp = Self.stamp(now)
        var aside: [String] = []
        for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: database + suffix) {
            let target = database + ".before-restore-" + stamp + suffix
            try move(database + suffix, to: target)
            aside.append(target)
        }
        try move(staged, to: database)
        if let media, let stagedMedia {
            if files.fileExists(atPath: media) {
                let target = media + ".before-restore-" + stamp
                try move(media, to: target)
                aside.append(target)
            }
            try move(stagedMedia, to: media)
        }
        done = true
        summary.keptAside = aside
        return summary
    }

    /// The files under `folder`, as paths relative to it, sorted.
    static func mediaFiles(in folder: String) throws -> [String] {
        let base = URL(fileURLWithPath: folder).standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = base + "/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil
            else { continue }
            found.append(relative)
        }
        return found.sorted()
    }

    /// A relative path with no way out of its folder.
    static func isSafe(_ relative: String) -> Bool {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        return !relative.isEmpty && !relative.hasPrefix("/")
            && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    private static func open(_ backup: String) throws -> Archive {
        do {
            return try Archive(url: URL(fileURLWithPath: backup), accessMode: .read)
        } catch {
            throw StoreError("\(backup) cannot be read as a backup: \(error)")
        }
    }

    /// Checks a database copy: whole, and of a schema this build knows.
    private static func check(_ path: String, logger: Logger) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            let rows = try await connection.query("PRAGMA integrity_check")
            let verdict = rows.first?.column("integrity_check")?.string ?? rows.first?.columns.first?.data.string
            guard verdict == "ok" else {
                throw StoreError("the backup's database is damaged: \(verdict ?? "no answer")")
            }
            let version = try await newestMigration(connection)
            if let latest = Migrations.all.last?.version, version > latest {
                throw StoreError(
                    "the backup was made by a newer UnionGate (schema \(version), this build knows \(latest))")
            }
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error as? StoreError ?? StoreError("the backup's database cannot be read: \(error)")
        }
    }

    private static func newestMigration(_ connection: SQLiteConnection) async throws -> Int {
        let rows = try await connection.query("SELECT MAX(version) AS version FROM schema_migrations")
        return rows.first?.column("version")?.integer ?? 0
    }

    private static func move(_ source: String, to target: String) throws {
        guard rename(source, target) == 0 else {
            throw StoreError("\(source) could not be moved to \(target): \(String(cString: strerror(errno)))")
        }
    }

    /// `20261207-161500`, in UTC.
    public static func stamp(_ now: Int64) -> String {
        var time = time_t(now)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d%02d%02d-%02d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
