import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory, started on
/// a free loopback port as a non-root user (PostgreSQL refuses to run as root), shared by every
/// test of the process, each test in a database of its own. Stopped and removed when the test
/// process exits.
///
/// It never skips: when PostgreSQL cannot start, ``database()`` throws and the test fails. The
/// server's binaries are found through `UNIONGATE_PG_BIN`, then `pg_config --bindir`, then
/// Debian's `/usr/lib/postgresql/<version>/bin`.
public enum TestPostgres {
    /// The role the tests connect as, and its password (the URL carries it, as in production).
    public static let user = "uniongate"
    public static let password = "test-secret-pw"

    /// A running cluster.
    public struct Server: Sendable {
        let bin: String
        /// The cluster's own directory (its data, socket, password file and log are inside).
        let root: String
        let directory: String
        public let port: Int
        let owner: String?

        /// A new, empty database; its `postgres://` URL (`sslmode=disable`: it is on loopback).
        /// `connectTimeout` (seconds) replaces the store's 2 s wait for a connection.
        public func database(connectTimeout: Int? = nil) throws -> String {
            let name = "test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))"
            try TestPostgres.run(
                bin + "/createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", user, name],
                as: nil, environment: ["PGPASSWORD": password])
            let timeout = connectTimeout.map { "&connect_timeout=\($0)" } ?? ""
            return "postgres://\(user):\(password)@127.0.0.1:\(port)/\(name)?sslmode=disable&pool_size=4\(timeout)"
        }

        /// Stops the server at once (connections are cut), keeping its data.
        public func stop() throws {
            try TestPostgres.run(bin + "/pg_ctl", ["-D", directory, "-m", "immediate", "-w", "stop"], as: owner)
        }

        /// Starts the stopped server again, on the same port.
        public func start() throws {
            try TestPostgres.run(
                bin + "/pg_ctl",
                [
                    "-D", directory, "-l", root + "/server.log", "-w", "-t", "60", "-o",
                    "-p \(port) -c listen_addresses=127.0.0.1 -k \(root) -c max_connections=200 -c shared_buffers=32MB",
                    "start",
                ], as: owner)
        }

        /// Stops the server and removes its files.
        public func destroy() {
            try? stop()
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    private typealias Cluster = Server

    /// A cluster of the caller's own, to stop and start (the shared one serves other tests).
    public static func privateServer() throws -> Server {
        try start()
    }

    private static let cluster = Mutex<Result<Cluster, TestPostgresError>?>(nil)

    /// A new, empty database in the shared cluster; its `postgres://` URL. The shared cluster is
    /// never stopped, so its callers wait up to 30 s for a connection: with the whole suite on
    /// two cores, one can take longer than the store's 2 s (tests of an unreachable database use
    /// a private server, and the 2 s).
    public static func database() throws -> String {
        try started().database(connectTimeout: 30)
    }

    /// Runs one of the shared cluster's client programs (`pg_dump`, `pg_restore`, `createdb`)
    /// with the test role's password; throws with its output when it fails.
    public static func runTool(_ name: String, _ arguments: [String]) throws {
        let cluster = try started()
        try run(cluster.bin + "/" + name, arguments, as: nil, environment: ["PGPASSWORD": password])
    }

    /// A libpq connection URL for a database of the shared cluster (without UnionGate's own
    /// `pool_size`, which libpq's tools refuse).
    public static func libpqURL(of url: String) -> String {
        url.components(separatedBy: "?")[0] + "?sslmode=disable"
    }

    private static func started() throws -> Cluster {
        try cluster.withLock { state in
            if state == nil {
                do {
                    state = .success(try start())
                } catch {
                    state = .failure(error as? TestPostgresError ?? TestPostgresError("\(error)"))
                }
                if case .success = state { atexit { TestPostgres.stop() } }
            }
            return try state!.get()
        }
    }

    /// Stops the cluster and removes its directory (at the test process's exit).
    public static func stop() {
        guard case .success(let cluster)? = cluster.withLock({ $0 }) else { return }
        try? run(
            cluster.bin + "/pg_ctl", ["-D", cluster.directory, "-m", "immediate", "-w", "stop"], as: cluster.owner)
        try? FileManager.default.removeItem(atPath: cluster.root)
    }

    private static func start() throws -> Cluster {
        let bin = try binaries()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("uniongate-pg-\(UUID().uuidString)").path
        let data = directory + "/data"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let owner: String? = getuid() == 0 ? try nonRootUser() : nil
        let passwordFile = directory + "/password"
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if let owner {
            try run("/bin/chown", ["-R", owner, directory], as: nil)
        }
        try run(
            bin + "/initdb",
            [
                "-D", data, "-U", user, "--pwfile", passwordFile, "--auth", "scram-sha-256", "-E", "UTF8",
                "--locale", "C", "--no-sync",
            ], as: owner)
        // A free port: taken from the kernel, then given to PostgreSQL; tried again if lost meanwhile.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let server = Server(bin: bin, root: directory, directory: data, port: try freePort(), owner: owner)
            do {
                try server.start()
                return server
            } catch {
                lastError = error
            }
        }
        let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
        throw TestPostgresError("PostgreSQL did not start: \(lastError.map { "\($0)" } ?? "")\n\(log)")
    }

    private static func binaries() throws -> String {
        var candidates: [String] = []
        if let bin = ProcessInfo.processInfo.environment["UNIONGATE_PG_BIN"] { candidates.append(bin) }
        if let bindir = try? output("pg_config", ["--bindir"]) { candidates.append(bindir) }
        let debian = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: debian)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "\(debian)/\($0)/bin" }
        guard
            let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") })
        else {
            throw TestPostgresError(
                "PostgreSQL's initdb was not found (apt-get install postgresql, or set UNIONGATE_PG_BIN); looked in "
                    + candidates.joined(separator: ", "))
        }
        return found
    }

    /// The user the server runs as when the tests run as root.
    private static func nonRootUser() throws -> String {
        for name in ["postgres", "nobody"] where getpwnam(name) != nil {
            return name
        }
        throw TestPostgresError("the tests run as root and there is no postgres or nobody user to run PostgreSQL as")
    }

    /// A loopback port nothing listens on now (the kernel's pick).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw TestPostgresError("no socket for a free port") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(socket, generic, length) == 0 && getsockname(socket, generic, &length) == 0
            }
        }
        guard bound else { throw TestPostgresError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs `executable` (as `user` through runuser, when given) and waits; throws with its
    /// output when it fails. Spawned and reaped directly: the server that `pg_ctl` leaves
    /// running must not hold anything the tests wait on.
    fileprivate static func run(
        _ executable: String, _ arguments: [String], as user: String?, environment: [String: String] = [:]
    ) throws {
        let argv = (user.map { ["/sbin/runuser", "-u", $0, "--", executable] } ?? [executable]) + arguments
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("uniongate-pg-output-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let pid = try spawnProcess(
            argv, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, output: outputPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            throw TestPostgresError(
                "\(executable) \(arguments.joined(separator: " ")) ended with status \(status): \(text)")
        }
    }

    private static func output(_ command: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestPostgresError("\(command) failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// PostgreSQL could not be set up for the tests.
public struct TestPostgresError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
