import HTTPFrontEnd
import Hummingbird
import NIOCore

/// Watches one HTTP connection for its client going away — the input closed (the client shut
/// down or closed its socket) or the channel inactive (a reset) — and marks the connection's
/// `ClientConnection` gone, which cancels the request running on it in the cluster.
///
/// It sits after HTTP decoding (Hummingbird's `additionalChannelHandlers`), where NIO's pipeline
/// handler delivers a half-close at once when no request part is still buffered, and passes
/// every read and event through unchanged.
final class ClientDisconnectHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let connection = ClientConnection()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            connection.markGone("the HTTP client closed its connection")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.markGone("the HTTP client's connection was lost")
        context.fireChannelInactive()
    }
}

/// The request context of the gateway's routes: Hummingbird's basic one plus the connection's
/// disconnect watcher, found once per request on the channel's pipeline.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The connection this request arrived on (nil if the watcher is not in the pipeline).
    func clientConnection() async -> ClientConnection? {
        try? await channel.pipeline.handler(type: ClientDisconnectHandler.self).get().connection
    }
}
