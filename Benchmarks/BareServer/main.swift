// The yardstick for `scripts/bench`: a bare Hummingbird route that returns a fixed reply of the
// same size as the gateway's, so the gateway's own cost can be read as a fraction of it.
//     bare-server PORT REPLY_BYTES
import Hummingbird

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 8090 : 8090
let size = arguments.count > 2 ? Int(arguments[2]) ?? 300 : 300
let reply = String(repeating: "x", count: size)

let router = Router()
router.post("/wechat") { request, _ -> Response in
    _ = try await request.body.collect(upTo: 64 * 1024)
    return Response(
        status: .ok, headers: [.contentType: "application/xml; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: reply)))
}
router.get("/healthz") { _, _ in "ok" }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
