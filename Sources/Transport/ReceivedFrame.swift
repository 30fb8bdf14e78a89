import CZMQ
import Wire

/// One received frame, still in libzmq's buffer: no copy into a Swift array.
///
/// Owns its `zmq_msg_t` (heap-allocated, because libzmq keeps frames under 34 bytes inside the
/// struct itself, so the struct must not move) and closes it on deinit. The bytes are immutable once
/// received, so a frame may be handed to another thread (e.g. from the I/O loop to the thread that
/// installs KV); `@unchecked Sendable` rests on that.
public final class ReceivedFrame: PayloadFrame, @unchecked Sendable {
    let message: UnsafeMutablePointer<zmq_msg_t>

    init() {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    public var byteCount: Int { zmq_msg_size(message) }

    /// Lends the frame's bytes for the duration of `body`.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
    }

    /// libzmq's "User-Id" property of the connection this frame came in on: what the ZAP handler
    /// set for an authenticated peer (nil on links without CURVE).
    var userID: String? {
        guard let p = zmq_msg_gets(message, "User-Id") else { return nil }
        let s = String(cString: p)
        return s.isEmpty ? nil : s
    }

    /// A copy, for small frames (routing ids, short control payloads).
    public var bytes: [UInt8] {
        withUnsafeBytes { (raw: UnsafeRawBufferPointer) in Array(raw) }
    }
}

/// One received multipart message.
public struct ReceivedMessage: Sendable {
    /// The sender, when received on a ROUTER socket (peeled off the front of the frames).
    public let peer: RoutingID?
    /// The authenticated sender (CURVE server sockets only): the public key the ZAP handler admitted
    /// for this connection, read from the message itself, so it cannot be claimed by the sender.
    public let peerIdentity: PeerIdentity?
    /// Every frame after the routing id: frame 0 is the envelope by this project's convention.
    public let frames: [ReceivedFrame]

    /// Frame 0 (the packed envelope, by convention).
    public var header: ReceivedFrame { frames[0] }
    /// Frames 1… (raw payload).
    public var payload: ArraySlice<ReceivedFrame> { frames.dropFirst() }
    public var byteCount: Int { frames.reduce(0) { $0 + $1.byteCount } }
}
