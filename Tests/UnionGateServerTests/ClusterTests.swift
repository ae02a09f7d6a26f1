import Foundation
import Logging
import ReplyRules
import SQLKit
import Synchronization
import Testing
import UnionServices
import WeChatTestSupport
import WeChatWire

@testable import UnionGateServer

/// The whole system, as a union runs it under load: PostgreSQL, three `uniongate` processes and
/// nginx as a round-robin load balancer in front of them, with WeChat played through nginx and
/// the fake WeChat API receiving what the outboxes send. `scripts/cluster` runs this suite alone.
///
/// It runs on its own, after the rest of the suite (`.ci/run` and `scripts/cluster` set
/// `UNIONGATE_CLUSTER_TEST=1`): three server processes, nginx and PostgreSQL load both cores for
/// about 15 s, which made the suite's deadline tests fail when they ran beside it.
@Suite(
    "The whole system: PostgreSQL, three instances, nginx", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["UNIONGATE_CLUSTER_TEST"] == "1"))
struct ClusterTests {
    /// The shipped nginx site (deploy/nginx/uniongate.conf, with the proxy rules it includes)
    /// is one nginx accepts: `nginx -t` with a throwaway certificate in place of the union's.
    @Test func theShippedNginxSiteIsValid() throws {
        let folder = Scratch.folder.appendingPathComponent("nginx-site-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=union.example.cn",
            "-keyout", folder.path + "/privkey.pem", "-out", folder.path + "/fullchain.pem",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        var site = try String(contentsOfFile: shippedDeploy + "/nginx/uniongate.conf", encoding: .utf8)
        for (from, to) in [
            ("/etc/ssl/uniongate", folder.path), ("/var/log/nginx", folder.path),
            ("include snippets/uniongate-proxy.conf", "include \(Cluster.shippedProxyRules)"),
        ] {
            #expect(site.contains(from), "the site names \(from)")
            site = site.replacingOccurrences(of: from, with: to)
        }
        try site.write(toFile: folder.path + "/site.conf", atomically: true, encoding: .utf8)
        let main = """
            pid \(folder.path)/nginx.pid;
            error_log \(folder.path)/error.log;
            events {}
            http {
                client_body_temp_path \(folder.path)/body;
                proxy_temp_path \(folder.path)/proxy;
                include \(folder.path)/site.conf;
            }
            """
        try main.write(toFile: folder.path + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = try #require(
            ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) })
        let test = Process()
        test.executableURL = URL(fileURLWithPath: nginx)
        test.arguments = ["-t", "-p", folder.path, "-c", folder.path + "/nginx.conf", "-e", folder.path + "/error.log"]
        let output = Pipe()
        test.standardError = output
        test.standardOutput = output
        try test.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        test.waitUntilExit()
        #expect(test.terminationStatus == 0, "\(text)")
        #expect(text.contains("test is successful"), "\(text)")
    }

    @Test(.timeLimit(.minutes(10))) func burstsWithAKilledInstanceAndAStoppedDatabaseLoseNothingAndDoNothingTwice()
        async throws
    {
        let postgres = try TestPostgres.privateServer()
        defer { if ProcessInfo.processInfo.environment["CLUSTER_KEEP"] == nil { postgres.destroy() } }
        let url = try postgres.database()
        try await withFakeWeChat { fake, apiBase in
            let cluster = try Cluster(database: url, apiBase: apiBase)
            defer { if ProcessInfo.processInfo.environment["CLUSTER_KEEP"] == nil { cluster.stop() } }
            try await cluster.start()
            let client = WeChatClient(port: cluster.nginxPort)
            let log = DeliveryLog()

            // 1. A burst of suggestions and join conversations; one instance is killed with
            // SIGKILL during it, then started again.
            let suggesters = (0..<8).map { Member("oSuggest\($0)-\(UUID().uuidString.prefix(8))") }
            let joiners = (0..<10).map { Member("oJoin\($0)-\(UUID().uuidString.prefix(8))") }
            let perSuggester = 10
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, member) in suggesters.enumerated() {
                    group.addTask {
                        for number in 0..<perSuggester {
                            let content = "第\(index)组第\(number)条：车间通风和夜班热饭需要改善"
                            let message = member.text("建议：" + content)
                            let first = try await deliver(message, through: client)
                            log.acknowledge(content, reply: first, sender: member.openid)
                            // WeChat's retries of the same message, through the balancer.
                            for _ in 0..<(number % 3) {
                                let again = try await deliver(message, through: client)
                                log.retried(first: first, again: again)
                            }
                        }
                    }
                }
                for (index, member) in joiners.enumerated() {
                    group.addTask {
                        let steps = [
                            "入会", Self.names[index], "1391234\(String(format: "%04d", index))", "2", "无", "确认",
                        ]
                        var upstreams: [String] = []
                        var last: Delivery?
                        for step in steps {
                            let message = member.text(step)
                            let reply = try await deliver(message, through: client)
                            upstreams.append(reply.upstream)
                            last = reply
                            if step == "确认" {  // the retry of the last step, which stores
                                log.retried(first: reply, again: try await deliver(message, through: client))
                            }
                        }
                        log.joined(member.openid, steps: upstreams, done: last?.text ?? "")
                    }
                }
                group.addTask {
                    // The killer: once a fifth of the suggestions are acknowledged, SIGKILL one
                    // instance; start it again when half are.
                    let total = suggesters.count * perSuggester
                    try await waitUntil { log.acknowledgedCount >= total / 5 }
                    cluster.kill(1)
                    try await waitUntil { log.acknowledgedCount >= total / 2 }
                    try await cluster.startInstance(1)
                    log.note("instance 1 killed and restarted")
                }
                try await group.waitForAll()
            }
            #expect(log.notes.contains("instance 1 killed and restarted"))
            #expect(cluster.everyoneRuns, "an instance or nginx ended by itself")

            // Retries sent straight to the two instances that did not answer the first time.
            for (_, first) in log.acknowledged.prefix(12) {
                let message = try #require(first.message)
                for port in cluster.ports where !first.upstream.hasSuffix(":\(port)") {
                    log.retried(first: first, again: try await deliver(message, through: WeChatClient(port: port)))
                }
            }

            // 2. A burst during which PostgreSQL stops for five seconds.
            let later = (0..<6).map { Member("oLater\($0)-\(UUID().uuidString.prefix(8))") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, member) in later.enumerated() {
                    group.addTask {
                        for number in 0..<8 {
                            let content = "停库期间第\(index)组第\(number)条：宿舍热水改为全天供应"
                            let reply = try await deliver(member.text("建议：" + content), through: client)
                            log.acknowledge(content, reply: reply, sender: member.openid)
                        }
                    }
                }
                group.addTask {
                    let before = log.acknowledgedCount
                    try await waitUntil { log.acknowledgedCount >= before + 8 }
                    try postgres.stop()
                    try await Task.sleep(for: .seconds(5))
                    try postgres.start()
                    log.note("PostgreSQL stopped for 5 s")
                }
                try await group.waitForAll()
            }
            #expect(log.notes.contains("PostgreSQL stopped for 5 s"))
            #expect(log.held > 0, "no message was answered from the journal while PostgreSQL was stopped")
            #expect(cluster.everyoneRuns, "an instance or nginx ended by itself")
            try await cluster.waitUntilSettled()

            // What was stored.
            var logger = Logger(label: "cluster-test")
            logger.logLevel = .critical
            let store = try await UnionStore.open(path: url, logger: logger)
            let suggestions = try await store.read { database in
                try await database.select().columns("number", "content", "openid").from("suggestions").all()
                    .map {
                        (
                            number: try $0.decode(column: "number", as: String.self),
                            content: try $0.decode(column: "content", as: String.self)
                        )
                    }
            }
            let applications = try await store.read { database in
                try await database.select().columns("id", "openid", "name", "phone", "number").from(
                    "membership_applications"
                ).all().map {
                    (
                        id: try $0.decode(column: "id", as: Int.self),
                        openid: try $0.decode(column: "openid", as: String.self),
                        name: try $0.decode(column: "name", as: String.self),
                        phone: try $0.decode(column: "phone", as: String.self),
                        number: try $0.decode(column: "number", as: String.self)
                    )
                }
            }

            // Every acknowledged suggestion is stored exactly once, under the receipt it was given.
            let acknowledged = log.acknowledged
            #expect(acknowledged.count == (suggesters.count * perSuggester) + later.count * 8)
            let storedByContent = Dictionary(grouping: suggestions, by: \.content)
            for (content, delivery) in acknowledged {
                let rows = storedByContent[content] ?? []
                #expect(rows.count == 1, "\(content): stored \(rows.count) times")
                if let receipt = delivery.text.firstMatch(of: /JY-\d{4}-\d{6}/) {
                    #expect(rows.first?.number == String(receipt.output), "\(content)")
                } else {
                    #expect(delivery.text == Dispatcher.heldText, "\(content): \(delivery.text)")
                }
            }
            #expect(suggestions.count == acknowledged.count, "rows stored that nobody sent")
            #expect(Set(suggestions.map(\.number)).count == suggestions.count, "a receipt number twice")

            // Every retry got the same reply, and many reached another instance.
            #expect(log.mismatches.isEmpty, "\(log.mismatches.prefix(3))")
            #expect(log.retries >= 60)
            #expect(log.retriesElsewhere * 3 >= log.retries, "\(log.retriesElsewhere) of \(log.retries)")

            // Every conversation completed with all its answers, its steps spread over instances.
            #expect(applications.count == joiners.count)
            for (index, member) in joiners.enumerated() {
                let rows = applications.filter { $0.openid == member.openid }
                #expect(rows.count == 1, "\(member.openid): \(rows.count) applications")
                #expect(rows.first?.name == Self.names[index])
                #expect(rows.first?.phone == "1391234\(String(format: "%04d", index))")
                let done = log.joins[member.openid]?.done ?? ""
                #expect(rows.first.map { done.contains($0.number) } == true, "\(done)")
            }
            let moves = log.joins.values.map { join in zip(join.steps, join.steps.dropFirst()).filter(!=).count }
            #expect(moves.reduce(0, +) * 3 >= joiners.count * 5, "steps moved between instances \(moves)")
            #expect(Set(applications.map(\.number)).count == applications.count)

            // 3. The outbox: each approval's notice is sent once, by whichever instance claims it.
            for application in applications {
                let result = try await client.admin("POST", "/admin/api/members/\(application.id)/approve")
                #expect(result.status == 200, "\(result.status) \(result.body)")
            }
            try await waitUntil(timeout: .seconds(90)) {
                let waiting = try await store.read { database in
                    try await database.select().column(SQLFunction("count", args: SQLLiteral.all)).from("outbox")
                        .where("status", .notEqual, "sent").first(decodingColumn: "count", as: Int.self)
                }
                return waiting == 0
            }
            let outbox = try await store.read { database in
                try await database.select().column("openid").from("outbox").all(
                    decodingColumn: "openid", as: String.self)
            }

            #expect(outbox.count >= applications.count)
            let sends = fake.calls(to: "/cgi-bin/message/custom/send").compactMap { call -> String? in
                (try? JSONSerialization.jsonObject(with: Data(call.body.utf8)) as? [String: Any])?["touser"] as? String
            }
            let sentTo = Dictionary(grouping: sends, by: { $0 }).mapValues(\.count)
            let queuedFor = Dictionary(grouping: outbox, by: { $0 }).mapValues(\.count)
            #expect(sentTo == queuedFor, "sent \(sentTo) for queued \(queuedFor)")
            for member in joiners {
                #expect(queuedFor[member.openid, default: 0] >= 1, "\(member.openid) got no notice")
            }
            // 4. A member's two quick messages reaching two instances through nginx are applied in
            // the order sent: the suggestion's write is held (this test locks the receipt
            // counters) until 「我的建议」 has reached the next instance and waits for its turn;
            // then it lists the suggestion.
            let orderly = Member("oOrder-\(UUID().uuidString.prefix(8))")
            @Sendable func turns() async throws -> Int {
                try await store.read { database in
                    try await database.select().column(SQLFunction("count", args: SQLLiteral.all)).from("member_turns")
                        .where("openid", .equal, orderly.openid).first(decodingColumn: "count", as: Int.self) ?? 0
                }
            }
            let locked = Gate()
            let release = Gate()
            let holder = Task {
                try await store.read { database in
                    try await database.raw("BEGIN").run()
                    try await database.raw("LOCK TABLE receipt_counters IN EXCLUSIVE MODE").run()
                    await locked.open()
                    await release.wait()
                    try await database.raw("COMMIT").run()
                }
            }
            await locked.wait()
            let suggested = Task { try await deliver(orderly.text("建议：夜班食堂增加一道热汤"), through: client) }
            try await waitUntil(timeout: .seconds(30)) { try await turns() >= 1 }
            let listed = Task { try await deliver(orderly.text("我的建议"), through: client) }
            let bothWaited = await (try? waitUntil(timeout: .seconds(30)) { try await turns() >= 2 }) != nil
            await release.open()
            try await holder.value
            let suggestion = try await suggested.value
            let listing = try await listed.value
            #expect(bothWaited, "「我的建议」 took no turn: \(suggestion.upstream), \(listing.upstream)")
            #expect(suggestion.upstream != listing.upstream, "nginx sent both to \(listing.upstream)")
            let receipt = try #require(suggestion.text.firstMatch(of: /JY-\d{4}-\d{6}/)).output
            #expect(listing.text.contains(receipt), "「我的建议」 did not wait for \(receipt): \(listing.text)")
            try await waitUntil(timeout: .seconds(30)) { try await turns() == 0 }  // each turn ended
            await store.close()

            print(
                """
                cluster: \(acknowledged.count) suggestions acknowledged (\(log.held) from the journal while \
                PostgreSQL was stopped), \(suggestions.count) stored; \(log.retries) retries, \(log.retriesElsewhere) \
                on another instance, \(log.mismatches.count) different replies; \(applications.count) join \
                conversations, steps moved \(moves.reduce(0, +)) times; \(outbox.count) outbox messages, \
                \(sends.count) sent
                """)
        }
    }

    static let names = ["王小明", "李华", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴琳"]
}

