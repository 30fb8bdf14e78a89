import Foundation

/// One weight tensor of a checkpoint, as stored: a view into a memory-mapped file (zero copy) or, when the
/// on-disk row order differs from HF's (GGUF Q/K), into an owned reordered copy.
///
/// Layout: row-major, outermost dimension first. A matrix is `shape == [rows, cols]` (HF `nn.Linear.weight`,
/// i.e. `[out_features, in_features]`) with each row `cols` weights long and rows contiguous; block formats
/// never straddle rows because `cols` is a multiple of the block size. Rows are already in HF order.
/// The bytes start at an address aligned to at least 2 (f16/bf16/blocks) or 4 (f32) bytes.
public struct WeightTensor: @unchecked Sendable {
    /// HF name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// Encoding of the bytes.
    public let type: ElementType
    /// Row-major shape, outermost first: `[rows, cols]` for matrices, `[n]` for vectors.
    public let shape: [Int]
    /// The file the tensor came from (for error messages).
    public let file: String

    private let storage: ByteStorage
    private let byteOffset: Int
    private let byteCount: Int

    /// `byteOffset ..< byteOffset + byteCount` must lie inside `storage` and hold exactly `shape`'s elements in
    /// `type` encoding; the readers check this before constructing.
    init(name: String, type: ElementType, shape: [Int], file: String, storage: ByteStorage, byteOffset: Int, byteCount: Int) {
        self.name = name
        self.type = type
        self.shape = shape
        self.file = file
        self.storage = storage
        self.byteOffset = byteOffset
        self.byteCount = byteCount
    }

    /// A view of `storage[byteOffset ..< byteOffset + byteCount]`, or an owned 64-byte-aligned copy when the
    /// bytes do not start at a multiple of the element's natural alignment (4 for f32, 2 for the rest: every
    /// block starts with an f16), so kernels may load elements directly. Misalignment only happens with
    /// unusual files (GGUF `general.alignment` 1 or 2, hand-made safetensors).
    static func view(name: String, type: ElementType, shape: [Int], file: String, storage: ByteStorage,
                     byteOffset: Int, byteCount: Int) throws -> WeightTensor {
        let alignment = type == .f32 ? 4 : 2
        let aligned = storage.withUnsafeBytes { Int(bitPattern: $0.baseAddress) &+ byteOffset } % alignment == 0
        if aligned {
            return WeightTensor(name: name, type: type, shape: shape, file: file, storage: storage,
                                byteOffset: byteOffset, byteCount: byteCount)
        }
        guard let copy = ByteStorage(zeroedByteCount: byteCount) else {
            throw CheckpointError.ioError(file: file, operation: "allocating \(byteCount) bytes for \(name)", errno: ENOMEM)
        }
        storage.withUnsafeBytes { all in
            copy.withUnsafeMutableBytes { out in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[byteOffset ..< byteOffset + byteCount]))
            }
        }
        storage.releaseResidentPages(byteOffset ..< byteOffset + byteCount)   // the copy replaces them
        return WeightTensor(name: name, type: type, shape: shape, file: file, storage: copy, byteOffset: 0,
                            byteCount: byteCount)
    }

    /// The object that keeps these bytes alive (the file mapping, or the owned copy): a
    /// `WeightMatrix` that borrows the bytes instead of copying them holds it.
    public var storageOwner: AnyObject { storage }

    /// Drops this tensor's resident pages of a file mapping from the process (see
    /// `ByteStorage.releaseResidentPages`); call once its bytes were copied and are no longer read.
    public func releaseResidentPages() { storage.releaseResidentPages(byteOffset ..< byteOffset + byteCount) }

    /// Product of the shape.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Rows of a matrix (the first dimension), or 1 for a vector.
    public var rowCount: Int { shape.count >= 2 ? shape[0] : 1 }

    /// Elements per row (the last dimension).
    public var columnCount: Int { shape.last ?? 1 }

    /// Lends the raw bytes (in `type` encoding, rows contiguous) for the duration of `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[byteOffset ..< byteOffset + byteCount]))
        }
    }

    /// Decodes every element to f32, in the same row-major order. `destination.count` must equal
    /// `elementCount` (else `CheckpointError.destinationSizeMismatch`). Bit-exact with python gguf's dequantiser.
    public func dequantize(into destination: UnsafeMutableBufferPointer<Float>) throws {
        let count = elementCount
        guard destination.count == count else {
            throw CheckpointError.destinationSizeMismatch(file: file, tensor: name, expected: count, found: destination.count)
        }
        guard count > 0, let out = destination.baseAddress else { return }
        withUnsafeBytes { bytes in
            guard let src = bytes.baseAddress else { return }
            Dequantization.decode(type, from: src, count: count, into: out)
        }
    }

    /// Convenience for tests and small tensors: a freshly allocated f32 array. Avoid for large weights.
    public func dequantized() throws -> [Float] {
        var out = [Float](repeating: 0, count: elementCount)
        try out.withUnsafeMutableBufferPointer { try dequantize(into: $0) }
        return out
    }
}
