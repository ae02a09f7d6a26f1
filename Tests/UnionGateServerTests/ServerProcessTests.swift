import Foundation
import Logging
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

@Suite("The real server process: crashes and signals")
struct ServerProcessTests {
    /// Starts the real `uniongate serve` on a free port and returns the process and its port.
    /// The tokens the tests sign and call with, and info-level logs (the port is read from them).
    static let environment = ["WECHAT_TOKEN": testToken, "UNIONGATE_ADMIN_TOKEN": testAdminToken, "LOG_LEVEL": "info"]

    func startServer(
        database: String, environment: [String: String] = environment, replies: String = shippedReplies,
        arguments: [String] = []
    ) throws -> (
        Process, Int, Pipe
    ) {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = [directory, directory.deletingLastPathComponent()].map {
            $0.appendingPathComponent("uniongate")
        }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        let process = Process()
        process.executableURL = try #require(executable)
        process.arguments = ["serve", "--port", "0", "--replies", replies, "--database", database] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Hummingbird logs the address it listens on; read until it does.
        var seen = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let match = seen.firstMatch(of: /listening on 127\.0\.0\.1:(\d+)/), let port = Int(match.output.1) {
                return (process, port, output)
            }
        }
        process.terminate()
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "server did not start: \(seen)"])
    }

    @Test func aSuggestionAcknowledgedBeforeSIGKILLIsStored() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "crash-\(UUID().uuidString).sqlite"
        ).path
        let (process, port, _) = try startServer(
            database: database)
        let client = WeChatClient(port: port)
        var receipts: [String] = []
        for index in 0..<5 {
            let reply = try await client.replyText(Member().text("建议 第\(index)条：车间通风需要改善")) ?? ""
            receipts.append(String(try #require(reply.firstMatch(of: /JY-\d{4}-\d{6}/)).output))
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try await UnionStore.open(path: database, logger: logger)
        let stored = try await SuggestionBox(store: store).list().map(\.number)
        await store.close()
        #expect(Set(stored) == Set(receipts))
        #expect(stored.count == 5)
    }

    /// Sixteen members write at once, so that suggestions are committed in groups; the server
    /// is killed with SIGKILL in the middle of the burst. Every suggestion whose receipt number
    /// a member was sent is in the file, each number once.
    @Test func aBurstKilledMidwayLosesNoReceiptedSuggestion() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "burst-\(UUID().uuidString).sqlite"
        ).path
        let (process, port, _) = try startServer(database: database)
        let pid = process.processIdentifier
        final class Receipts: Sendable { let list = Mutex<[String]>([]) }
        let receipts = Receipts()
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<16 {
                group.addTask {
                    let client = WeChatClient(port: port)
                    let member = Member("oBurst\(sender)")
                    for index in 0..<1000 {
                        guard let reply = try? await client.replyText(member.text("建议 第\(index)条：车间通风需要改善"))
                        else { return }  // the server is gone
                        guard let receipt = reply.firstMatch(of: /JY-\d{4}-\d{6}/) else { continue }
                        let count = receipts.list.withLock {
                            $0.append(String(receipt.output))
                            return $0.count
                        }
                        if count == 300 { kill(pid, SIGKILL) }  // the others' messages are in flight
                    }
                }
            }
        }
        if process.isRunning { kill(pid, SIGKILL) }  // the burst ended short of 300: fails below, does not hang
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let receipted = receipts.list.withLock { $0 }
        #expect(receipted.count >= 300)

        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try await UnionStore.open(path: database, logger: logger)
        let stored = try await SuggestionBox(store: store).list().map(\.number)
        await store.close()
        #expect(Set(receipted).isSubset(of: Set(stored)), "a receipted suggestion is missing")
        #expect(Set(stored).count == stored.count)
    }

    @Test func sighupReloadsTheRulesInTheRunningServer() async throws {
        let replies = try temporaryReplies(["r.yaml": "rules:\n  - { keywords: [测试], reply: 旧 }\n"])
        let database = Scratch.folder.appendingPathComponent("hup-\(UUID().uuidString).sqlite")
            .path
        let (process, port, _) = try startServer(
            database: database,
            replies: replies)
        let client = WeChatClient(port: port)
        #expect(try await client.request("GET", "/metrics").body.contains("uniongate_rules_reloads_total 0"))
        kill(process.processIdentifier, SIGHUP)
        let reloaded =
            (try? await waitUntil(timeout: .seconds(30)) {
                (try? await client.request("GET", "/metrics").body.contains("uniongate_rules_reloads_total 1")) == true
            }) != nil
        #expect(reloaded)
        #expect(try await client.replyText(Member().text("测试")) == "旧")
        #expect(process.isRunning)  // SIGHUP reloads; it does not stop the server
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    /// A half-sent request holds a graceful shutdown up (for as long as the request timeout,
    /// here five minutes); the shutdown limit ends it: cancel after 1 s, exit 5 s after that.
    @Test func aShutdownHeldUpByAHalfSentRequestEndsWithinItsLimit() async throws {
        let database = Scratch.folder.appendingPathComponent(
            "shutdown-\(UUID().uuidString).sqlite"
        ).path
        let (process, port, _) = try startServer(
            database: database,
            arguments: ["--shutdown-timeout", "1", "--request-timeout", "300", "--idle-timeout", "300"])
        let client = WeChatClient(port: port)
        #expect(try await client.replyText(Member().text("热线"))?.contains("12351") == true)
        let signed = try client.signed(Member().text("帮助"), mode: .plain)
        let whole = rawRequest(query: signed.query.parameters, body: signed.body)
        let connection = try RawConnection(port: port)
        try connection.send(String(whole.dropLast(6)))  // the body without its closing </xml>
        let started = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        let exited = (try? await waitUntil(timeout: .seconds(60)) { !process.isRunning }) != nil
        #expect(exited)
        #expect(started.duration(to: .now) < .seconds(30), "the five-minute request timeout did not hold it")
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
