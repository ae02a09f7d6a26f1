import Crypto
import Foundation
import Logging
import ReplyRules
import SQLKit
import WeChatWire

/// What `uniongate check` and the console both run on a Replies folder: the loader's checks
/// (every problem with its file and line), then the conversation examples against a throwaway
/// in-memory store. There is one checker; its callers only present the result.
public enum RulesChecker {
    /// The outcome of a check.
    public struct Result: Sendable {
        /// The rule book, when the files load (they may still fail their examples).
        public var book: RuleBook?
        /// Errors and warnings, each with its file and line.
        public var problems: [RuleProblem]
        /// Examples whose replies were not as written.
        public var failures: [ExampleRunner.Failure]

        /// Whether the files may be served: no error and no failed example.
        public var passed: Bool { book != nil && failures.isEmpty && !problems.contains { $0.severity == .error } }
    }

    /// Checks rule files given as text.
    public static func check(files: [(path: String, text: String)], startTime: Int64) async -> Result {
        let book: RuleBook
        do {
            book = try RuleBookLoader().load(files: files)
        } catch let problems as RuleProblems {
            return Result(book: nil, problems: problems.problems, failures: [])
        } catch {
            return Result(book: nil, problems: [RuleProblem(path: "", line: 1, message: "\(error)")], failures: [])
        }
        let failures = await runExamples(of: book, startTime: startTime)
        return Result(book: book, problems: book.warnings, failures: failures)
    }

    /// Runs `book`'s conversation examples; an empty list means every one passed.
    public static func runExamples(of book: RuleBook, startTime: Int64) async -> [ExampleRunner.Failure] {
        guard !book.examples.isEmpty else { return [] }
        do {
            return try await withThrowawayCore(book) { core in
                await ExampleRunner.run(book.examples, handler: core.dispatcher, startTime: startTime)
            }
        } catch {
            return [ExampleRunner.Failure(source: SourceLocation(path: "", line: 1), message: "示例无法运行：\(error)")]
        }
    }

    /// What the account would answer `text` from `sender` with `book`'s rules, without touching
    /// any stored data: the chat preview.
    public static func preview(_ texts: [String], book: RuleBook, asMember: Bool, startTime: Int64) async throws
        -> [String]
    {
        let sender = "console-preview"
        return try await withThrowawayCore(book, members: asMember ? [sender] : []) { core in
            var answers: [String] = []
            for (index, text) in texts.enumerated() {
                let message = ConversationExample.Input.text(text).message(
                    account: "gh_preview", sender: sender, createTime: startTime + Int64(index),
                    msgId: UInt64(index + 1))
                answers.append(visibleText(of: await core.dispatcher.handle(message).replies))
            }
            return answers
        }
    }

    private static func withThrowawayCore<Value: Sendable>(
        _ book: RuleBook, members: Set<String>? = nil, _ body: (UnionCore) async throws -> Value
    ) async throws -> Value {
        var logger = Logger(label: "uniongate.check")
        logger.logLevel = .critical
        var options = UnionCore.Options()
        options.extraMembers = FixedMembership(members ?? ExampleRunner.memberOpenIDs(book.examples))
        let core = try await UnionCore.open(
            databasePath: ":memory:", rules: LiveRules(book: book, logger: logger), options: options, logger: logger)
        do {
            let value = try await body(core)
            await core.store.close()
            return value
        } catch {
            await core.store.close()
            throw error
        }
    }
}

/// One saved version of a rule file.
public struct RuleVersion: Sendable, Hashable, Decodable {
    public var id: Int
    public var file: String
    public var text: String
    /// Who saved it: a staff member, `root`, or `disk` for the file as found on disk before a
    /// console save.
    public var savedBy: String
    public var savedAt: Int64
    public var note: String?
}

/// Edits the Replies folder for the console. The files stay the source of truth: a save writes
/// the file itself (atomically, after the same check as `uniongate check`), keeps the version in
/// the store, and reloads the rules. Comments and layout survive, because the text is saved as
/// written.
public struct RulesEditor: Sendable {
    /// The live rules, whose folder is edited.
    public let rules: LiveRules
    let store: UnionStore

    /// An editor of `rules`' folder.
    public init(rules: LiveRules, store: UnionStore) {
        self.rules = rules
        self.store = store
    }

    /// The outcome of a refused save: the check that failed.
    public struct CheckFailed: Error, Sendable {
        public var result: RulesChecker.Result
    }

    /// The rule files, relative to the folder, in path order.
    public func files() throws -> [String] {
        let base = rules.directory.hasSuffix("/") ? String(rules.directory.dropLast()) : rules.directory
        return try RepliesFolder.ruleFiles(in: base).map { path in
            path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
        }
    }

