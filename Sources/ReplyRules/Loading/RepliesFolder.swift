import Foundation

/// The files of a Replies folder and a cheap fingerprint of them, for hot reload.
public enum RepliesFolder {
    /// The rule files under `directory`, sorted by path.
    ///
    /// - Throws: ``RuleProblems`` when the folder does not exist.
    public static func ruleFiles(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuleProblems([RuleProblem(path: directory, line: 1, message: "找不到回复规则文件夹")])
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let enumerator = FileManager.default.enumerator(atPath: base)
        var paths: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            guard !name.hasPrefix("."), relative.hasSuffix(".yaml") || relative.hasSuffix(".yml") else { continue }
            let path = base + "/" + relative
            paths.append(path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
        }
        return paths.sorted()
    }

    /// A value that changes whenever a rule file is added, removed or saved.
    public static func fingerprint(of directory: String) -> [String] {
        guard let files = try? ruleFiles(in: directory) else { return ["missing"] }
        return files.map { path in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            return "\(path)|\(modified)|\(size)"
        }
    }
}
