import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers `POST /wechat` on the connection's event loop when it can, before Hummingbird's
/// router sees the request: a message that verifies, opens and is answered from memory (a
/// keyword reply, say, or a retry of an answered message) costs no task and no thread hop.
///
/// Everything else goes on to the router unchanged, parts and all: other routes, refusals
/// (so they are answered, counted and logged in one place), messages whose handler must run
/// (services, storage), requests that ask for the connection to close, and any request while
/// an earlier one on the same connection is still with the router, so responses keep their order.
final class WebhookFastLane: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading a webhook request's body, to answer it here if possible.
        case collecting(HTTPRequest, ByteBuffer?)
        /// Passing the current request's parts on to the router.
        case passing
    }

    private let responder: WebhookResponder
    private let serverName: String?
    private var state = State.idle
    /// Requests passed to the router whose response has not been written yet.
    private var withRouter = 0
    /// A graceful shutdown asked this connection to close while a request was being read here.
    private var closeWhenAnswered = false

    /// The HTTP/1 response encoder's place in the pipeline, when there is one: answers written
    /// there go to the socket as they are.
    private var encoder: ChannelHandlerContext?

    init(responder: WebhookResponder, serverName: String?) {
        self.responder = responder
        self.serverName = serverName
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoder = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else {
                context.fireChannelRead(data)  // out of order: the router deals with it
                return
            }
            if withRouter == 0, isCandidate(head) {
                state = .collecting(head, nil)
            } else {
                state = .passing
                withRouter += 1
                context.fireChannelRead(data)
            }
        case .body(let chunk):
            guard case .collecting(let head, var body) = state else {
                context.fireChannelRead(data)
                return
            }
            state = .idle  // so that the buffer below is not shared, and grows in place
            if body == nil {
                body = chunk
            } else {
                body!.writeImmutableBuffer(chunk)
            }
            if body!.readableBytes > responder.bodyLimit {
                // Too long to answer here: the router refuses it properly.
                handOver(head, body, context: context)
            } else {
                state = .collecting(head, body)
            }
        case .end(let trailers):
            switch state {
            case .collecting(let head, let body):
                state = .idle
                let empty = body ?? context.channel.allocator.buffer(capacity: 0)
                if let reply = responder.answerAtOnce(path: head.path ?? "", body: empty) {
                    write(reply, context: context)
                } else {
                    handOver(head, body, context: context)
                    context.fireChannelRead(wrapInboundOut(.end(trailers)))
                    state = .idle
                }
            case .passing:
                state = .idle
                context.fireChannelRead(data)
            case .idle:
                context.fireChannelRead(data)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), withRouter > 0 {
            withRouter -= 1
        }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, case .collecting = state {
            closeWhenAnswered = true  // answer the request being read first
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .idle
        context.fireChannelInactive()
    }

    /// A POST to the webhook on a connection that stays open.
    private func isCandidate(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = head.path, path.utf8.starts(with: "/wechat".utf8) else { return false }
        let rest = path.utf8.dropFirst(7)
        guard rest.isEmpty || rest.first == UInt8(ascii: "?") else { return false }
        // The router deals with `Connection: close` (and any other connection option).
        return head.headerFields[.connection] == nil
    }

    private func handOver(_ head: HTTPRequest, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        state = .passing
        withRouter += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if let body { context.fireChannelRead(wrapInboundOut(.body(body))) }
        if closeWhenAnswered {
            closeWhenAnswered = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    private func write(_ reply: WebhookResponder.Reply, context: ChannelHandlerContext) {
        if let encoder {
            // The whole response in one buffer, written below the HTTP encoder: a 200 with a
            // fixed body needs none of its conversions, and the socket gets a single write.
            var buffer = context.channel.allocator.buffer(capacity: reply.body.count + 128)
            buffer.writeStaticString("HTTP/1.1 200 OK\r\nContent-Type: ")
            buffer.writeString(reply.contentType)
            buffer.writeStaticString("\r\nContent-Length: ")
            buffer.writeString(String(reply.body.count))
            if let serverName {
                buffer.writeStaticString("\r\nServer: ")
                buffer.writeString(serverName)
            }
            buffer.writeStaticString("\r\n\r\n")
            buffer.writeBytes(reply.body)
            encoder.writeAndFlush(NIOAny(buffer), promise: nil)
        } else {
            var fields = HTTPFields()
            fields[.contentType] = reply.contentType
            fields[.contentLength] = String(reply.body.count)
            if let serverName { fields[.server] = serverName }
            var buffer = context.channel.allocator.buffer(capacity: reply.body.count)
            buffer.writeBytes(reply.body)
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
            context.write(wrapOutboundOut(.body(buffer)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        if closeWhenAnswered {
            context.close(promise: nil)
        }
    }
}
