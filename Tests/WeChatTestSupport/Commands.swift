import Foundation

/// The repository's own Replies folder.
public let shippedReplies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Replies").path

/// The repository's `deploy/` folder: the nginx site and systemd unit it ships.
public let shippedDeploy = URL(fileURLWithPath: shippedReplies).deletingLastPathComponent().appendingPathComponent(
    "deploy"
)
.path

/// A temporary Replies folder with the given files.
public func temporaryReplies(_ files: [String: String]) throws -> String {
    let directory = Scratch.folder.appendingPathComponent("uniongate-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (name, text) in files {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    return directory.path
}

/// Runs the built `uniongate` executable, as staff and CI would.
public func runUniongate(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) throws -> (
    status: Int32, output: String
) {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var candidates = [directory.appendingPathComponent("uniongate")]
    // On Linux the test bundle is a file beside the products; elsewhere it may be a folder.
    candidates.append(directory.deletingLastPathComponent().appendingPathComponent("uniongate"))
    guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates[0].path])
    }
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// ``runUniongate(_:input:environment:)`` on a thread of its own: waiting for the process must
/// not hold one of the few threads that async code (a fake WeChat API in the same test) runs on.
public func uniongate(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws
    -> (
        status: Int32, output: String
    )
{
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(
                with: Result { try runUniongate(arguments, input: input, environment: environment) })
        }
    }
}
