import Foundation
import Logging
import SQLKit
import Testing
import WeChatTestSupport
import ZIPFoundation

@testable import UnionServices

/// What `uniongate restore` refuses, and that a refusal changes nothing.
@Suite("Backups: refusals")
struct StoreBackupTests {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// A folder with a database holding one row of settings, and a media file.
    func prepared() async throws -> (folder: URL, database: String, media: String) {
        let folder = Scratch.folder.appendingPathComponent("store-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("uniongate.sqlite").path
        let store = try await UnionStore.open(path: database, logger: Self.quiet)
        await store.close()
        let media = folder.appendingPathComponent("media").path
        try FileManager.default.createDirectory(atPath: media, withIntermediateDirectories: true)
        try Data("photo".utf8).write(to: URL(fileURLWithPath: media + "/a.jpg"))
        return (folder, database, media)
    }

    func listing(_ folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for relative in try StoreBackup.mediaFiles(in: folder.path) {
            files[relative] = FileManager.default.contents(atPath: folder.path + "/" + relative)
        }
        return files
    }

    /// A ZIP made by hand with `entries`.
    func zip(_ entries: [(String, Data)], at path: String) throws {
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        for (name, data) in entries {
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count),
                provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
    }

    @Test func aBackupIsNeverWrittenOver() async throws {
        let (folder, database, media) = try await prepared()
        let backup = folder.appendingPathComponent("b.zip").path
        let summary = try await StoreBackup.backup(database: database, media: media, to: backup, logger: Self.quiet)
        #expect(summary.mediaFiles == 1)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        await #expect(throws: StoreError.self) {
            try await StoreBackup.backup(database: database, media: media, to: backup, logger: Self.quiet)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: backup)) == bytes)
        #expect(try StoreBackup.manifest(of: backup) == summary)
        // No backup of a database that is not there, and no file left behind.
        await #expect(throws: StoreError.self) {
            try await StoreBackup.backup(
                database: database + "-none", media: nil, to: backup + "2", logger: Self.quiet)
        }
        #expect(!FileManager.default.fileExists(atPath: backup + "2"))
    }

    @Test func badBackupsAreRefusedBeforeAnythingIsTouched() async throws {
        let (folder, database, media) = try await prepared()
        let good = folder.appendingPathComponent("good.zip").path
        try await StoreBackup.backup(database: database, media: media, to: good, logger: Self.quiet)
        let goodArchive = try Archive(url: URL(fileURLWithPath: good), accessMode: .read)
        var copy = Data()
        _ = try goodArchive.extract(goodArchive["uniongate.sqlite"]!) { copy.append($0) }
        var manifest = Data()
        _ = try goodArchive.extract(goodArchive["manifest.json"]!) { manifest.append($0) }

        // A newer schema than this build knows.
        let newer = folder.appendingPathComponent("newer.sqlite").path
        try copy.write(to: URL(fileURLWithPath: newer))
        let editing = try await UnionStore.open(path: newer, logger: Self.quiet)
        try await editing.transaction { database in
            try await database.insert(into: "schema_migrations").columns("version", "name", "applied_at")
                .values(SQLBind(9_999), SQLBind("future"), SQLBind(0)).run()
        }
        await editing.close()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newer))

        let cases: [(String, [(String, Data)])] = [
            ("not-a-zip", []),
            ("no-manifest", [("uniongate.sqlite", copy)]),
            ("no-database", [("manifest.json", manifest)]),
            ("damaged", [("manifest.json", manifest), ("uniongate.sqlite", Data(repeating: 7, count: 8192))]),
            ("newer", [("manifest.json", manifest), ("uniongate.sqlite", bytes)]),
            (
                "escaping",
                [("manifest.json", manifest), ("uniongate.sqlite", copy), ("media/../../evil.txt", Data("x".utf8))]
            ),
        ]
        for (name, entries) in cases {
            let path = folder.appendingPathComponent("\(name).zip").path
            if entries.isEmpty {
                try Data("not a zip at all".utf8).write(to: URL(fileURLWithPath: path))
            } else {
                try zip(entries, at: path)
            }
            let before = try listing(folder)
            await #expect(throws: StoreError.self, "\(name)") {
                try await StoreBackup.restore(from: path, database: database, media: media, logger: Self.quiet)
            }
            #expect(try listing(folder) == before, "\(name): nothing changed")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.deletingLastPathComponent().path + "/evil.txt"))

        // The good one restores.
        let summary = try await StoreBackup.restore(from: good, database: database, media: media, logger: Self.quiet)
        #expect(summary.keptAside?.count == 2)
        #expect(FileManager.default.contents(atPath: media + "/a.jpg") == Data("photo".utf8))
    }

    @Test func aRestoreIsRefusedWhileTheDatabaseIsOpen() async throws {
        let (folder, database, media) = try await prepared()
        let backup = folder.appendingPathComponent("b.zip").path
        try await StoreBackup.backup(database: database, media: media, to: backup, logger: Self.quiet)
        let store = try await UnionStore.open(path: database, logger: Self.quiet)
        await #expect(throws: StoreError.self) {
            try await StoreBackup.restore(from: backup, database: database, media: media, logger: Self.quiet)
        }
        await store.close()
        try await StoreBackup.restore(from: backup, database: database, media: media, logger: Self.quiet)
        // And while a restore holds it, the store does not open.
        guard case .locked(let lock) = FileLock.take(database + ".lock", exclusive: true) else {
            Issue.record("the restore's lock was not taken")
            return
        }
        await #expect(throws: StoreError.self) { _ = try await UnionStore.open(path: database, logger: Self.quiet) }
        lock.release()
        let reopened = try await UnionStore.open(path: database, logger: Self.quiet)
        await reopened.close()
    }

    @Test func stampsAreUTC() {
        #expect(StoreBackup.stamp(0) == "19700101-000000")
        #expect(StoreBackup.stamp(1_796_688_000) == "20261208-000000")
    }
}
