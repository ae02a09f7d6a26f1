import Hummingbird
import Logging
import NIOCore
import UnionServices
import WeChatWire

/// `GET /wechat` (URL verification) and `POST /wechat` (messages in all three modes).
///
/// Refusals: a forged or unsigned request gets 403, an over-long body 413, anything that is not
/// an acceptable message 400 with no detail (the reason is logged once). Past those checks the
/// answer is always 200 with a reply or `success`: an internal error becomes a polite text.
struct WebhookResponder: Sendable {
    let codec: WebhookCodec
    let ledger: DeliveryLedger
    let metrics: GatewayMetrics
    let bodyLimit: Int
    let clock: @Sendable () -> Int64
    let logger: Logger

    static func query(of request: Request) -> WebhookQuery {
        WebhookQuery(query: request.uri.query ?? "")
    }

    func verify(_ request: Request) -> Response {
        do {
            let echostr = try codec.verifyURL(Self.query(of: request))
            metrics.record(.verified)
            logger.info("WeChat URL verification succeeded")
            return Self.text(echostr)
        } catch {
            metrics.signatureFailure()
            metrics.record(.forbidden)
            logger.warning("WeChat URL verification refused", metadata: ["reason": "\(error)"])
            return Response(status: .forbidden)
        }
    }

    func receive(_ request: Request) async -> Response {
        let started = ContinuousClock.now
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > bodyLimit {
            return refuse(.contentTooLarge, .tooLarge, reason: "body of \(length) bytes is over the limit")
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: bodyLimit)
        } catch is NIOTooManyBytesError {
            return refuse(.contentTooLarge, .tooLarge, reason: "body over the limit of \(bodyLimit) bytes")
        } catch {
            return refuse(.badRequest, .badRequest, reason: "body could not be read: \(error)")
        }
        let query = Self.query(of: request)
        let opened: OpenedMessage
        do {
            opened = try codec.open(Array(buffer.readableBytesView), query: query)
        } catch let error as WebhookError where error.isAuthenticationFailure {
            metrics.signatureFailure()
            return refuse(.forbidden, .forbidden, reason: error.description)
        } catch let error as CipherError {
            metrics.decryptFailure()
            return refuse(.badRequest, .badRequest, reason: "encrypted message did not open: \(error)")
        } catch {
            return refuse(.badRequest, .badRequest, reason: "\(error)")
        }

        let answer = await ledger.submit(opened.message, createTime: clock())
        let reply = finish(answer, answering: opened, query: query, started: started)
        return Response(
            status: .ok, headers: [.contentType: reply.contentType],
            body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    /// A webhook reply's body and content type.
    struct Reply {
        var body: [UInt8]
        var contentType: String
    }

    /// The fast lane, called on the event loop for `POST /wechat`: the reply when the request
    /// verifies, opens, and is answered from memory (see ``DeliveryLedger/answerAtOnce(_:createTime:)``).
    /// Nil for everything else (refusals included), which then takes the route, so that it is
    /// answered, counted and logged in one place.
    func answerAtOnce(path: String, body: ByteBuffer) -> Reply? {
        let started = ContinuousClock.now
        guard body.readableBytes <= bodyLimit else { return nil }
        let query =
            path.utf8.firstIndex(of: UInt8(ascii: "?")).map { mark in
                WebhookQuery(query: String(path[path.utf8.index(after: mark)...]))
            } ?? WebhookQuery()
        let opened = try? body.withUnsafeReadableBytes { raw in
            try codec.open(bytes: raw.assumingMemoryBound(to: UInt8.self), query: query)
        }
        guard let opened,
            let answer = ledger.answerAtOnce(opened.message, createTime: clock())
        else { return nil }
        return finish(answer, answering: opened, query: query, started: started)
    }

    /// Seals the answer and counts it.
    private func finish(
        _ answer: DeliveryLedger.Answer, answering opened: OpenedMessage, query: WebhookQuery,
        started: ContinuousClock.Instant
    ) -> Reply {
        let reply: PassiveReply = answer.outcome?.replies.first.map { .message($0) } ?? .none
        let body: [UInt8]
        do {
            body = try codec.sealBytes(
                reply, answering: opened, createTime: answer.createTime, timestamp: query.timestamp ?? "\(clock())",
                nonce: query.nonce ?? "")
        } catch {
            logger.error("reply could not be sealed; answering success", metadata: ["reason": "\(error)"])
            body = PassiveReply.successBytes
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let success = PassiveReply.isSuccess(body)
        metrics.answered(
            answer.outcome == nil ? .deadline : (success ? .noReply : .replied), seconds: seconds,
            rule: answer.duplicate ? nil : answer.outcome?.ruleName)
        return Reply(
            body: body, contentType: success ? "text/plain; charset=utf-8" : "application/xml; charset=utf-8")
    }

    private func refuse(_ status: HTTPResponse.Status, _ outcome: GatewayMetrics.Outcome, reason: String) -> Response {
        metrics.record(outcome)
        logger.warning("webhook request refused", metadata: ["status": "\(status.code)", "reason": "\(reason)"])
        return Response(status: status)
    }

    static func text(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
