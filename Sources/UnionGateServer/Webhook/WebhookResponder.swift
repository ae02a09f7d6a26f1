import Foundation
import Hummingbird
import Logging
import NIOCore
import UnionServices
import WeChatWire

/// The webhook's one way through: `GET /wechat` (URL verification) and `POST /wechat` (messages
/// in all three modes). A message is verified, opened and matched once; the fast lane and the
/// route both call ``begin(query:body:)`` and, when the message needs its handler,
/// ``finish(_:)``.
///
/// Refusals: a forged or unsigned request gets 403, an over-long body 413, anything that is not
/// an acceptable message 400 with no detail (the reason is logged once). Past those checks the
/// answer is always 200 with a reply or `success`: an internal error becomes a polite text.
struct WebhookResponder: Sendable {
    let codec: WebhookCodec
    let ledger: DeliveryLedger
    let metrics: GatewayMetrics
    let bodyLimit: Int
    let unixTime: @Sendable () -> Int64
    let serverName: String?
    let logger: Logger
    /// Refuses stale and replayed requests; nil when the check is off.
    let replays: ReplayGuard?
    /// In safe mode, plain bodies are refused.
    let acceptsPlain: Bool
    /// Where refusals are logged, at a bounded rate.
    let refusals: RefusalLog

    /// A message that verified and opened, waiting for its handler.
    struct Opened: Sendable {
        let opened: OpenedMessage
        let query: WebhookQuery
        let started: ContinuousClock.Instant
    }

    /// What ``begin(query:body:)`` made of a request.
    enum Step: Sendable {
        /// The response, ready: a refusal, or a reply from memory.
        case reply(WebhookReply)
        /// The message needs its handler: pass it to ``finish(_:)``.
        case handle(Opened)
    }

    static func query(of request: Request) -> WebhookQuery {
        WebhookQuery(query: request.uri.query ?? "")
    }

    /// The query of a request target (`/wechat?…`).
    static func query(ofTarget path: String) -> WebhookQuery {
        guard let mark = path.utf8.firstIndex(of: UInt8(ascii: "?")) else { return WebhookQuery() }
        return WebhookQuery(query: String(path[path.utf8.index(after: mark)...]))
    }

    func verify(_ request: Request) -> Response {
        do {
            let query = Self.query(of: request)
            let echostr = try codec.verifyURL(query)
            if let reason = replays?.refusal(of: query) {
                metrics.replayRefused()
                metrics.record(.forbidden)
                refusals.warning("WeChat URL verification refused", ["reason": reason])
                return Response(status: .forbidden)
            }
            metrics.record(.verified)
            logger.info("WeChat URL verification succeeded")
            return Self.text(echostr)
        } catch {
            metrics.signatureFailure()
            metrics.record(.forbidden)
            refusals.warning("WeChat URL verification refused", ["reason": "\(error)"])
            return Response(status: .forbidden)
        }
    }

    /// Verifies and opens a message, and answers it from memory when it can. Never blocks, so
    /// the event loop can call it.
    ///
    /// - Parameter signatureVerified: true when ``refuseUnsigned(query:)`` already passed it.
    func begin(query: WebhookQuery, body: ByteBuffer, signatureVerified: Bool = false) -> Step {
        let started = ContinuousClock.now
        guard body.readableBytes <= bodyLimit else {
            return .reply(refuse(.contentTooLarge, .tooLarge, reason: "body over the limit of \(bodyLimit) bytes"))
        }
        let opened: OpenedMessage
        do {
            opened = try body.withUnsafeReadableBytes { raw in
                try codec.open(
                    bytes: raw.assumingMemoryBound(to: UInt8.self), query: query, signatureVerified: signatureVerified)
            }
        } catch let error as WebhookError where error.isAuthenticationFailure {
            metrics.signatureFailure()
            return .reply(refuse(.forbidden, .forbidden, reason: error.description))
        } catch let error as CipherError {
            metrics.decryptFailure()
            return .reply(refuse(.badRequest, .badRequest, reason: "encrypted message did not open: \(error)"))
        } catch {
            return .reply(refuse(.badRequest, .badRequest, reason: "\(error)"))
        }
        if !signatureVerified, let reason = replays?.refusal(of: query) {
            metrics.replayRefused()
            return .reply(refuse(.forbidden, .forbidden, reason: reason))
        }
        if let replays, let reason = replayRefusal(replays, query: query, body: body, mode: opened.mode) {
            metrics.replayRefused()
            return .reply(refuse(.forbidden, .forbidden, reason: reason))
        }
        if opened.mode == .plain, !acceptsPlain {
            return .reply(refuse(.forbidden, .forbidden, reason: "a plain body, and the account is in safe mode"))
        }
        let request = Opened(opened: opened, query: query, started: started)
        guard let answer = ledger.answerAtOnce(opened.message, createTime: unixTime()) else {
            return .handle(request)
        }
        return .reply(seal(answer, for: request))
    }

