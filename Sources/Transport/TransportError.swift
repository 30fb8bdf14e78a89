/// Everything that can go wrong on a socket, with enough context (operation, errno text, endpoint)
/// to tell a dead peer from a full queue from a misconfigured address in one log line.
public enum TransportError: Error, Sendable, Equatable {
    /// A libzmq call failed. `errno` is zmq_errno(), `message` its zmq_strerror text.
    case zmq(operation: String, errno: Int32, message: String, endpoint: String)
    /// Nothing happened before the deadline. Every wait in this module has one.
    case timedOut(operation: String, after: Duration, endpoint: String)
    /// The caller's `StopSignal` fired while waiting.
    case stopped(operation: String, endpoint: String)
    /// ROUTER_MANDATORY: no connected peer has this routing id (it never connected or it is gone).
    /// Raised instead of libzmq's default of silently dropping the message.
    case peerUnreachable(peer: RoutingID, endpoint: String)
    /// An incoming message exceeded the per-message caps; it was read and discarded.
    case messageTooLarge(frameCount: Int, byteCount: Int, maxFrames: Int, maxBytes: Int, endpoint: String)
    /// The call makes no sense for this socket (e.g. a ROUTER send without a peer).
    case invalidArgument(String)
    /// The socket was closed.
    case socketClosed(endpoint: String)
    /// A CURVE key, key file or authorized-keys list that does not parse.
    case badKey(String)
    /// CURVE was asked for but cannot be used (libzmq without it, a server socket without a ZAP handler).
    case curveUnavailable(String)
}

extension TransportError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .zmq(let op, let errno, let message, let endpoint): "\(op) on \(endpoint): \(message) (errno \(errno))"
        case .timedOut(let op, let after, let endpoint): "\(op) on \(endpoint): timed out after \(after)"
        case .stopped(let op, let endpoint): "\(op) on \(endpoint): stopped"
        case .peerUnreachable(let peer, let endpoint): "send on \(endpoint): peer \(peer) is not connected"
        case .messageTooLarge(let frames, let bytes, let maxFrames, let maxBytes, let endpoint):
            "receive on \(endpoint): message of \(frames)+ frames / \(bytes)+ bytes exceeds \(maxFrames) frames / \(maxBytes) bytes; discarded"
        case .invalidArgument(let what): "invalid argument: \(what)"
        case .socketClosed(let endpoint): "socket \(endpoint) is closed"
        case .badKey(let what): "bad CURVE key: \(what)"
        case .curveUnavailable(let what): "CURVE unavailable: \(what)"
        }
    }
}
