import CZMQ
#if canImport(Glibc)
import Glibc
#endif

/// What a poll found.
public enum PollOutcome: Sendable, Equatable {
    /// Indices (into the poller's sockets) of the sockets with a message to receive.
    case ready([Int])
    /// Nothing within the timeout: a normal outcome for a loop with periodic work (heartbeats).
    case timedOut
    /// The `StopSignal` fired.
    case stopped
}

/// Waits for input on several sockets at once, with a deadline: the core of a worker's I/O loop.
///
/// ```swift
/// let poller = ZMQPoller([control, kv])
/// loop: while true {
///     switch try poller.poll(timeout: .milliseconds(100), stop: stop) {
///     case .stopped: break loop
///     case .timedOut: sendHeartbeatIfDue()
///     case .ready(let indices):
///         for i in indices { while let m = try poller.sockets[i].receiveIfAvailable() { handle(m) } }
///     }
/// }
/// ```
/// Like its sockets, a poller belongs to one thread.
public struct ZMQPoller {
    public let sockets: [ZMQSocket]
    /// How often a wait wakes to check the `StopSignal`.
    public var stopCheckInterval: Duration = .milliseconds(20)

    public init(_ sockets: [ZMQSocket]) {
        self.sockets = sockets
    }

    /// Waits up to `timeout` until at least one socket is readable, or `stop` fires.
    public func poll(timeout: Duration, stop: StopSignal? = nil) throws(TransportError) -> PollOutcome {
        var items: [zmq_pollitem_t] = []
        for s in sockets { items.append(zmq_pollitem_t(socket: try s.openHandle(), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)) }
        let deadline = Deadline(after: timeout)
        let cap: Duration? = stop == nil ? nil : stopCheckInterval
        while true {
            if stop?.isStopped == true { return .stopped }
            let rc = zmq_poll(&items, Int32(items.count), deadline.pollMillis(cap: cap))
            if rc < 0 {
                if zmq_errno() == EINTR { continue }
                throw ZMQContext.lastError("zmq_poll", endpoint: sockets.map(\.endpointDescription).joined(separator: "; "))
            }
            if rc > 0 {
                return .ready(items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 })
            }
            if deadline.hasPassed { return .timedOut }
        }
    }
}
