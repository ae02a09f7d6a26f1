import Foundation
import Logging
import SQLKit
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

/// `uniongate backup` and `restore` on a live SQLite gateway: a backup taken during a burst holds
/// every receipt acknowledged before it began, and the restored gateway serves.
@Suite("Backups that restore")
struct BackupTests {
    func temporaryDatabase(_ name: String) -> String {
        let folder = Scratch.folder.appendingPathComponent("backup-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("uniongate.sqlite").path
    }

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func numbers(in database: String) async throws -> Set<String> {
        let store = try await UnionStore.open(path: database, logger: quiet)
        let numbers = try await store.read { database in
            try await database.select().column("number").from("suggestions").all(
                decodingColumn: "number", as: String.self)
        }
        await store.close()
        return Set(numbers)
    }

    @Test func aBackupDuringABurstHoldsEveryReceiptAcknowledgedBeforeIt() async throws {
        let database = temporaryDatabase("burst")
        let backup = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("b.zip").path
        let acknowledged = Acknowledged()
        let before = Mutex<Set<String>>([])
        let media = Mutex<String?>(nil)
        try await withGateway(
            configure: {
                $0.databasePath = database
                $0.replyDeadline = .seconds(20)  // every receipt in the reply, however loaded the machine
            }
        ) { client, gateway in
            // A photo a member sent, kept beside the database.
            let photo = URL(fileURLWithPath: gateway.mediaDirectory).appendingPathComponent("forms/1/photo.jpg")
            try FileManager.default.createDirectory(
                at: photo.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).write(to: photo)
            media.withLock { $0 = gateway.mediaDirectory }

            let started = Gate()
            let burst = Task {
                // However it ends, the test goes on (and then fails on what went wrong).
                defer { Task { await started.open() } }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for stream in 0..<4 {
                        group.addTask {
                            let member = Member()
                            for index in 0..<40 {
                                let reply = try await client.replyText(
                                    member.text("建议 第\(stream)组第\(index)条：车间通风需要改善，请尽快安排"))
                                let number = try #require(
                                    reply?.firstMatch(of: /JY-[0-9-]+/).map { String($0.output) }, "\(reply ?? "")")
                                let count = acknowledged.add(number)
                                if count == 40 { await started.open() }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            await started.wait()
            // Everything acknowledged when the backup begins must be in it.
            before.withLock { $0 = Set(acknowledged.numbers) }
            let summary = try await StoreBackup.backup(
                database: database, media: gateway.mediaDirectory, to: backup, logger: Self.quiet)
            #expect(summary.mediaFiles == 1)
            #expect(summary.schemaVersion >= 13)
            try await burst.value
            #expect(acknowledged.numbers.count == 160)

            // A restore is refused while the gateway has the database open, and changes nothing.
            await #expect(throws: StoreError.self) {
                try await StoreBackup.restore(
                    from: backup, database: database, media: gateway.mediaDirectory, logger: Self.quiet)
            }
            #expect(!FileManager.default.fileExists(atPath: database + ".restoring"))
        }
        #expect(try await Self.numbers(in: database).count == 160, "the burst was stored whole")

        // The gateway is stopped: the restore puts the backup back and keeps what it replaced.
        let mediaFolder = try #require(media.withLock { $0 })
        let summary = try await StoreBackup.restore(
            from: backup, database: database, media: mediaFolder, logger: Self.quiet)
        #expect(summary.keptAside?.contains { $0.hasPrefix(database + ".before-restore-") } == true)
        #expect(summary.keptAside?.contains { $0.hasPrefix(mediaFolder + ".before-restore-") } == true)
        let restored = try await Self.numbers(in: database)
        let expected = before.withLock { $0 }
        #expect(expected.count >= 40)
        #expect(expected.isSubset(of: restored), "missing: \(expected.subtracting(restored).sorted().prefix(5))")
        #expect(restored.count <= 160)
        #expect(
            FileManager.default.contents(atPath: mediaFolder + "/forms/1/photo.jpg")
                == Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]))

        // The restored gateway serves: keywords, and the suggestions from before the backup.
        try await withGateway(configure: { $0.databasePath = database }) { client, _ in
            #expect(try await client.replyText(Member().text("帮助"))?.contains("工会") == true)
            let reply = try await client.replyText(Member().text("建议 恢复之后再提一条：食堂窗口增加一个"))
            let number = try #require(reply?.firstMatch(of: /JY-[0-9-]+/).map { String($0.output) })
            #expect(!restored.contains(number), "numbering goes on after the restored ones")
        }
    }
}

/// The receipt numbers members were given, in the order they came.
final class Acknowledged: Sendable {
    private let list = Mutex<[String]>([])

    /// Adds one; returns how many there are now.
    func add(_ number: String) -> Int {
        list.withLock {
            $0.append(number)
            return $0.count
        }
    }

    var numbers: [String] { list.withLock { $0 } }
}
