import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 channel with the webhook's fast lane ahead of the conversion to
/// swift-http-types: the pipeline of `HTTP1Channel.setup`, in its order, with
/// ``WebhookFastLane`` between NIO's HTTP/1 codec and `HTTP1ToHTTPServerCodec`. Requests are
/// then handled by Hummingbird as in `HTTP1Channel`.
struct WebhookHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    /// The lane for a new connection.
    let lane: @Sendable () -> WebhookFastLane
    /// How long a connection may stay idle.
    let idleTimeout: Duration?

    /// The server builder for ``Application``.
    static func builder(lane: @escaping @Sendable () -> WebhookFastLane, idleTimeout: Duration?) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            WebhookHTTP1Channel(responder: responder, lane: lane, idleTimeout: idleTimeout)
        }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Hummingbird's limits (NIO's own allow 65,534 header fields).
            var limits = NIOHTTPDecoderLimitConfiguration()
            let defaults = HTTP1Channel.Configuration().httpDecoder
            limits.maxHeaderFieldSize = defaults.maxHeaderFieldSize
            limits.maxHeaderListSize = defaults.maxHeaderListSize
            limits.maxHeaderFieldCount = defaults.maxHeaderFieldCount
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,  // NIOAsyncChannel pipelines
                withErrorHandling: false,  // Hummingbird's Application handles errors
                withOutboundHeaderValidation: false,  // swift-http-types validates
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(lane())
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            return try NIOAsyncChannel(
                wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
