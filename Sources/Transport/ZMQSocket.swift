import CZMQ
#if canImport(Glibc)
import Glibc
#endif

/// A ZeroMQ socket with this project's safety rails: bounded queues, bounded messages, mandatory
/// routing, dead-peer detection, and a deadline on every wait (see `SocketOptions`).
///
/// Threading: libzmq sockets are not thread-safe. Create, use and close each socket on one thread
/// (workers run a dedicated I/O thread loop that owns its sockets); hand work to other threads as
/// `ReceivedMessage`s or `PayloadBuffer`s, which are Sendable. The type is deliberately not Sendable,
/// so the compiler rejects sharing it. To end a loop from another thread use a `StopSignal`.
///
/// Sending: `send(_:to:timeout:)` (ZeroMQ multipart, zero-copy for payload frames).
/// Receiving: `receive(timeout:stop:)` (multipart, frames stay in libzmq's buffers).
/// Waiting on several sockets: `ZMQPoller`.
public final class ZMQSocket {
    public let type: SocketType
    public let options: SocketOptions
    let context: ZMQContext
    var handle: UnsafeMutableRawPointer?
    /// Bound and connected endpoints, for error context.
    public private(set) var endpoints: [String] = []
    /// A rejected oversize message is still arriving: the next receive discards its rest first.
    var discardingRestOfMessage = false

