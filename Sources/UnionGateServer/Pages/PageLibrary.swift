import Foundation
import Mustache

/// Every HTML page the gateway writes, as `.mustache` files under `Pages/Templates` (bundle
/// resources of this target), each loaded with the one escaper (`HTMLText`). A template that
/// does not parse stops start-up, naming its file.
public struct PageLibrary: Sendable {
    let library: MustacheLibrary
    /// The names of the templates: their paths under `Templates` without `.mustache`
    /// (`console-members`).
    public let names: [String]
    /// The console's stylesheet (`console.css`).
    let stylesheet: String
    /// The member pages' stylesheet (`member.css`).
    let memberStylesheet: String

    /// The folder of the templates shipped with the gateway: the target's resource bundle, which
    /// SwiftPM puts beside the executable (`UnionGate_UnionGateServer.resources`); an installed
    /// `uniongate` needs it copied along. Looked for there rather than through `Bundle.module`,
    /// which stops the process when the bundle is missing: `load` says which folder it wanted.
    public static var bundledDirectory: URL {
        Bundle.main.bundleURL.appendingPathComponent("UnionGate_UnionGateServer.resources", isDirectory: true)
            .appendingPathComponent("Templates", isDirectory: true)
    }

    public struct LoadError: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "page template \(file): \(reason)" }
    }

    /// The pragma every template is read with, so that `{{value}}` escapes with `HTMLText`
    /// (the library's own escaper compares `Character`s). Each file gets it: a partial starts
    /// with the library's default content type.
    static let pragma = "{{% CONTENT_TYPE: \(HTMLText.contentTypeName)}}"

    public static func load(from directory: URL = bundledDirectory) throws -> PageLibrary {
        _ = HTMLText.registered
        let root = directory.standardizedFileURL.path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue,
            let enumerator = FileManager.default.enumerator(atPath: root)
        else {
            throw LoadError(
                file: root,
                reason:
                    "the folder of page templates is missing (copy UnionGate_UnionGateServer.resources beside uniongate)"
            )
        }
        var library = MustacheLibrary()
        var names: [String] = []
        for case let path as String in enumerator where path.hasSuffix(".mustache") {
            let file = root + "/" + path
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw LoadError(file: file, reason: "cannot be read (\(error))")
            }
            let name = String(path.dropLast(".mustache".count))
            do {
                library.register(try MustacheTemplate(string: pragma + text), named: name)
            } catch let error as MustacheTemplate.ParserError {
                throw LoadError(
                    file: file,
                    reason: "line \(error.context.lineNumber), column \(error.context.columnNumber): \(error.error)")
            }
            names.append(name)
        }
        guard !names.isEmpty else { throw LoadError(file: root, reason: "no .mustache files") }
        func stylesheet(_ name: String) -> String {
            (try? String(contentsOfFile: root + "/" + name, encoding: .utf8)) ?? ""
        }
        return PageLibrary(
            library: library, names: names.sorted(), stylesheet: stylesheet("console.css"),
            memberStylesheet: stylesheet("member.css"))
    }

    /// `name` filled from `view`; nil when there is no such template.
    func render<View: Encodable>(_ view: View, with name: String) throws -> String? {
        library.render(try PageValue.of(view), withTemplate: name)
    }

    /// `name` filled from values already encoded.
    func render(_ values: PageValue, with name: String) -> String? {
        library.render(values, withTemplate: name)
    }

    /// `name` filled from any object the template library reads (the hostile-text test uses it
    /// to give every field of every template the same text).
    public func render(object: Any, with name: String) -> String? {
        library.render(object, withTemplate: name)
    }
}
