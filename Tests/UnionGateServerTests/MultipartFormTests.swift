import Hummingbird
import Testing

@testable import UnionGateServer

/// The multipart reader on its own: parts, names and files, and every way a body can be wrong.
@Suite("Multipart forms")
struct MultipartFormTests {
    static let boundary = "----UnionGateBoundary7MA4YWxk"

    func body(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test func fieldsAndFilesAreReadAsTheBrowserSentThem() throws {
        let photo: [UInt8] = [0xFF, 0xD8, 0x0D, 0x0A, 0x2D, 0x2D, 0x0D, 0xFF, 0xD9]  // CR, LF and "--" inside
        var buffer = ByteBuffer(string: "preamble to ignore\r\n")
        buffer.writeString(
            "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n孙八\r\n"
                + "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n"
                + "--\(Self.boundary)\r\ncontent-disposition: form-data; name=\"photos\"; filename=\"工伤 照片.jpg\"\r\n"
                + "Content-Type:image/jpeg\r\n\r\n")
        buffer.writeBytes(photo)
        buffer.writeString("\r\n--\(Self.boundary)--\r\nepilogue")
        let form = try MultipartForm.parse(buffer, boundary: Self.boundary)
        #expect(form.parts.count == 3)
        #expect(form.value("name") == "孙八")
        #expect(form.value("empty") == "")
        #expect(form.values == ["name": "孙八", "empty": ""])
        let file = try #require(form.files("photos").first)
        #expect(file.filename == "工伤 照片.jpg")
        #expect(file.contentType == "image/jpeg")
        #expect(Array(file.body.readableBytesView) == photo)
    }

    @Test func aBodyCutShortOrMalformedIsRefused() {
        let whole =
            "--\(Self.boundary)\nContent-Disposition: form-data; name=\"a\"\n\n1\n--\(Self.boundary)--\n"
        #expect((try? MultipartForm.parse(body(whole), boundary: Self.boundary)) != nil)
        let incomplete = "上传没有完成"
        let malformed = "格式不对"
        let cases: [(String, String)] = [
            ("", incomplete),
            ("no boundary at all", incomplete),
            (String(whole.dropLast(4 + Self.boundary.count)), incomplete),  // cut inside the last delimiter
            ("--\(Self.boundary)\nContent-Disposition: form-data; name=\"a\"\n\n1", incomplete),  // no delimiter after
            ("--\(Self.boundary)\nContent-Disposition: form-data", incomplete),  // headers never end
            ("--\(Self.boundary)--\n", incomplete),  // no parts
            ("--\(Self.boundary)XContent-Disposition: x\n\n1\n--\(Self.boundary)--", malformed),
            ("--\(Self.boundary)\nno colon here\n\n1\n--\(Self.boundary)--", malformed),
            ("--\(Self.boundary)\n: empty name\n\n1\n--\(Self.boundary)--", malformed),
        ]
        for (text, expected) in cases {
            #expect(throws: MultipartForm.Refusal.self, "\(text.prefix(40))") {
                try MultipartForm.parse(body(text), boundary: Self.boundary)
            }
            do {
                _ = try MultipartForm.parse(body(text), boundary: Self.boundary)
            } catch let refusal as MultipartForm.Refusal {
                #expect(refusal.message.contains(expected), "\(text.prefix(40)): \(refusal.message)")
                #expect(refusal.status == .badRequest)
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    /// A part's body is a slice of the request's buffer, read from its reader index.
    @Test func aBufferWithAReaderIndexIsReadFromIt() throws {
        var buffer = ByteBuffer(string: "XXXX")
        buffer.writeString(
            "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n--\(Self.boundary)--")
        buffer.moveReaderIndex(forwardBy: 4)
        #expect(try MultipartForm.parse(buffer, boundary: Self.boundary).value("a") == "value")
    }
}
