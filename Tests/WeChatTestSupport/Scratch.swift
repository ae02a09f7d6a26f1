import Foundation

/// The folder where this test process keeps its files (databases, Replies folders, browser
/// profiles): one folder below the system's temporary folder, made on first use and removed, with
/// all it holds, when the process exits. Runs of the suite then leave nothing behind in `/tmp`.
public enum Scratch {
    public static let folder: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "uniongate-tests-\(getpid())-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            fatalError("cannot make the tests' scratch folder \(url.path): \(error)")
        }
        atexit { Scratch.removeFolder() }
        return url
    }()

    private static func removeFolder() {
        try? FileManager.default.removeItem(at: folder)
    }
}
