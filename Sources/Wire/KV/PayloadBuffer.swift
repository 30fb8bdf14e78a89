/// Read-only access to the bytes of one payload frame, wherever they live: a `PayloadBuffer` slice
/// on the sending side, a received ZeroMQ message on the receiving side (Transport's `ReceivedFrame`).
/// The pointer is lent only for the duration of `body`.
public protocol PayloadFrame {
    var byteCount: Int { get }
    func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R
}

/// Immutable, 64-byte-aligned bytes of a payload (e.g. one layer's K‖V in the wire dtype).
///
/// Written exactly once, by the closure given to `init`, and never again: that is what makes it safe
/// to hand to ZeroMQ for a zero-copy send while the caller keeps (or drops) its own reference, and
/// what makes the `@unchecked Sendable` true. Ownership across a send: Transport retains the buffer
/// once per frame it passes to libzmq and releases it from libzmq's free callback, so the memory
/// lives until the last frame has left the process, whoever dropped their reference first.
public final class PayloadBuffer: @unchecked Sendable {
    /// 64 bytes: a cache line, and enough for any SIMD load the codecs use.
    public static let alignment = 64

    public let byteCount: Int
    private let base: UnsafeMutableRawPointer
    /// Where the memory goes back to on deinit (nil: freed).
    private let pool: PayloadBufferPool?
    private let capacity: Int

    /// Allocates `byteCount` bytes (from `pool` if given, so a steady stream of same-sized layers
    /// reuses resident memory instead of page-faulting fresh allocations) and lets `initialize` write
    /// them, all of them: the memory starts uninitialized or holds an earlier payload. The buffer is
    /// read-only afterwards.
    public init<E: Error>(byteCount: Int, pool: PayloadBufferPool? = nil,
                          initializingWith initialize: (UnsafeMutableRawBufferPointer) throws(E) -> Void) throws(E) {
        precondition(byteCount >= 0, "PayloadBuffer: negative byteCount \(byteCount)")
        self.byteCount = byteCount
        if let pool {
            (base, capacity) = pool.take(byteCount: byteCount)
        } else {
            capacity = max(byteCount, 1)
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: Self.alignment)
        }
        self.pool = pool
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: base, count: byteCount))
        } catch {
            release()
            throw error
        }
    }

    /// A copy of `bytes` (tests, small payloads).
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(byteCount: bytes.count) { (dst: UnsafeMutableRawBufferPointer) in
            _ = dst.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    deinit { release() }

    /// Runs once, from deinit (possibly on a libzmq I/O thread after a zero-copy send) or from a
    /// failed init.
    private func release() {
        if let pool { pool.recycle(base, capacity: capacity) } else { base.deallocate() }
    }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: byteCount))
    }

    /// The base address for Transport's zero-copy send, which keeps the buffer alive (retained) for
    /// as long as libzmq holds the pointer. Not public: only the package's socket wrapper may hold
    /// the pointer beyond a `withUnsafeBytes` scope.
    package var unsafeBaseAddress: UnsafeRawPointer { UnsafeRawPointer(base) }

    /// The whole buffer as one frame.
    public var wholeFrame: PayloadSlice { PayloadSlice(buffer: self, range: 0..<byteCount) }
}

/// A byte range of a `PayloadBuffer`: one frame of a multipart message.
public struct PayloadSlice: PayloadFrame, Sendable {
    public let buffer: PayloadBuffer
    public let range: Range<Int>

    public init(buffer: PayloadBuffer, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.byteCount,
                     "PayloadSlice: \(range) outside 0..<\(buffer.byteCount)")
        self.buffer = buffer
        self.range = range
    }

    public var byteCount: Int { range.count }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try buffer.withUnsafeBytes { (all: UnsafeRawBufferPointer) throws(E) -> R in
            try body(UnsafeRawBufferPointer(rebasing: all[range]))
        }
    }
}
