import Wire

/// One frame to send.
///
/// Ownership: `.bytes` is copied into libzmq during `send`. `.payload` is sent zero-copy: libzmq
/// keeps a pointer into the `PayloadBuffer` until the frame has been written to the kernel, and
/// Transport keeps the buffer alive for exactly that long (it retains the buffer once per frame and
/// libzmq's free callback releases it, possibly on a libzmq I/O thread). The caller may drop its own
/// reference right after `send` returns; it never frees anything itself, and cannot mutate the bytes
/// because a `PayloadBuffer` is immutable after initialization.
public enum OutgoingFrame: Sendable {
    case bytes([UInt8])
    case payload(PayloadSlice)

    public var byteCount: Int {
        switch self {
        case .bytes(let b): b.count
        case .payload(let s): s.byteCount
        }
    }
}

extension EncodedKVLayer {
    /// The layer's multipart message: envelope, then K and V frames (zero-copy).
    public var outgoingFrames: [OutgoingFrame] {
        [.bytes(envelope)] + frames.map { .payload($0) }
    }
}
