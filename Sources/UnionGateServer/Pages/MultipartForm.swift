import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// A `multipart/form-data` form (one with files: a roster, photos), read with multipart-kit's
/// parser. A body cut short, without a boundary, or past the limit is refused with a Chinese
/// sentence, and nothing of it is used.
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

    /// The parts of `body`; a body that ends inside a part is refused.
    static func parse(_ body: ByteBuffer, boundary: String) throws -> MultipartForm {
        final class Collector {
            var parts: [Part] = []
            var headers: [(String, String)] = []
            var current = ByteBuffer()
            var open = false
        }
        let collector = Collector()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in
            collector.open = true
            collector.headers.append((name.lowercased(), value))
        }
        parser.onBody = { chunk in
            collector.open = true
            collector.current.writeBuffer(&chunk)
        }
        parser.onPartComplete = {
            let disposition = collector.headers.first { $0.0 == "content-disposition" }?.1 ?? ""
            let name = parameter("name", in: disposition) ?? ""
            collector.parts.append(
                Part(
                    name: name, filename: parameter("filename", in: disposition),
                    contentType: collector.headers.first { $0.0 == "content-type" }?.1, body: collector.current))
            collector.headers = []
            collector.current = ByteBuffer()
            collector.open = false
        }
        do {
            try parser.execute(body)
        } catch {
            throw Refusal(message: "上传的表单格式不对，请返回后重新选择文件提交。", status: .badRequest)
        }
        // The closing boundary says the browser sent it all; a body cut between parts lacks it.
        var tail = Array(body.readableBytesView.suffix(boundary.utf8.count + 8))
        while let last = tail.last, last == 0x0D || last == 0x0A || last == 0x20 { tail.removeLast() }
        let closed =
            tail.count >= boundary.utf8.count + 4
            && tail.suffix(boundary.utf8.count + 4).elementsEqual(
                Array("--\(boundary)--".utf8))
        guard closed, !collector.open, !collector.parts.isEmpty else {
            throw Refusal(message: "上传没有完成（内容不完整），什么也没有保存。请返回后重新提交。", status: .badRequest)
        }
        return MultipartForm(parts: collector.parts)
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