    init(context: ZMQContext, type: SocketType, options: SocketOptions) throws(TransportError) {
        self.context = context
        self.type = type
        self.options = options
        guard let h = zmq_socket(context.handle, type.zmqValue) else {
            throw ZMQContext.lastError("zmq_socket(\(type))", endpoint: "new socket")
        }
        handle = h
        do {
            try applyOptions()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Closes the socket (idempotent). Unsent messages linger for at most `options.linger`.
    public func close() {
        guard let h = handle else { return }
        zmq_close(h)
        handle = nil
    }

    /// Binds to `endpoint` and returns the resolved address: with `tcp://127.0.0.1:*` (or port 0)
    /// the operating system picks a free port, and the result names it (ZMQ_LAST_ENDPOINT).
    @discardableResult
    public func bind(_ endpoint: String) throws(TransportError) -> String {
        let h = try openHandle()
        guard zmq_bind(h, endpoint) == 0 else { throw ZMQContext.lastError("zmq_bind", endpoint: endpoint) }
        let resolved = try lastEndpoint()
        endpoints.append(resolved)
        return resolved
    }

    /// Connects to `endpoint`. Returns at once: libzmq connects (and reconnects) in the background;
    /// with `immediate` set, sends wait (up to their deadline) until the connection is up.
    public func connect(_ endpoint: String) throws(TransportError) {
        let h = try openHandle()
        guard zmq_connect(h, endpoint) == 0 else { throw ZMQContext.lastError("zmq_connect", endpoint: endpoint) }
        endpoints.append(endpoint)
    }

    /// Disconnects from an endpoint given to `connect`.
    public func disconnect(_ endpoint: String) throws(TransportError) {
        let h = try openHandle()
        guard zmq_disconnect(h, endpoint) == 0 else { throw ZMQContext.lastError("zmq_disconnect", endpoint: endpoint) }
        endpoints.removeAll { $0 == endpoint }
    }

    /// ZMQ_LAST_ENDPOINT: the address of the last bind or connect.
    public func lastEndpoint() throws(TransportError) -> String {
        let h = try openHandle()
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZMQContext.lastError("zmq_getsockopt(ZMQ_LAST_ENDPOINT)", endpoint: endpointDescription)
        }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "tcp://127.0.0.1:5555" (or several, comma-separated) for error messages.
    public var endpointDescription: String {
        endpoints.isEmpty ? "\(type) socket (unbound)" : "\(type) " + endpoints.joined(separator: ",")
    }

    func openHandle() throws(TransportError) -> UnsafeMutableRawPointer {
        guard let h = handle else { throw .socketClosed(endpoint: endpointDescription) }
        return h
    }

    // MARK: - options

    private func applyOptions() throws(TransportError) {
        let o = options
        try set(ZMQ_LINGER, "ZMQ_LINGER", Int32(clamping: Self.millis(o.linger)))
        try set(ZMQ_SNDHWM, "ZMQ_SNDHWM", Int32(clamping: o.sendHighWaterMark))
        try set(ZMQ_RCVHWM, "ZMQ_RCVHWM", Int32(clamping: o.receiveHighWaterMark))
        var maxSize = Int64(o.maxFrameBytes)
        try setRaw(ZMQ_MAXMSGSIZE, "ZMQ_MAXMSGSIZE", &maxSize, MemoryLayout<Int64>.size)
        try set(ZMQ_RECONNECT_IVL, "ZMQ_RECONNECT_IVL", Int32(clamping: Self.millis(o.reconnectInterval)))
        try set(ZMQ_RECONNECT_IVL_MAX, "ZMQ_RECONNECT_IVL_MAX", Int32(clamping: Self.millis(o.reconnectIntervalMax)))
        if let interval = o.heartbeatInterval {
            try set(ZMQ_HEARTBEAT_IVL, "ZMQ_HEARTBEAT_IVL", Int32(clamping: Self.millis(interval)))
            try set(ZMQ_HEARTBEAT_TIMEOUT, "ZMQ_HEARTBEAT_TIMEOUT", Int32(clamping: Self.millis(o.heartbeatTimeout)))
            try set(ZMQ_HEARTBEAT_TTL, "ZMQ_HEARTBEAT_TTL", Int32(clamping: Self.millis(o.heartbeatTimeout)))
        }
        switch o.curve {
        case nil: break
        case .server(let pair):
            try Curve.requireAvailable()
            guard context.hasZAPHandler else {
                throw .curveUnavailable("a CURVE server socket needs the context's ZAP handler running first (ZAPAuthenticator); without one libzmq admits every key")
            }
            try set(ZMQ_CURVE_SERVER, "ZMQ_CURVE_SERVER", 1)
            var secret = pair.secretKey.bytes
            try setRaw(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", &secret, 32)
            var domain = Array(o.zapDomain.utf8)
            try setRaw(ZMQ_ZAP_DOMAIN, "ZMQ_ZAP_DOMAIN", &domain, domain.count)
        case .client(let pair, let serverKey):
            try Curve.requireAvailable()
            var server = serverKey.bytes, pub = pair.publicKey.bytes, secret = pair.secretKey.bytes
            try setRaw(ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", &server, 32)
            try setRaw(ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", &pub, 32)
            try setRaw(ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", &secret, 32)
        }
        if let id = o.routingID {
            guard !id.bytes.isEmpty, id.bytes.count <= 255, id.bytes[0] != 0 else {
                throw .invalidArgument("routing id must be 1–255 bytes and not start with a zero byte: \(id)")
            }
            var bytes = id.bytes
            try setRaw(ZMQ_ROUTING_ID, "ZMQ_ROUTING_ID", &bytes, bytes.count)
        }
        switch type {
        case .router:
            try set(ZMQ_ROUTER_MANDATORY, "ZMQ_ROUTER_MANDATORY", o.routerMandatory ? 1 : 0)
        case .dealer, .push, .request, .pair:
            try set(ZMQ_IMMEDIATE, "ZMQ_IMMEDIATE", o.immediate ? 1 : 0)
        case .subscriber:
            for var topic in o.subscriptions {
                try setRaw(ZMQ_SUBSCRIBE, "ZMQ_SUBSCRIBE", &topic, topic.count)
            }
        case .publisher, .reply, .pull:
            break
        }
    }

    private func set(_ option: Int32, _ name: String, _ value: Int32) throws(TransportError) {
        var v = value
        try setRaw(option, name, &v, MemoryLayout<Int32>.size)
    }

    private func setRaw(_ option: Int32, _ name: String, _ value: UnsafeRawPointer, _ size: Int) throws(TransportError) {
        let h = try openHandle()
        guard zmq_setsockopt(h, option, value, size) == 0 else {
            throw ZMQContext.lastError("zmq_setsockopt(\(name))", endpoint: endpointDescription)
        }
    }

    static func millis(_ d: Duration) -> Int {
        let (s, atto) = d.components
        guard s >= 0 else { return 0 }
        return Int(min(s, 1 << 40)) * 1000 + Int(atto / 1_000_000_000_000_000)
    }
}
