import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dense row-major float32 tensor over 64-byte-aligned storage that this object owns.
///
/// Tensors are reference types on purpose: activations are allocated once per model and reused, and
/// copy-on-write `[Float]` values would silently copy megabytes (swift-performance.md §5.6).
/// Contents are uninitialised after `init(shape:)` unless `zeroed` is set.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    @usableFromInline let base: UnsafeMutablePointer<Float>

    public init(shape: [Int], zeroed: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative tensor dimension \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) / 64 * 64)
        guard let raw = aligned_alloc(64, bytes) else {
            fatalError("out of memory allocating \(bytes) bytes for tensor \(shape)")
        }
        base = raw.bindMemory(to: Float.self, capacity: max(count, 16))
        if zeroed { base.initialize(repeating: 0, count: count) }
    }

    /// A tensor holding a copy of `values` with the given shape.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { base.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(base) }

    /// Number of rows of a 2-D view (first dimension); 1 for a vector.
    public var rowCount: Int { shape.count >= 2 ? shape[0] : 1 }
    /// Elements per row (product of all dimensions but the first).
    public var rowLength: Int { shape.count >= 2 ? count / max(shape[0], 1) : count }

    @inlinable
    public func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        try body(base)
    }

    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return base[index] }
        set { precondition(index >= 0 && index < count); base[index] = newValue }
    }

    /// A copy of the elements (for tests and small outputs only).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// A copy of row `row` (for tests and small outputs only).
    public func row(_ row: Int) -> [Float] {
        precondition(row >= 0 && row < rowCount)
        return Array(UnsafeBufferPointer(start: base + row * rowLength, count: rowLength))
    }

    /// A 64-bit hash of the shape and contents.
    public func contentHash(seed: UInt64 = 0) -> UInt64 {
        fkv_hash64(base, count * 4, seed &+ UInt64(count))
    }

    public func fill(_ value: Float) { base.update(repeating: value, count: count) }
}
