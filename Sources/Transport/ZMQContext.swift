import CZMQ
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A libzmq context: the I/O threads behind every socket created from it.
///
/// Thread-safe (libzmq contexts are), so it is shared freely; sockets are not (see `ZMQSocket`).
/// Each socket keeps its context alive, so `zmq_ctx_term` in `deinit` runs only after the last
/// socket has closed, and then returns within the sockets' linger time.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// Running ZAP handlers (0 or 1): CURVE server sockets exist only while one is.
    private let zapHandlers = Atomic<Int>(0)

    /// - Parameter ioThreads: libzmq I/O threads; one moves about 1–2 GB/s, enough for this machine.
    public init(ioThreads: Int = 1) throws(TransportError) {
        guard let h = zmq_ctx_new() else { throw ZMQContext.lastError("zmq_ctx_new", endpoint: "context") }
        handle = h
        // Not blocky: a socket without an explicit linger gets 0, so termination can never hang.
        zmq_ctx_set(h, ZMQ_BLOCKY, 0)
        guard zmq_ctx_set(h, ZMQ_IO_THREADS, Int32(clamping: max(1, ioThreads))) == 0 else {
            let error = ZMQContext.lastError("zmq_ctx_set(ZMQ_IO_THREADS)", endpoint: "context")
            zmq_ctx_term(h)
            throw error
        }
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// A new socket of `type` with `options` applied (see `ZMQSocket`).
    public func socket(_ type: SocketType, options: SocketOptions = SocketOptions()) throws(TransportError) -> ZMQSocket {
        try ZMQSocket(context: self, type: type, options: options)
    }

    func zapHandlerStarted() { zapHandlers.add(1, ordering: .sequentiallyConsistent) }
    func zapHandlerStopped() { zapHandlers.subtract(1, ordering: .sequentiallyConsistent) }
    var hasZAPHandler: Bool { zapHandlers.load(ordering: .sequentiallyConsistent) > 0 }

    /// libzmq's version, e.g. (4, 3, 4).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// The current zmq_errno() as a TransportError.
    static func lastError(_ operation: String, endpoint: String) -> TransportError {
        let e = zmq_errno()
        return .zmq(operation: operation, errno: e, message: String(cString: zmq_strerror(e)), endpoint: endpoint)
    }
}