/// One message's answer as WeChat saw it: the reply's text and the instance nginx chose.
struct Delivery: Sendable {
    let text: String
    let upstream: String
    var sender: String = ""
    var message: InboundMessage?
}

/// Sends `message` as WeChat does: when no answer comes, or an error status, the same message
/// again (WeChat gives up after three retries; a killed instance behind nginx may cost a few more
/// here, which is why this tries up to eight times before the test fails).
func deliver(_ message: InboundMessage, through client: WeChatClient) async throws -> Delivery {
    var last = ""
    for attempt in 0..<8 {
        do {
            let result = try await client.post(message, mode: .plain)
            if result.status == 200 {
                let reply = try client.wechat.openReply(result.body)
                return Delivery(
                    text: reply.map { visibleText(of: [$0.body]) } ?? "",
                    upstream: result.headers["x-upstream"] ?? "127.0.0.1:\(client.port)", sender: message.header.sender,
                    message: message)
            }
            last = "status \(result.status): \(result.body.prefix(200))"
        } catch {
            last = "\(error)"
        }
        try await Task.sleep(for: .milliseconds(250 * (attempt + 1)))
    }
    throw ClusterError("message \(message.header.msgId ?? 0) was never answered: \(last)")
}

/// What the members were told.
final class DeliveryLog: Sendable {
    private struct State {
        var acknowledged: [(String, Delivery)] = []
        var mismatches: [String] = []
        var retries = 0
        var retriesElsewhere = 0
        var held = 0
        var joins: [String: (steps: [String], done: String)] = [:]
        var notes: [String] = []
    }
    private let state = Mutex(State())