    /// Remembers the signed URL with what stands for its body: the body itself in plain mode; in
    /// compatible and safe mode the `msg_signature` just verified, which covers the `Encrypt`
    /// text, the only part of the body that is read (so a kilobyte is not hashed again).
    private func replayRefusal(_ replays: ReplayGuard, query: WebhookQuery, body: ByteBuffer, mode: WireMode)
        -> String?
    {
        if mode != .plain, var signature = query.msgSignature {
            return signature.withUTF8 { replays.refusal(of: query, body: UnsafeRawBufferPointer($0)) }
        }
        return body.withUnsafeReadableBytes { replays.refusal(of: query, body: $0) }
    }

    /// Checks the URL signature and the timestamp from the request head, before any body is
    /// read: a request that fails is refused (403) without waiting for a body nobody will use.
    /// Nil when it passes.
    func refuseUnsigned(query: WebhookQuery) -> WebhookReply? {
        do {
            try codec.verifySignature(query)
        } catch {
            metrics.signatureFailure()
            return refuse(.forbidden, .forbidden, reason: "\(error)")
        }
        if let reason = replays?.refusal(of: query) {
            metrics.replayRefused()
            return refuse(.forbidden, .forbidden, reason: reason)
        }
        return nil
    }

    /// Answers a message that needs its handler (or waits for the first attempt's answer).
    func finish(_ request: Opened) async -> WebhookReply {
        seal(await ledger.submit(request.opened.message, createTime: unixTime()), for: request)
    }

    /// `POST /wechat` on the route: the requests the fast lane leaves to it.
    func receive(_ request: Request) async -> Response {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > bodyLimit {
            return response(refuse(.contentTooLarge, .tooLarge, reason: "body of \(length) bytes is over the limit"))
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: bodyLimit)
        } catch is NIOTooManyBytesError {
            return response(refuse(.contentTooLarge, .tooLarge, reason: "body over the limit of \(bodyLimit) bytes"))
        } catch {
            return response(refuse(.badRequest, .badRequest, reason: "body could not be read: \(error)"))
        }
        switch begin(query: Self.query(of: request), body: buffer) {
        case .reply(let reply): return response(reply)
        case .handle(let opened): return response(await finish(opened))
        }
    }

    /// The route's response for `reply`, with the same header fields the lane writes.
    func response(_ reply: WebhookReply) -> Response {
        Response(
            status: reply.status,
            headers: reply.headerFields(
                date: HTTPDate.format(Int(Date().timeIntervalSince1970)), serverName: serverName),
            body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    /// Seals the answer and counts it.
    private func seal(_ answer: DeliveryLedger.Answer, for request: Opened) -> WebhookReply {
        let reply: PassiveReply = answer.reply?.passive.map { .message($0) } ?? .none
        let body: [UInt8]
        do {
            body = try codec.sealBytes(
                reply, answering: request.opened, createTime: answer.createTime,
                timestamp: request.query.timestamp ?? "\(unixTime())", nonce: request.query.nonce ?? "")
        } catch {
            logger.error("reply could not be sealed; answering success", metadata: ["reason": "\(error)"])
            body = PassiveReply.successBytes
        }
        let success = PassiveReply.isSuccess(body)
        metrics.answered(
            answer.reply == nil ? .deadline : (success ? .noReply : .replied),
            latency: ContinuousClock.now - request.started,
            rule: answer.duplicate ? nil : answer.reply?.ruleName)
        return .answer(body, isSuccess: success)
    }

    private func refuse(_ status: HTTPResponse.Status, _ outcome: GatewayMetrics.Outcome, reason: String)
        -> WebhookReply
    {
        metrics.record(outcome)
        refusals.warning("webhook request refused", ["status": "\(status.code)", "reason": reason])
        return .refusal(status)
    }

    static func text(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
