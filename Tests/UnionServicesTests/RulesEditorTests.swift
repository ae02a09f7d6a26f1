import Foundation
import Logging
import ReplyRules
import Testing
import WeChatTestSupport

@testable import UnionServices

@Suite("Editing the Replies folder from the console")
struct RulesEditorTests {
    static let help = "# 帮助（注释会保留）\nrules:\n  - name: 帮助\n    keywords: [帮助]\n    reply: 第一版\n"

    /// Runs `body` with an editor of a new folder holding `files`, on a new store it closes.
    func withEditor(
        _ kind: StoreKind, files: [String: String] = ["help.yaml": help],
        _ body: (RulesEditor, String) async throws -> Void
    ) async throws {
        let directory = Scratch.folder.appendingPathComponent("replies-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let rules = try LiveRules(directory: directory.path, logger: logger)
        let store = try await kind.open()
        do {
            try await body(RulesEditor(rules: rules, store: store), directory.path)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test(arguments: StoreKind.allCases)
    func savesKeepEveryVersionAndAnyCanBeRestored(_ kind: StoreKind) async throws {
        try await withEditor(kind) { editor, folder in
            let second = Self.help.replacingOccurrences(of: "第一版", with: "第二版")
            let before = editor.rules.engine.book.version
            let saved = try await editor.save(
                "help.yaml", text: second, base: RulesEditor.fingerprint(Self.help), by: .root, at: 10)
            #expect(try String(contentsOfFile: folder + "/help.yaml", encoding: .utf8) == second)
            #expect(editor.rules.engine.book.version != before, "the saved rules are in force at once")
            #expect(try editor.files() == ["help.yaml"], "no temporary file is left behind")
            let history = try await editor.history(of: "help.yaml")
            #expect(history.map(\.savedBy) == ["root", "disk"], "the file as it was is kept before the first save")
            #expect(history.last?.text == Self.help)
            #expect(saved.id == history.first?.id)

            let restored = try await editor.restore(try #require(history.last?.id), by: .root, at: 20)
            #expect(try String(contentsOfFile: folder + "/help.yaml", encoding: .utf8) == Self.help)
            #expect(restored.note?.contains("恢复") == true)
            #expect(try await editor.history(of: "help.yaml").count == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aTextThatFailsTheCheckChangesNothing(_ kind: StoreKind) async throws {
        try await withEditor(kind) { editor, folder in
            let broken = "rules:\n  - name: 帮助\n    keywords: [帮助\n"
            await #expect(throws: RulesEditor.CheckFailed.self) {
                try await editor.save("help.yaml", text: broken, base: nil, by: .root, at: 10)
            }
            #expect(try String(contentsOfFile: folder + "/help.yaml", encoding: .utf8) == Self.help)
            #expect(try await editor.history(of: "help.yaml").isEmpty)
            let result = try await editor.check("help.yaml", text: broken, at: 10)
            #expect(!result.passed)
            #expect(result.problems.contains { $0.path.hasSuffix("help.yaml") && $0.line >= 2 })
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aFailingExampleStopsTheSaveAsUniongateCheckWould(_ kind: StoreKind) async throws {
        try await withEditor(kind) { editor, _ in
            let text = Self.help + "examples:\n  - name: 帮助\n    send: 帮助\n    expect: 第三版\n"
            let result = try await editor.check("help.yaml", text: text, at: 10)
            #expect(result.book != nil)
            #expect(result.failures.count == 1)
            #expect(result.failures.first?.source.line == 7)
            await #expect(throws: RulesEditor.CheckFailed.self) {
                try await editor.save("help.yaml", text: text, base: nil, by: .root, at: 10)
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func onlyEditorsOfTheWholeTreeMaySave(_ kind: StoreKind) async throws {
        try await withEditor(kind) { editor, _ in
            for actor in [
                Principal(name: "v", role: .viewer, unit: nil, scope: .everything),
                Principal(name: "e", role: .editor, unit: "town", scope: .units(["town"])),
            ] {
                await #expect(throws: AdminActionError.self) {
                    try await editor.save("help.yaml", text: Self.help, base: nil, by: actor, at: 10)
                }
            }
            try await editor.save(
                "help.yaml", text: Self.help + "\n", base: nil,
                by: Principal(name: "e", role: .editor, unit: nil, scope: .everything), at: 10)
        }
    }

    @Test func fileNamesStayInTheFolder() {
        for good in ["help.yaml", "faq.yml", "units/town-1.yaml"] {
            #expect(RulesEditor.isValidFileName(good), "\(good)")
        }
        for bad in ["../x.yaml", "/etc/x.yaml", ".hidden.yaml", "a/../b.yaml", "help.txt", "a b.yaml", "", "a//b.yaml"]
        {
            #expect(!RulesEditor.isValidFileName(bad), "\(bad)")
        }
    }
}
