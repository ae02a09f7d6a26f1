import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization
import WeChatWire

/// Answers `POST /wechat` on the connection's event loop, before Hummingbird's router sees the
/// request. It reads the body, then ``WebhookResponder/begin(query:body:)`` verifies, opens and,
/// for most messages (a keyword reply, a retry of an answered message), answers from memory:
/// no task, no thread hop. A message that needs its handler is finished by
/// ``WebhookResponder/finish(_:)`` in a task, and its answer is written back here, so the message
/// is opened and matched once whichever way it goes.
///
/// It sits right after NIO's HTTP/1 decoder, before Hummingbird turns each request head into
/// swift-http-types' `HTTPRequest` (``WebhookHTTP1Channel``): that conversion checks the target
/// with `URLComponents` and copies the header fields, 6 % of the gateway's time, which the lane
/// does not need. What it passes on is converted as before.
///
/// Left to the router, parts and all: other routes, requests that ask for the connection to
/// close, bodies over the limit (the route refuses them), and any request while an earlier one
/// on the same connection is still with the router. While a message is with its handler, later
/// requests on the connection wait here, so responses keep their order.
///
/// A request answered before its body has been read (a forged webhook request refused from its
/// head, a body over a route's limit) leaves the rest of its body on the connection. When what is
/// left is at most ``drainLimit`` bytes it is read and dropped and the connection is kept; when it
/// is more, or of unknown length, the response says `Connection: close` and the connection closes
/// after it, so a keep-alive client never sends its next request into a closing connection.
final class WebhookFastLane: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading a webhook request's body; its query (signature checked) is read already.
        case collecting(HTTPRequestHead, WebhookQuery, ByteBuffer?)
        /// A webhook message is with its handler; its answer is written when it comes.
        case answering
        /// Passing the current request's parts on to the router.
        case passing
        /// Dropping the rest of a request already refused from its head.
        case discarding
    }

    /// The most request parts kept while a message is with its handler (pipelining is rare:
    /// WeChat sends one request at a time).
    private static var maxWaitingParts: Int { 256 }

    /// The most bytes of a refused request's body read and dropped to keep its connection.
    static var drainLimit: Int { 64 * 1024 }

    private let responder: WebhookResponder
    private let limits: ConnectionLimits
    /// When the request being read began (its head arrived); nil between requests.
    private var readingSince: NIODeadline?
    /// The check that closes the connection when a request is not whole by its deadline. One
    /// timer a connection, set when needed and re-armed when it fires, not one per request.
    private var readCheck: Scheduled<Void>?
    /// Whether this connection took a slot under the cap.
    private var counted = false
    private var state = State.idle
    /// Requests passed to the router whose response has not been written yet.
    private var withRouter = 0
    /// Of the request being passed to the router, the body bytes still to come; nil when its
    /// length is not known (chunked).
    private var passingLeft: Int? = 0
    /// The router's response being written announced the close: the connection closes after it.
    private var closeAfterRouterResponse = false
    /// Parts that arrived while a message was with its handler, in order.
    private var waitingParts: [HTTPServerRequestPart] = []
    /// A graceful shutdown asked this connection to close while a request was here.
    private var closeWhenAnswered = false
    private var isActive = true
    /// The connection is being closed after its last answer.
    private var closing = false
    private var date = HTTPDate()

    /// The HTTP/1 response encoder's place in the pipeline, when there is one: answers written
    /// there go to the socket as they are.
    private var encoder: ChannelHandlerContext?

    init(responder: WebhookResponder, limits: ConnectionLimits) {
        self.responder = responder
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        if context.channel.isActive { countConnection(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
        isActive = false
        readCheck?.cancel()
        readCheck = nil
        uncountConnection()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        read(unwrapInboundIn(data), context: context)
    }

    private func read(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if closing { return }  // answered and closing: what was already sent is not read
        if case .answering = state {
            guard waitingParts.count < Self.maxWaitingParts else {
                context.close(promise: nil)
                return
            }
            waitingParts.append(part)
            return
        }
        switch part {
        case .head(let head):
            readingSince = .now()
            if readCheck == nil { armReadCheck(context: context, at: readingSince! + limits.requestReadTimeout) }
            guard case .idle = state else {
                context.fireChannelRead(wrapInboundOut(part))  // out of order: the router deals with it
                return
            }
            if withRouter == 0, isCandidate(head) {
                let query = WebhookResponder.query(ofTarget: head.uri)
                if let refusal = responder.refuseUnsigned(query: query) {
                    // Unsigned: answered from the head alone. A small body is read and dropped
                    // (the connection stays); a large or unbounded one is not read at all.
                    if let length = Self.bodyLength(head), length <= Self.drainLimit {
                        state = .discarding
                    } else {
                        readingSince = nil
                        closeWhenAnswered = true
                        state = .discarding
                    }
                    write(refusal, context: context)
                    return
                }
                state = .collecting(head, query, nil)
            } else {
                state = .passing
                withRouter += 1
                passingLeft = Self.bodyLength(head)
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .body(let chunk):
            if case .discarding = state { return }
            guard case .collecting(let head, let query, var body) = state else {
                if case .passing = state, let left = passingLeft { passingLeft = left - chunk.readableBytes }
                context.fireChannelRead(wrapInboundOut(part))
                return
            }
            state = .idle  // so that the buffer below is not shared, and grows in place
            if body == nil {
                body = chunk
            } else {
                body!.writeImmutableBuffer(chunk)
            }
            if body!.readableBytes > responder.bodyLimit {
                handOver(head, body, context: context)  // the route refuses it properly
            } else {
                state = .collecting(head, query, body)
            }
        case .end:
            readingSince = nil
            switch state {
            case .collecting(_, let query, let body):
                state = .idle
                let body = body ?? context.channel.allocator.buffer(capacity: 0)
                switch responder.begin(query: query, body: body, signatureVerified: true) {
                case .reply(let reply):
                    write(reply, context: context)
                case .handle(let opened):
                    state = .answering
                    let responder = self.responder
                    let loop = context.eventLoop
                    let bound = NIOLoopBound((self, context), eventLoop: loop)
                    Task {
                        let reply = await responder.finish(opened)
                        loop.execute {
                            let (lane, context) = bound.value
                            lane.answered(reply, context: context)
                        }
                    }
                }
            case .passing:
                state = .idle
                passingLeft = 0
                context.fireChannelRead(wrapInboundOut(part))
            case .discarding:
                readingSince = nil
                state = .idle
            case .idle, .answering:
                context.fireChannelRead(wrapInboundOut(part))
            }
        }
    }

    /// Checks at `deadline` that no request has been read for too long: a slow client holds no
    /// connection and no buffer for long.
    private func armReadCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        readCheck = context.eventLoop.scheduleTask(deadline: deadline) { [weak self, weak context] in
            guard let self, let context else { return }
            self.readCheck = nil
            guard let since = self.readingSince else { return }  // nothing being read: no timer
            let due = since + self.limits.requestReadTimeout
            if due <= .now() {
                context.close(promise: nil)
            } else {
                self.armReadCheck(context: context, at: due)
            }
        }
    }

    /// Writes a handled message's answer, then reads what waited behind it.
    private func answered(_ reply: WebhookReply, context: ChannelHandlerContext) {
        guard isActive else { return }
        state = .idle
        write(reply, context: context)
        while !waitingParts.isEmpty, isActive {
            if case .answering = state { return }
            read(waitingParts.removeFirst(), context: context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where withRouter == 1 && isPassing && (passingLeft ?? .max) > Self.drainLimit:
            // Answered before much of its body was read: announce the close rather than read it.
            closeAfterRouterResponse = true
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .head(let head) where head.headers[canonicalForm: "connection"].contains("close"):
            closeAfterRouterResponse = true
            context.write(data, promise: promise)
        case .end:
            if withRouter > 0 { withRouter -= 1 }
            guard closeAfterRouterResponse else {
                context.write(data, promise: promise)
                return
            }
            closeAfterRouterResponse = false
            closing = true
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }

    private var isPassing: Bool {
        if case .passing = state { return true }
        return false
    }

    /// A request's announced body length: 0 without a body, nil when chunked or unreadable.
    private static func bodyLength(_ head: HTTPRequestHead) -> Int? {
        if head.headers.contains(name: "transfer-encoding") { return nil }
        guard let value = head.headers.first(name: "content-length") else { return 0 }
        return Int(value)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            switch state {
            case .collecting, .answering:
                closeWhenAnswered = true  // answer the request here first
                return
            case .idle, .passing, .discarding:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelActive(context: ChannelHandlerContext) {
        countConnection(context: context)
        context.fireChannelActive()
    }

    /// Takes a slot under the cap, or closes the connection when there is none.
    private func countConnection(context: ChannelHandlerContext) {
        guard !counted else { return }
        counted = limits.open()
        if !counted {
            context.close(promise: nil)  // over the cap
        }
    }

    private func uncountConnection() {
        if counted { limits.closed() }
        counted = false
    }

    func channelInactive(context: ChannelHandlerContext) {
        uncountConnection()
        state = .idle
        isActive = false
        waitingParts = []
        context.fireChannelInactive()
    }

    /// A POST to the webhook on a connection that stays open.
    private func isCandidate(_ head: HTTPRequestHead) -> Bool {
        let path = head.uri
        guard head.method == .POST, path.utf8.starts(with: "/wechat".utf8) else { return false }
        let rest = path.utf8.dropFirst(7)
        guard rest.isEmpty || rest.first == UInt8(ascii: "?") else { return false }
        // The router deals with `Connection: close` (and any other connection option).
        return !head.headers.contains(name: "connection")
    }

    private func handOver(_ head: HTTPRequestHead, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        state = .passing
        withRouter += 1
        passingLeft = Self.bodyLength(head).map { $0 - (body?.readableBytes ?? 0) }
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if let body { context.fireChannelRead(wrapInboundOut(.body(body))) }
        if closeWhenAnswered {
            closeWhenAnswered = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    private func write(_ reply: WebhookReply, context: ChannelHandlerContext) {
        var reply = reply
        reply.closes = closeWhenAnswered  // the client is told the connection closes
        let date = date.now()
        if let encoder {
            // The whole response in one buffer, written below the HTTP encoder, with the same
            // header fields in the same order as the encoder would write them: the socket gets
            // a single write.
            var buffer = context.channel.allocator.buffer(capacity: reply.body.count + 160)
            buffer.writeStaticString("HTTP/1.1 ")
            buffer.writeString(String(reply.status.code))
            buffer.writeStaticString(" ")
            buffer.writeString(reply.status.reasonPhrase)
            for header in reply.headers(date: date, serverName: responder.serverName) {
                buffer.writeStaticString("\r\n")
                buffer.writeString(header.name.rawName)
                buffer.writeStaticString(": ")
                buffer.writeString(header.value)
            }
            buffer.writeStaticString("\r\n\r\n")
            buffer.writeBytes(reply.body)
            encoder.writeAndFlush(NIOAny(buffer), promise: nil)
        } else {
            var buffer = context.channel.allocator.buffer(capacity: reply.body.count)
            buffer.writeBytes(reply.body)
            var headers = HTTPHeaders()
            for header in reply.headers(date: date, serverName: responder.serverName) {
                headers.add(name: header.name.rawName, value: header.value)
            }
            let status = HTTPResponseStatus(statusCode: reply.status.code, reasonPhrase: reply.status.reasonPhrase)
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        if closeWhenAnswered {
            closing = true
            context.close(promise: nil)
        }
    }
}

/// The connection cap and the request-read deadline, shared by every connection's fast lane.
final class ConnectionLimits: Sendable {
    let requestReadTimeout: TimeAmount
    private let count = Atomic<Int>(0)
    private let cap: Atomic<Int>

    /// The most connections open at once.
    var maxConnections: Int {
        get { cap.load(ordering: .relaxed) }
        set { cap.store(newValue, ordering: .relaxed) }
    }

    init(maxConnections: Int, requestReadTimeout: Duration) {
        self.cap = Atomic(maxConnections)
        self.requestReadTimeout = .nanoseconds(
            requestReadTimeout.components.seconds * 1_000_000_000 + requestReadTimeout.components.attoseconds
                / 1_000_000_000)
    }

    /// Counts a new connection; false when it is over the cap (it is then not counted).
    func open() -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        guard now <= cap.load(ordering: .relaxed) else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Counts a closed connection that ``open()`` accepted.
    func closed() {
        count.subtract(1, ordering: .relaxed)
    }

    /// How many connections are open.
    var current: Int { count.load(ordering: .relaxed) }
}
