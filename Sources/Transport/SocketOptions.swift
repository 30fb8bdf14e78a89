import CZMQ

/// The ZeroMQ socket patterns this project uses.
public enum SocketType: Sendable, Hashable, CaseIterable {
    case pair, publisher, subscriber, request, reply, dealer, router, pull, push

    var zmqValue: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pull: ZMQ_PULL
        case .push: ZMQ_PUSH
        }
    }
}

/// Options applied to every socket at creation. The defaults are chosen against the failure modes
/// disaggregated-serving users report (../shared/notes/peers.md §4): unbounded queues, silent drops,
/// and waits that never end when a peer dies.
public struct SocketOptions: Sendable, Hashable {
    /// ZMQ_LINGER: how long `close` may keep unsent messages. Short, so a dying process does not hang
    /// in zmq_ctx_term; long enough for a final error report to leave.
    public var linger: Duration = .milliseconds(200)
    /// ZMQ_SNDHWM / ZMQ_RCVHWM, in messages. libzmq's default of 1000 could queue gigabytes of
    /// 16 MiB frames; a KV transfer is one message per layer, so a few dozen is plenty.
    public var sendHighWaterMark: Int = 32
    public var receiveHighWaterMark: Int = 32
    /// ZMQ_MAXMSGSIZE: libzmq disconnects a peer that sends a larger frame (it applies per frame,
    /// before allocating). Frames are ≤ 16 MiB by the wire format.
    public var maxFrameBytes: Int = 16 << 20
    /// Caps on one received multipart message, enforced by `receive`: libzmq bounds frames but not
    /// their number. A message over either cap is read, discarded and reported.
    public var maxFramesPerMessage: Int = 1024
    public var maxMessageBytes: Int = 512 << 20
    /// ZMQ_ROUTING_ID: how ROUTER peers address this socket (set before connect).
    public var routingID: RoutingID? = nil
    /// ZMQ_ROUTER_MANDATORY (ROUTER only): sending to an unknown or vanished peer is an error
    /// (`TransportError.peerUnreachable`) instead of a silent drop.
    public var routerMandatory: Bool = true
    /// ZMQ_IMMEDIATE: queue messages only on completed connections, so a send to a peer that is not
    /// (or no longer) there waits and times out instead of piling up in a dead pipe.
    public var immediate: Bool = true
    /// ZMQ_HEARTBEAT_IVL / ZMQ_HEARTBEAT_TIMEOUT / ZMQ_HEARTBEAT_TTL: ZMTP pings that detect a dead
    /// peer (e.g. a killed process whose TCP connection never closed) and drop its connection.
    /// nil disables them.
    public var heartbeatInterval: Duration? = .seconds(1)
    public var heartbeatTimeout: Duration = .seconds(5)
    /// ZMQ_RECONNECT_IVL / ZMQ_RECONNECT_IVL_MAX: reconnect quickly, back off to a bound.
    public var reconnectInterval: Duration = .milliseconds(100)
    public var reconnectIntervalMax: Duration = .seconds(2)
    /// CURVE (encryption + authentication of every link), nil = plain ZMTP (loopback only, by the
    /// roles' rule; see `CurveSecurity`).
    public var curve: CurveSecurity? = nil
    /// ZMQ_ZAP_DOMAIN for CURVE server sockets.
    public var zapDomain = "fastkv"
    /// SUB sockets: topic prefixes to subscribe to ([""] = everything).
    public var subscriptions: [[UInt8]] = [[]]
    /// How often blocking waits wake up to check a `StopSignal`.
    public var stopCheckInterval: Duration = .milliseconds(20)

    public init() {}

    /// Defaults with a routing id.
    public static func routed(_ id: RoutingID) -> SocketOptions {
        var o = SocketOptions()
        o.routingID = id
        return o
    }
}
