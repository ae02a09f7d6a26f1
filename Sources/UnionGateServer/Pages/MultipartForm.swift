import Foundation
import Hummingbird
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// A `multipart/form-data` form (one with files: a roster, photos). A body cut short, without
/// a boundary, or past the limit is refused with a Chinese sentence, and nothing of it is used.
struct MultipartForm: Sendable {
    /// One field or file.
    struct Part: Sendable {
        let name: String
        /// The file's name as the browser sent it, for a file.
        let filename: String?
        let contentType: String?
        let body: ByteBuffer
    }

    let parts: [Part]

    /// Why an upload was refused, in words for the person who sent it.
    struct Refusal: Error, Sendable {
        let message: String
        let status: HTTPResponse.Status
    }

    /// The first text field named `name`.
    func value(_ name: String) -> String? {
        parts.first { $0.name == name && $0.filename == nil }.map { String(buffer: $0.body) }
    }

    /// The text fields, by name (the first of each).
    var values: [String: String] {
        var values: [String: String] = [:]
        for part in parts where part.filename == nil && values[part.name] == nil {
            values[part.name] = String(buffer: part.body)
        }
        return values
    }

    /// The files sent in `name`, leaving out a file input left empty.
    func files(_ name: String) -> [Part] {
        parts.filter { $0.name == name && $0.filename != nil && !($0.filename!.isEmpty && $0.body.readableBytes == 0) }
    }

    /// Whether `request` carries a multipart form.
    static func isMultipart(_ request: Request) -> Bool {
        request.headers[.contentType]?.lowercased().hasPrefix("multipart/form-data") ?? false
    }

    /// The form in `request`'s body (collected, at most `limit` bytes).
    static func read(_ request: inout Request, limit: Int) async throws -> MultipartForm {
        guard let type = request.headers[.contentType], let boundary = boundary(in: type) else {
            throw Refusal(message: "上传的表单格式不对，请返回后重新选择文件提交。", status: .badRequest)
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Refusal(
                message: "上传的内容太大了（最多 \(limit / 1024 / 1024) MB），请换小一些的文件再试。", status: .contentTooLarge)
        }
        return try parse(body, boundary: boundary)
    }

    /// The parts of `body`; a body that ends inside a part, or without the closing boundary, is
    /// refused, and so is one that does not follow the format.
    ///
    /// Written here rather than with multipart-kit's parser: that parser walks a file's bytes one
    /// at a time through closures, 10.4 s for a 5 MB photo in the debug build the test suite runs
    /// (so the suite's upload tests timed out on a loaded machine). The delimiters are found with
    /// `memchr` and `memcmp`, and each part's body is a slice of the request's buffer, not a copy.
    static func parse(_ body: ByteBuffer, boundary: String) throws -> MultipartForm {
        let malformed = Refusal(message: "上传的表单格式不对，请返回后重新选择文件提交。", status: .badRequest)
        let incomplete = Refusal(message: "上传没有完成（内容不完整），什么也没有保存。请返回后重新提交。", status: .badRequest)
        let delimiter = Array("--\(boundary)".utf8)
        let nextDelimiter = Array("\r\n--\(boundary)".utf8)
        let headersEnd = Array("\r\n\r\n".utf8)
        /// Each part's headers, and where its body is in `body`.
        var found: [(headers: [(String, String)], start: Int, length: Int)] = []
        try body.withUnsafeReadableBytes { raw in
            /// Where `needle` next occurs from `start`: `memchr` finds its first byte, `memcmp` the rest.
            func find(_ needle: [UInt8], from start: Int) -> Int? {
                guard let base = raw.baseAddress else { return nil }
                var at = start
                while at + needle.count <= raw.count {
                    guard let hit = memchr(base + at, Int32(needle[0]), raw.count - at - needle.count + 1) else {
                        return nil
                    }
                    let offset = UnsafeRawPointer(hit) - base
                    if needle.withUnsafeBytes({ memcmp(base + offset, $0.baseAddress!, needle.count) }) == 0 {
                        return offset
                    }
                    at = offset + 1
                }
                return nil
            }
            func bytes(_ at: Int, _ expected: String) -> Bool {
                let expected = Array(expected.utf8)
                return at + expected.count <= raw.count
                    && expected.indices.allSatisfy { raw[at + $0] == expected[$0] }
            }
            guard var position = find(delimiter, from: 0) else { throw incomplete }
            position += delimiter.count
            while true {
                if bytes(position, "--") { return }  // the closing delimiter
                guard position + 2 <= raw.count else { throw incomplete }
                guard bytes(position, "\r\n") else { throw malformed }
                position += 2
                guard let end = find(headersEnd, from: position) else { throw incomplete }
                var headers: [(String, String)] = []
                for line in raw[position..<end].split(separator: UInt8(ascii: "\n")) {
                    let line = line.last == UInt8(ascii: "\r") ? line.dropLast() : line
                    guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                        throw malformed
                    }
                    let name = String(decoding: line[..<colon], as: UTF8.self)
                    guard name.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else { throw malformed }
                    let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
                    headers.append((name.lowercased(), value.trimmingCharacters(in: .whitespaces)))
                }
                let start = end + headersEnd.count
                guard let next = find(nextDelimiter, from: start) else { throw incomplete }
                found.append((headers, start, next - start))
                position = next + nextDelimiter.count
            }
        }
        guard !found.isEmpty else { throw incomplete }
        let parts = found.map { part in
            let disposition = part.headers.first { $0.0 == "content-disposition" }?.1 ?? ""
            return Part(
                name: parameter("name", in: disposition) ?? "", filename: parameter("filename", in: disposition),
                contentType: part.headers.first { $0.0 == "content-type" }?.1,
                body: body.getSlice(at: body.readerIndex + part.start, length: part.length) ?? ByteBuffer())
        }
        return MultipartForm(parts: parts)
    }

    /// The `boundary` parameter of a `Content-Type`.
    static func boundary(in contentType: String) -> String? {
        parameter("boundary", in: contentType).flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
    }

    /// A parameter of a header value (`name="x"; filename="y.jpg"`), quotes removed.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
        return nil
    }
}
