import Synchronization

/// Recycles the memory of `PayloadBuffer`s.
///
/// Why: a KV layer of 8192 entries in f32 is a 12.6 MB buffer, above glibc's mmap threshold, so
/// each fresh allocation is a new mapping whose first touch page-faults every 4 KiB: measured, that
/// made encoding 3x slower than the copy itself. Buffers from a pool go back to it on deinit (which,
/// after a zero-copy send, runs on libzmq's I/O thread once the bytes have left), and the next layer
/// of the same size reuses that resident memory.
///
/// Sizes are rounded up to 64 KiB classes; at most `maxRetainedBytes` are kept, the rest freed.
/// Thread-safe.
public final class PayloadBufferPool: Sendable {
    public let maxRetainedBytes: Int
    private let state = Mutex(State())

    /// Memory owned by the pool alone while it sits in `free`.
    private struct Block: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    private struct State: ~Copyable {
        var free: [Int: [Block]] = [:]
        var retainedBytes = 0
    }

    public init(maxRetainedBytes: Int = 512 << 20) {
        self.maxRetainedBytes = maxRetainedBytes
    }

    deinit {
        state.withLock { s in
            for (_, blocks) in s.free { for block in blocks { block.pointer.deallocate() } }
        }
    }

    /// Bytes currently held for reuse.
    public var retainedBytes: Int { state.withLock { $0.retainedBytes } }

    /// Memory for a buffer of `byteCount` (its capacity class is returned with it).
    func take(byteCount: Int) -> (UnsafeMutableRawPointer, capacity: Int) {
        let capacity = Self.sizeClass(byteCount)
        let reused: Block? = state.withLock { s in
            guard let block = s.free[capacity]?.popLast() else { return nil }
            s.retainedBytes -= capacity
            return block
        }
        return (reused?.pointer ?? .allocate(byteCount: capacity, alignment: PayloadBuffer.alignment), capacity)
    }

    func recycle(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        let block = Block(pointer: pointer)
        let kept: Bool = state.withLock { s in
            guard s.retainedBytes + capacity <= maxRetainedBytes else { return false }
            s.free[capacity, default: []].append(block)
            s.retainedBytes += capacity
            return true
        }
        if !kept { pointer.deallocate() }
    }

    static func sizeClass(_ byteCount: Int) -> Int {
        let granule = 64 << 10
        return max(granule, (byteCount + granule - 1) / granule * granule)
    }
}
