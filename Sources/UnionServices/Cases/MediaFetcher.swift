import Crypto
import Foundation
import Logging
import SQLKit
import WeChatAPI

/// Where media comes from: WeChat's `media/get`.
public protocol MediaSource: Sendable {
    func downloadMedia(_ mediaId: String) async throws -> WeChatAPIClient.MediaFile
}

extension WeChatAPIClient: MediaSource {}

/// Downloads the media of members' case messages at once (WeChat keeps temporary media 3
/// days), into files named by their content's SHA-256 under the data directory. A failed
/// download is tried again later, as an outbox message is, and its error shown in the case.
public struct MediaFetcher: Sendable {
    let store: UnionStore
    let source: any MediaSource
    /// Where the files go (created when needed, readable by this user only).
    public let directory: String
    let logger: Logger

    /// After this many failed tries a download is given up (the media has expired by then).
    public static let maxAttempts = 8

    public init(store: UnionStore, source: any MediaSource, directory: String, logger: Logger) {
        self.store = store
        self.source = source
        self.directory = directory
        self.logger = logger
    }

    /// The file a stored media message was saved to, under ``directory``.
    public func file(named name: String) -> URL {
        URL(fileURLWithPath: directory).appendingPathComponent(name)
    }

    /// Downloads what is due; returns how many were stored.
    @discardableResult
    public func runOnce(at now: Int64) async throws -> Int {
        let due = try await store.read { database in try await Inbox.mediaDue(at: now, limit: 20, in: database) }
        var stored = 0
        for item in due {
            do {
                let file = try await source.downloadMedia(item.mediaId)
                let name = try file.data.map { try save($0, type: file.contentType) }
                try await store.transaction { database in
                    try await Inbox.mediaStored(
                        item, path: name ?? file.videoURL, type: file.contentType, in: database)
                }
                stored += 1
            } catch let error as WeChatAPIError where error.pausedUntil != nil {
                break  // WeChat is not answering: nothing is counted against the downloads
            } catch {
                let attempts = item.mediaAttempts + 1
                let permanent = (error as? WeChatAPIError).map { [40007, 40008].contains($0.code) } ?? false
                let givenUp = permanent || attempts >= Self.maxAttempts
                let pause = min(Int64(30) << Int64(min(attempts - 1, 10)), 3600)
                let message = String(describing: error)
                try await store.transaction { database in
                    try await Inbox.mediaFailed(
                        item, givenUp: givenUp, retryAt: now + pause, error: String(message.prefix(300)), in: database)
                }
                logger.warning(
                    "media not downloaded", metadata: ["attempts": "\(attempts)", "givenUp": "\(givenUp)"])
            }
        }
        return stored
    }

    /// Writes `data` as `<sha256>.<ext>` (once: the same content is one file).
    private func save(_ data: Data, type: String) throws -> String {
        let manager = FileManager.default
        if !manager.fileExists(atPath: directory) {
            try manager.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let hash = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let name = hash + "." + Self.fileExtension(type)
        let path = (directory as NSString).appendingPathComponent(name)
        if !manager.fileExists(atPath: path) {
            let temporary = path + ".part"
            guard manager.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw StoreError("cannot write \(temporary)")
            }
            try manager.moveItem(atPath: temporary, toPath: path)
        }
        return name
    }

    static func fileExtension(_ type: String) -> String {
        switch type.split(separator: ";").first.map(String.init) ?? type {
        case "image/jpeg", "image/jpg": "jpg"
        case "image/png": "png"
        case "image/gif": "gif"
        case "audio/amr": "amr"
        case "audio/speex": "speex"
        case "audio/mpeg", "audio/mp3": "mp3"
        case "video/mp4": "mp4"
        default: "bin"
        }
    }
}
