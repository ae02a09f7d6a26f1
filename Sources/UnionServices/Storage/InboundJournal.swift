import Foundation
import Synchronization
import WeChatWire

/// The messages a member was told were received while the database could not write, kept in a
/// small file beside it until they are handled. A message is written here (and synced) before
/// the member is answered, so an answer never promises what a crash could lose; the server
/// replays the file when the database writes again, in order, and sends each reply later.
///
/// The file is `<database>.journal`: one line per message, `<id>\t<base64 of its XML>`. A line
/// cut short by a crash is skipped when the file is read. Handled messages leave the file when
/// it is rewritten (atomically) without them. A `:memory:` store keeps its journal in memory.
public final class InboundJournal: Sendable {
    /// A message waiting to be handled.
    public struct Entry: Sendable {
        /// Its number in the journal.
        public let id: UInt64
        /// The message.
        public let message: InboundMessage
    }

    /// Where the journal is kept; nil in memory.
    public let path: String?
    private let state: Mutex<State>
    /// The open `<path>.lock`, locked (`flock`) while this journal is open: two instances that
    /// were given one journal would rewrite each other's messages away, so the second is refused.
    private let lock: FileLock?

    private struct State {
        var entries: [Entry]
        var nextId: UInt64
    }

    /// Opens the journal at `path` (nil: in memory), reading what a previous run left.
    ///
    /// - Throws: when another process (or another gateway in this one) has the journal open.
    public init(path: String?) throws {
        self.path = path
        if let path {
            switch FileLock.take(path + ".lock", exclusive: true) {
            case .locked(let taken): lock = taken
            case .held:
                throw StoreError(
                    "the journal \(path) is in use by another uniongate; give each instance its own (--journal)")
            case .unopenable: throw StoreError("the journal's lock \(path).lock cannot be opened")
            }
        } else {
            lock = nil
        }
        var entries: [Entry] = []
        if let path, let data = FileManager.default.contents(atPath: path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: "\t")
                guard parts.count == 2, let id = UInt64(parts[0]), let xml = Data(base64Encoded: String(parts[1])),
                    let message = try? InboundMessage.parse(Array(xml))
                else { continue }  // a line cut short by a crash
                entries.append(Entry(id: id, message: message))
            }
        }
        state = Mutex(State(entries: entries, nextId: (entries.map(\.id).max() ?? 0) + 1))
    }

    deinit {
        lock?.release()
    }

    /// The journal beside the database at `databasePath` (in memory for `:memory:`).
    public static func beside(databasePath: String) throws -> InboundJournal {
        try beside(DatabaseLocation(databasePath))
    }

    /// The journal beside an SQLite file (in memory for `:memory:`), or for PostgreSQL
    /// `uniongate-<database>.journal` in the working directory: each instance keeps its own.
    public static func beside(_ location: DatabaseLocation) throws -> InboundJournal {
        switch location {
        case .sqlite(":memory:"): try InboundJournal(path: nil)
        case .sqlite(let path): try InboundJournal(path: path + ".journal")
        case .postgres(let postgres):
            try InboundJournal(
                path: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                    .appendingPathComponent("uniongate-\(postgres.database).journal").path)
        }
    }

    /// Writes `message` to the journal and syncs it to disk.
    ///
    /// - Throws: when the file cannot be written; the message is then not kept.
    public func record(_ message: InboundMessage) throws {
        try state.withLock { state in
            let entry = Entry(id: state.nextId, message: message)
            if let path {
                let line = "\(entry.id)\t\(Data(message.xml().utf8).base64EncodedString())\n"
                if !FileManager.default.fileExists(atPath: path) {
                    guard
                        FileManager.default.createFile(
                            atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                    else { throw StoreError("the journal \(path) cannot be created") }
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(line.utf8))
                try handle.synchronize()
            }
            state.entries.append(entry)
            state.nextId += 1
        }
    }

    /// The messages waiting, oldest first.
    public var pending: [Entry] { state.withLock { $0.entries } }

    /// Whether a message of `sender`'s is waiting: the member's next messages wait behind it.
    public func holds(_ sender: String) -> Bool {
        state.withLock { $0.entries.contains { $0.message.header.sender == sender } }
    }

    /// Removes handled messages, rewriting the file without them.
    public func complete(_ ids: Set<UInt64>) throws {
        try state.withLock { state in
            let remaining = state.entries.filter { !ids.contains($0.id) }
            if let path {
                let text = remaining.map { "\($0.id)\t\(Data($0.message.xml().utf8).base64EncodedString())\n" }.joined()
                if remaining.isEmpty {
                    try? FileManager.default.removeItem(atPath: path)
                } else {
                    let temporary = path + ".tmp"
                    guard
                        FileManager.default.createFile(
                            atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
                    else { throw StoreError("the journal \(temporary) cannot be written") }
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
                    try handle.synchronize()
                    try handle.close()
                    guard rename(temporary, path) == 0 else {
                        throw StoreError("the journal \(path) cannot be replaced (errno \(errno))")
                    }
                }
            }
            state.entries = remaining
        }
    }
}