    func acknowledge(_ content: String, reply: Delivery, sender: String) {
        state.withLock {
            $0.acknowledged.append((content, reply))
            if reply.text == Dispatcher.heldText { $0.held += 1 }
        }
    }

    func retried(first: Delivery, again: Delivery) {
        state.withLock {
            $0.retries += 1
            if again.upstream != first.upstream { $0.retriesElsewhere += 1 }
            if again.text != first.text {
                $0.mismatches.append("\(first.upstream) said \(first.text); \(again.upstream) said \(again.text)")
            }
        }
    }

    func joined(_ openid: String, steps: [String], done: String) {
        state.withLock { $0.joins[openid] = (steps, done) }
    }

    func note(_ text: String) { state.withLock { $0.notes.append(text) } }

    var acknowledged: [(String, Delivery)] { state.withLock { $0.acknowledged } }
    var acknowledgedCount: Int { state.withLock { $0.acknowledged.count } }
    var mismatches: [String] { state.withLock { $0.mismatches } }
    var retries: Int { state.withLock { $0.retries } }
    var retriesElsewhere: Int { state.withLock { $0.retriesElsewhere } }
    var held: Int { state.withLock { $0.held } }
    var joins: [String: (steps: [String], done: String)] { state.withLock { $0.joins } }
    var notes: [String] { state.withLock { $0.notes } }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Three `uniongate serve` processes on one PostgreSQL database, each with its own journal, and
/// nginx balancing round-robin over them. Every process is killed when the cluster stops.
final class Cluster: @unchecked Sendable {
    let directory: URL
    let ports: [Int]
    let nginxPort: Int
    let database: String
    let apiBase: String
    private let lock = NSLock()
    private var running: [Int: Child] = [:]