    /// Whether `name` may name a rule file: a relative path of plain names ending in `.yaml` or
    /// `.yml`, nothing hidden, no `..`.
    public static func isValidFileName(_ name: String) -> Bool {
        guard name.hasSuffix(".yaml") || name.hasSuffix(".yml"), name.count <= 120 else { return false }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return parts.allSatisfy { part in
            !part.isEmpty && !part.hasPrefix(".")
                && part.unicodeScalars.allSatisfy {
                    CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)
                }
        }
    }

    /// The file's text on disk ('' for a new file).
    public func text(of file: String) throws -> String {
        let path = try self.path(of: file)
        guard FileManager.default.fileExists(atPath: path) else { return "" }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw AdminActionError(.invalid, "\(file) cannot be read as UTF-8") }
        return text
    }

    /// A short fingerprint of a text, so that a save can tell whether the file changed since the
    /// editor opened it.
    public static func fingerprint(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Every file of the folder, with `file` replaced by `text`.
    func filesWith(_ file: String, text: String) throws -> [(path: String, text: String)] {
        var names = try files()
        if !names.contains(file) { names = (names + [file]).sorted() }
        return try names.map { name in
            (path: try path(of: name), text: name == file ? text : try self.text(of: name))
        }
    }

    /// Checks the folder as it would be with `file` replaced by `text`.
    public func check(_ file: String, text: String, at now: Int64) async throws -> RulesChecker.Result {
        try await RulesChecker.check(files: filesWith(file, text: text), startTime: now)
    }

    /// What the account would answer `messages` with `file` replaced by `text`.
    public func preview(_ file: String, text: String, messages: [String], asMember: Bool, at now: Int64)
        async throws -> Result<[String], CheckFailed>
    {
        let result = try await check(file, text: text, at: now)
        guard let book = result.book else { return .failure(CheckFailed(result: result)) }
        return .success(try await RulesChecker.preview(messages, book: book, asMember: asMember, startTime: now))
    }

    /// Saves `text` as `file` when the folder passes the check with it: writes the file
    /// atomically, keeps the version (and the text it replaced, if that was never kept), audits
    /// the save and reloads the rules. Refuses (409) when the file on disk is no longer the one
    /// the editor opened (`base`, its fingerprint).
    @discardableResult
    public func save(
        _ file: String, text: String, base: String?, note: String? = nil, by actor: Principal, at now: Int64
    ) async throws -> RuleVersion {
        try actor.requireWholeTree(.editRules)
        let current = try self.text(of: file)
        if let base, base != Self.fingerprint(current) {
            throw AdminActionError(.conflict, "\(file) 已被他人修改：请重新打开后再改")
        }
        let result = try await check(file, text: text, at: now)
        guard result.passed else { throw CheckFailed(result: result) }
        // The new text is written beside the file first; it replaces the file only once its
        // version and audit entry are committed, so a failure on either side changes nothing.
        let destination = try path(of: file)
        let temporary = try writeBeside(text, destination)
        defer { try? FileManager.default.removeItem(at: temporary) }
        let version = try await store.transaction { database -> RuleVersion in
            let last = try await database.select().columns("*").from("rule_versions").where("file", .equal, file)
                .orderBy("id", .descending).limit(1)
                .first(decoding: RuleVersion.self, keyDecodingStrategy: .convertFromSnakeCase)
            if !current.isEmpty, last?.text != current {
                _ = try await Self.insert(file, text: current, by: "disk", note: "保存前的文件", at: now, in: database)
            }
            let version = try await Self.insert(file, text: text, by: actor.name, note: note, at: now, in: database)
            try await AuditLog.record(
                actor, action: "rules.save", record: "rules:\(file)", unit: "",
                before: ["fingerprint": Self.fingerprint(current)],
                after: ["fingerprint": Self.fingerprint(text), "version": String(version.id)], at: now, in: database)
            return version
        }
        if rename(temporary.path, destination) != 0 {
            throw StoreError("cannot replace \(destination): \(String(cString: strerror(errno)))")
        }
        rules.reloadIfChanged(force: true)
        return version
    }

    /// Restores an earlier version: saved again as the newest, through the same check.
    @discardableResult
    public func restore(_ id: Int, by actor: Principal, at now: Int64) async throws -> RuleVersion {
        try actor.requireWholeTree(.editRules)
        guard let version = try await self.version(id) else {
            throw AdminActionError(.notFound, "no saved version \(id)")
        }
        return try await save(
            version.file, text: version.text, base: nil, note: "恢复到版本 \(id)", by: actor, at: now)
    }

    /// A saved version.
    public func version(_ id: Int) async throws -> RuleVersion? {
        try await store.read { database in
            try await database.select().columns("*").from("rule_versions").where("id", .equal, id)
                .first(decoding: RuleVersion.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    /// The saved versions of `file`, newest first.
    public func history(of file: String, limit: Int = 50) async throws -> [RuleVersion] {
        try await store.read { database in
            try await database.select().columns("*").from("rule_versions").where("file", .equal, file)
                .orderBy("id", .descending).limit(limit)
                .all(decoding: RuleVersion.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
    }

    private static func insert(
        _ file: String, text: String, by name: String, note: String?, at now: Int64, in database: any SQLDatabase
    ) async throws -> RuleVersion {
        try await database.insert(into: "rule_versions").columns("file", "text", "saved_by", "saved_at", "note")
            .values(SQLBind(file), SQLBind(text), SQLBind(name), SQLBind(now), SQLBind(note)).run()
        guard
            let version = try await database.select().columns("*").from("rule_versions").where("file", .equal, file)
                .orderBy("id", .descending).limit(1)
                .first(decoding: RuleVersion.self, keyDecodingStrategy: .convertFromSnakeCase)
        else { throw StoreError("the saved version of \(file) vanished") }
        return version
    }

    private func path(of file: String) throws -> String {
        guard Self.isValidFileName(file) else {
            throw AdminActionError(.invalid, "「\(file)」不是规则文件名（字母、数字、-、_，以 .yaml 结尾）")
        }
        let base = rules.directory.hasSuffix("/") ? String(rules.directory.dropLast()) : rules.directory
        return base + "/" + file
    }

    /// Writes `text` to a hidden temporary file in `path`'s folder (the loader skips hidden
    /// files), to be renamed over `path`: a reader (another instance's reload, the watcher) sees
    /// the old file or the new one, never half.
    private func writeBeside(_ text: String, _ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw StoreError("cannot write in \(folder.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return temporary
    }
}
