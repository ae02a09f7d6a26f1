import Foundation
import Mustache
import Testing
import WeChatTestSupport

@testable import UnionGateServer

/// Every template, with hostile text in every field, parsed by an HTML parser: it must have
/// exactly the elements and attributes the same template has with plain text in every field.
@Suite("HTML pages and the one escaper")
struct PageEscapingTests {
    /// Text that has broken out of HTML attributes and elements: quotes, `<` and `&` each
    /// followed by a combining mark (one Swift `Character` with it), NUL, newlines, closing tags
    /// of raw-text elements, and the markup of an element with a handler.
    static let hostile = [
        "\"\u{301} data-x=\"1", "'\u{301} data-y='1", "\"\u{338} onclick=\"x", "<\u{301}b data-z=1>",
        "<\u{338}script>alert(1)</script>", "&\u{301}amp;", "&\u{338}lt;", "\u{0}", "\n\r\n", "</textarea><i id=t>",
        "</title><i id=u>", "<!--", "-->", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>", "`=",
    ].joined()
    static let long = String(repeating: "\"\u{301}<\u{338}&\u{301}", count: 2_000) + hostile

    /// Gives every name the same value: text for a variable, a section shown once (or, with
    /// `nil`, every inverted section shown instead).
    struct Everywhere: MustacheParent {
        let value: String?
        func child(named: String) -> Any? { value }
    }

    @Test func everyTemplateKeepsItsStructureWhateverTheText() throws {
        let library = try PageLibrary.load()
        #expect(library.names.count >= 24, "templates found: \(library.names)")
        let folder = Scratch.folder.appendingPathComponent("pages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var files: [String] = []
        for name in library.names {
            for (variant, value) in [("plain", "x"), ("hostile", Self.hostile), ("long", Self.long), ("absent", nil)] {
                let html = try #require(library.render(object: Everywhere(value: value), with: name))
                let file = folder.appendingPathComponent(
                    "\(name.replacingOccurrences(of: "/", with: "_")).\(variant).html")
                try html.write(to: file, atomically: true, encoding: .utf8)
                files.append(file.path)
            }
        }
        let parsed = try HTMLStructure.parse(files)
        for name in library.names {
            let key = name.replacingOccurrences(of: "/", with: "_")
            let plain = try #require(parsed[folder.appendingPathComponent("\(key).plain.html").path])
            for variant in ["hostile", "long"] {
                let page = try #require(parsed[folder.appendingPathComponent("\(key).\(variant).html").path])
                #expect(page.tags == plain.tags, "\(name) with \(variant) text has other elements or attributes")
                #expect(page.other.isEmpty, "\(name) with \(variant) text: \(page.other)")
                let injected = ["data-x", "data-y", "data-z", "onclick", "onerror", "onload"]
                #expect(!page.attributeNames.contains { injected.contains($0) }, "\(name): an attribute got in")
            }
            // The text arrives whole where the template shows it: in the page's text, or in an
            // attribute's value (decoded as a browser decodes it; NUL as U+FFFD).
            let hostile = try #require(parsed[folder.appendingPathComponent("\(key).hostile.html").path])
            let shown = Self.hostile.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
            if plain.text.contains("x") || plain.values.contains(where: { $0.contains("x") }) {
                #expect(
                    hostile.text.contains(shown) || hostile.values.contains { $0.contains(shown) },
                    "\(name): the hostile text is not shown whole")
            }
        }
    }

    @Test func noTemplateWritesAValueUnescaped() throws {
        let folder = PageLibrary.bundledDirectory
        let files = try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".mustache") }
        #expect(!files.isEmpty)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(!text.contains("{{{"), "\(file) writes a value without escaping it")
            #expect(!text.contains("{{&"), "\(file) writes a value without escaping it")
            #expect(!text.contains("{{%"), "\(file) sets its own content type")
        }
    }

    @Test func theEscaperWorksOnScalars() {
        #expect(HTMLText.escape("plain 中文") == "plain 中文")
        #expect(
            Array(HTMLText.escape("\"\u{301}<\u{338}&\u{301}'>\u{0}").unicodeScalars)
                == Array("&quot;\u{301}&lt;\u{338}&amp;\u{301}&#39;&gt;\u{FFFD}".unicodeScalars))
    }

    @Test func aTemplateThatDoesNotParseStopsTheLoadNamingItsFile() throws {
        let folder = Scratch.folder.appendingPathComponent("bad-pages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "<p>{{#open}}never closed</p>\n".write(
            to: folder.appendingPathComponent("broken.mustache"), atomically: true, encoding: .utf8)
        #expect {
            try PageLibrary.load(from: folder)
        } throws: { error in
            "\(error)".contains("broken.mustache")
        }
    }

    @Test func aMissingFolderOfTemplatesSaysWhichFolderItWanted() {
        let missing = Scratch.folder.appendingPathComponent("no-pages-\(UUID().uuidString)")
        #expect {
            try PageLibrary.load(from: missing)
        } throws: { error in
            "\(error)".contains(missing.lastPathComponent) && "\(error)".contains("UnionGate_UnionGateServer.resources")
        }
        #expect(FileManager.default.fileExists(atPath: PageLibrary.bundledDirectory.path), "built beside the tests")
    }

    /// A typed view's values: an absent optional hides its section, `false` hides one, a list
    /// repeats one, and `empty(list)` tells an empty list.
    @Test func typedViewsFillTemplates() throws {
        struct Row: Encodable {
            let name: String
            let note: String?
        }
        struct View: Encodable {
            let rows: [Row]
            let none: [Row]
            let flag: Bool
            let count: Int
        }
        let folder = Scratch.folder.appendingPathComponent("typed-pages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try """
        {{#rows}}[{{name}}{{#note}}:{{note}}{{/note}}]{{/rows}}{{#empty(none)}}none{{/empty(none)}}\
        {{#flag}}F{{/flag}}{{^flag}}f{{/flag}}{{count}}
        """.write(to: folder.appendingPathComponent("t.mustache"), atomically: true, encoding: .utf8)
        let library = try PageLibrary.load(from: folder)
        let html = try library.render(
            View(rows: [Row(name: "a<", note: nil), Row(name: "b", note: "\"")], none: [], flag: false, count: 7),
            with: "t")
        #expect(html == "[a&lt;][b:&quot;]nonef7")
    }
}

/// What `Tests/Fixtures/html_structure.py` found in a page.
struct HTMLStructure: Decodable {
    let file: String
    /// Each tag: a start tag's name and its attributes' names, or `/name`.
    let tags: [String]
    let values: [String]
    let text: String
    let other: [String]

    var attributeNames: [String] { tags.flatMap { $0.split(separator: " ").dropFirst().map(String.init) } }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/html_structure.py").path

    /// Each file's structure, by its path.
    static func parse(_ files: [String]) throws -> [String: HTMLStructure] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script] + files
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "html_structure.py failed (\(process.terminationStatus))")
        }
        var result: [String: HTMLStructure] = [:]
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let page = try JSONDecoder().decode(HTMLStructure.self, from: Data(line))
            result[page.file] = page
        }
        return result
    }
}
