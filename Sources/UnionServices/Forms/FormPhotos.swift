import Foundation
import SQLKit

/// A photo sent with a form on the member pages.
public struct FormPhoto: Sendable, Hashable, Decodable {
    /// The photo's name: 128 random bits, the only way to its file (never a guessable number).
    public var token: String
    public var submissionId: Int
    /// The form field it was sent in.
    public var field: String
    public var openid: String
    public var contentType: String
    public var bytes: Int
    /// `form` (a form's submission) or `aid` (an application of a workflow).
    public var recordKind: String
}

/// Photos sent with the union's forms on the member pages (proof for an application): checked by
/// their content (JPEG or PNG, whole, at most 5 MB), written beside the database with the inbox's
/// media (so backups of that folder carry them), and attached to the submission in its
/// transaction. Served to staff of the submission's unit and to the member who sent them.
public struct FormPhotos: Sendable {
    let store: UnionStore
    /// The folder of members' media (`media/` beside the database by default).
    let directory: String

    public init(store: UnionStore, directory: String) {
        self.store = store
        self.directory = directory
    }

    /// The largest photo accepted.
    public static let maxBytes = 5 * 1024 * 1024
    /// The most photos one field takes.
    public static let maxCount = 6

    /// A photo written to its file, waiting to be attached.
    public struct Staged: Sendable, Hashable {
        public let token: String
        public let field: String
        public let contentType: String
        public let bytes: Int
        let path: String
    }

    /// What is wrong with a photo, in words for the member.
    public struct Problem: Error, Sendable, Hashable {
        public let message: String
    }