    init(database: String, apiBase: String, instances: Int = 3) throws {
        // With CLUSTER_KEEP the logs must outlive the test process, so they go beside the
        // scratch folder (which is removed at exit), not in it.
        let parent =
            ProcessInfo.processInfo.environment["CLUSTER_KEEP"] == nil
            ? Scratch.folder : FileManager.default.temporaryDirectory
        directory = parent.appendingPathComponent("cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        ports = try (0..<instances).map { _ in try TestPostgres.freePort() }
        nginxPort = try TestPostgres.freePort()
        self.database = database
        self.apiBase = apiBase
    }

    /// Starts every instance, then nginx, and waits until each answers `/healthz`.
    func start() async throws {
        for index in ports.indices { try await startInstance(index) }
        try startNginx()
        let client = WeChatClient(port: nginxPort)
        try await waitUntil(timeout: .seconds(30)) { try await client.request("GET", "/healthz").status == 200 }
    }

    /// Starts instance `index` on its port (again, after a kill) and waits until it is ready.
    func startInstance(_ index: Int) async throws {
        let executable = try uniongateExecutable()
        let arguments = [
            executable.path, "serve", "--port", String(ports[index]), "--replies", shippedReplies, "--database",
            database,
            "--journal", directory.appendingPathComponent("instance-\(index).journal").path,
            // The test is about which answer, not how fast a loaded 2-core machine gives it.
            "--reply-deadline", "20",
            // nginx on this machine, as deploy/uniongate.env has it.
            "--trusted-proxy", "127.0.0.1",
        ]
        let environment = ProcessInfo.processInfo.environment.merging([
            "WECHAT_TOKEN": testToken, "UNIONGATE_ADMIN_TOKEN": testAdminToken, "WECHAT_APP_ID": FakeWeChatAPI.appId,
            "WECHAT_APP_SECRET": FakeWeChatAPI.secret, "WECHAT_API_BASE_URL": apiBase, "WECHAT_API_ALLOW_HTTP": "1",
            "LOG_LEVEL": ProcessInfo.processInfo.environment["CLUSTER_LOG_LEVEL"] ?? "warning",
        ]) { $1 }
        let log = directory.appendingPathComponent("instance-\(index).log")
        let process = try Child(arguments, environment: environment, output: log.path)
        lock.withLock { running[index] = process }
        let client = WeChatClient(port: ports[index])
        do {
            try await waitUntil(timeout: .seconds(60)) {
                guard process.isRunning else { throw ClusterError("exited") }
                return try await client.request("GET", "/healthz").status == 200
            }
        } catch {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw ClusterError("instance \(index) did not start: \(text.suffix(2000))")
        }
    }

    /// Whether nginx and every instance still run.
    var everyoneRuns: Bool { lock.withLock { Array(running.values) }.allSatisfy(\.isRunning) }

    /// Kills instance `index` with SIGKILL and waits until it is gone.
    func kill(_ index: Int) {
        lock.withLock { running.removeValue(forKey: index) }?.kill()
    }

    /// Waits until every instance is ready and its journal has been replayed.
    func waitUntilSettled() async throws {
        for (index, port) in ports.enumerated() {
            let client = WeChatClient(port: port)
            let journal = directory.appendingPathComponent("instance-\(index).journal").path
            try await waitUntil(timeout: .seconds(120)) {
                try await client.request("GET", "/healthz").status == 200
                    && !FileManager.default.fileExists(atPath: journal)
            }
        }
    }

    private func startNginx() throws {
        let candidates = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        guard let nginx = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ClusterError("nginx is not installed (apt-get install nginx-light); looked in \(candidates)")
        }
        let prefix = directory.appendingPathComponent("nginx")
        for folder in ["", "/temp"] {
            try FileManager.default.createDirectory(
                atPath: prefix.path + folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        }
        let temp = prefix.path + "/temp"
        let upstreams = ports.map { "        server 127.0.0.1:\($0) max_fails=0;" }.joined(separator: "\n")
        // The shipped proxy rules (deploy/nginx/uniongate-proxy.conf: locations, limits, timeouts,
        // the forwarded address, the next instance when one cannot be reached), as they are, in a
        // plain-HTTP server of the test's own (no certificate); round-robin over the instances
        // with kept-alive connections, as the shipped site has; X-Upstream says which instance
        // answered.
        let configuration = """
            worker_processes 1;
            daemon off;
            pid \(prefix.path)/nginx.pid;
            error_log \(prefix.path)/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(temp)/body;
                proxy_temp_path \(temp)/proxy;
                fastcgi_temp_path \(temp)/fastcgi;
                uwsgi_temp_path \(temp)/uwsgi;
                scgi_temp_path \(temp)/scgi;
                upstream uniongate {
            \(upstreams)
                    keepalive 16;
                }
                server {
                    listen 127.0.0.1:\(nginxPort);
                    add_header X-Upstream $upstream_addr always;
                    include \(Self.shippedProxyRules);
                }
            }
            """
        let file = prefix.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        let process = try Child(
            [nginx, "-p", prefix.path, "-c", file.path, "-e", prefix.path + "/error.log"],
            environment: ProcessInfo.processInfo.environment, output: prefix.path + "/output.log")
        lock.withLock { running[-1] = process }
    }

    /// The nginx rules the repository ships for the gateway.
    static var shippedProxyRules: String { shippedDeploy + "/nginx/uniongate-proxy.conf" }

    /// Stops nginx and every instance, and removes the files.
    func stop() {
        lock.withLock { running.removeValue(forKey: -1) }?.kill(SIGTERM)  // nginx stops its workers
        let all = lock.withLock {
            defer { running.removeAll() }
            return Array(running.values)
        }
        for process in all { process.kill() }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The `uniongate` executable built beside the tests.
func uniongateExecutable() throws -> URL {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    guard
        let found = [directory, directory.deletingLastPathComponent()].map({
            $0.appendingPathComponent("uniongate")
        }).first(where: { FileManager.default.isExecutableFile(atPath: $0.path) })
    else { throw ClusterError("the uniongate executable was not built beside the tests") }
    return found
}

/// A process the cluster runs, spawned in a session of its own: a signal sent to the test's
/// process group (a runner's timeout, a terminal's ^C) does not reach it, and it is stopped only
/// by the test. Its output goes to a file; it is reaped by pid.
final class Child: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var ended = false

    init(_ arguments: [String], environment: [String: String], output: String) throws {
        pid = try spawnProcess(arguments, environment: environment, output: output, append: true, newSession: true)
    }

    /// Whether it still runs (reaping it when it has ended).
    var isRunning: Bool {
        lock.withLock {
            if ended { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { ended = true }
            return !ended
        }
    }

    /// Sends it `signal` (SIGKILL unless told) and reaps it.
    func kill(_ signal: Int32 = SIGKILL) {
        lock.withLock {
            guard !ended else { return }
            Glibc.kill(pid, signal)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            ended = true
        }
    }
}