    /// The photo's type from its content: JPEG or PNG, whole (a JPEG ends with its end marker, a
    /// PNG with its `IEND` chunk), at most 5 MB.
    public static func check(_ data: some Collection<UInt8>, name: String) -> Result<String, Problem> {
        let bytes = Array(data)
        guard bytes.count <= maxBytes else {
            return .failure(Problem(message: "照片「\(name)」太大（\(bytes.count / 1024 / 1024) MB），每张不能超过 5 MB。"))
        }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            var end = bytes.count
            while end > 2, bytes[end - 1] == 0x00 { end -= 1 }  // padding some cameras add
            guard end >= 4, bytes[end - 2] == 0xFF, bytes[end - 1] == 0xD9 else {
                return .failure(Problem(message: "照片「\(name)」不完整（可能没有上传完），请重新选择。"))
            }
            return .success("image/jpeg")
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            guard bytes.count >= 20, Array(bytes[(bytes.count - 8)..<(bytes.count - 4)]) == Array("IEND".utf8) else {
                return .failure(Problem(message: "照片「\(name)」不完整（可能没有上传完），请重新选择。"))
            }
            return .success("image/png")
        }
        return .failure(Problem(message: "「\(name)」不是 JPEG 或 PNG 照片，请选择手机拍的照片。"))
    }

    /// Writes checked photos to their files (each complete before it gets its name).
    public func stage(_ photos: [(field: String, data: [UInt8], contentType: String)]) throws -> [Staged] {
        let manager = FileManager.default
        if !manager.fileExists(atPath: directory) {
            try manager.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var staged: [Staged] = []
        do {
            for photo in photos {
                let token = ConsoleToken.make()
                let path = (directory as NSString).appendingPathComponent(
                    "photo-" + token + (photo.contentType == "image/png" ? ".png" : ".jpg"))
                guard
                    manager.createFile(
                        atPath: path + ".part", contents: Data(photo.data), attributes: [.posixPermissions: 0o600])
                else { throw StoreError("cannot write \(path).part") }
                try manager.moveItem(atPath: path + ".part", toPath: path)
                staged.append(
                    Staged(
                        token: token, field: photo.field, contentType: photo.contentType, bytes: photo.data.count,
                        path: path))
            }
        } catch {
            discard(staged)
            throw error
        }
        return staged
    }

    /// Stages checked photos, hands them to `store` (which attaches them in its transaction, or
    /// not at all on a second tap), and removes every file the store did not keep: all of them
    /// when `store` throws.
    public func keeping<Result: Sendable>(
        _ photos: [(field: String, data: [UInt8], contentType: String)],
        _ store: ([Staged]) async throws -> Result
    ) async throws -> Result {
        let staged = try stage(photos)
        let result: Result
        do {
            result = try await store(staged)
        } catch {
            discard(staged)
            throw error
        }
        let kept = try await kept(staged)
        discard(staged.filter { !kept.contains($0.token) })
        return result
    }

    /// Removes staged files that were not attached (the submission failed, or a second tap).
    public func discard(_ staged: [Staged]) {
        for photo in staged { try? FileManager.default.removeItem(atPath: photo.path) }
    }

    /// Attaches staged photos to a submission inside its transaction; a submission that has its
    /// photos already (the first of two taps) gets none more.
    static func attach(
        _ photos: [Staged], to submission: Int, openid: String, at now: Int64, in database: any SQLDatabase
    ) async throws {
        guard
            try await database.count(
                "form_photos",
                where: { $0.where("submission_id", .equal, submission).where("record_kind", .equal, "form") }) == 0
        else { return }
        try await insert(photos, record: submission, kind: "form", openid: openid, at: now, in: database)
    }

    /// Attaches staged photos to an aid application inside the transaction of its step (which
    /// happens once, so the photos are attached once).
    static func attach(
        _ photos: [Staged], toApplication application: Int, openid: String, at now: Int64, in database: any SQLDatabase
    ) async throws {
        try await insert(photos, record: application, kind: "aid", openid: openid, at: now, in: database)
    }

    private static func insert(
        _ photos: [Staged], record: Int, kind: String, openid: String, at now: Int64, in database: any SQLDatabase
    ) async throws {
        for photo in photos {
            try await database.insert(into: "form_photos")
                .columns(
                    "token", "submission_id", "record_kind", "field", "openid", "content_type", "bytes", "file",
                    "created_at"
                )
                .values(
                    SQLBind(photo.token), SQLBind(record), SQLBind(kind), SQLBind(photo.field), SQLBind(openid),
                    SQLBind(photo.contentType), SQLBind(photo.bytes),
                    SQLBind((photo.path as NSString).lastPathComponent), SQLBind(now)
                )
                .run()
        }
    }

    /// Which staged photos the store kept (after a submission; the others are a second tap's).
    public func kept(_ staged: [Staged]) async throws -> Set<String> {
        guard !staged.isEmpty else { return [] }
        return try await store.read { database in
            Set(
                try await database.select().column("token").from("form_photos")
                    .where("token", .in, staged.map(\.token)).all(decodingColumn: "token", as: String.self))
        }
    }

    /// The photos of these submissions, by submission.
    public func photos(ofSubmissions ids: [Int]) async throws -> [Int: [FormPhoto]] {
        try await photos(of: ids, kind: "form")
    }

    /// The photos of these aid applications, by application.
    public func photos(ofApplications ids: [Int]) async throws -> [Int: [FormPhoto]] {
        try await photos(of: ids, kind: "aid")
    }

    private func photos(of ids: [Int], kind: String) async throws -> [Int: [FormPhoto]] {
        guard !ids.isEmpty else { return [:] }
        let photos = try await store.read { database in
            try await database.select().columns("*").from("form_photos").where("submission_id", .in, ids)
                .where("record_kind", .equal, kind)
                .orderBy("created_at").orderBy("token")
                .all(decoding: FormPhoto.self, keyDecodingStrategy: .convertFromSnakeCase)
        }
        return Dictionary(grouping: photos, by: \.submissionId)
    }

    /// A photo's bytes and type, for staff of its submission's unit (404 outside it).
    public func photo(_ token: String, for actor: Principal) async throws -> (data: Data, type: String) {
        try actor.require(.read)
        let (photo, file, unit) = try await find(token)
        guard actor.scope.contains(unit) else { throw AdminActionError(.notFound, "no photo \(token)") }
        _ = photo
        return try read(file, type: photo.contentType, token: token)
    }

    /// A photo's bytes and type, for the member who sent it (404 for anyone else).
    public func photo(_ token: String, member openid: String) async throws -> (data: Data, type: String) {
        let (photo, file, _) = try await find(token)
        guard photo.openid == openid else { throw AdminActionError(.notFound, "no photo \(token)") }
        return try read(file, type: photo.contentType, token: token)
    }

    private func find(_ token: String) async throws -> (FormPhoto, file: String, unit: String) {
        guard token.count == 32, token.allSatisfy(\.isHexDigit) else {
            throw AdminActionError(.notFound, "no photo \(token)")
        }
        struct File: Decodable { var file: String }
        let found = try await store.read { database -> (FormPhoto, String, String)? in
            guard
                let row = try await database.select().columns("*").from("form_photos").where("token", .equal, token)
                    .first()
            else { return nil }
            let photo = try row.decode(model: FormPhoto.self, keyDecodingStrategy: .convertFromSnakeCase)
            let file = try row.decode(model: File.self).file
            let unit =
                photo.recordKind == "aid"
                ? try await AidApplications.unitCode(ofApplication: photo.submissionId, in: database) ?? ""
                : try await FormSubmissions.unitCode(ofSubmission: photo.submissionId, in: database) ?? ""
            return (photo, file, unit)
        }
        guard let found else { throw AdminActionError(.notFound, "no photo \(token)") }
        return found
    }

    private func read(_ file: String, type: String, token: String) throws -> (data: Data, type: String) {
        guard !file.contains("/"),
            let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(file))
        else { throw AdminActionError(.notFound, "no photo file for \(token)") }
        return (data, type)
    }
}

/// Random names for things that must not be guessed.
enum ConsoleToken {
    /// 128 random bits as 32 hex digits.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return MemberAccess.hex((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
