import CKernels
import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Storage format of a weight matrix (ggml block layouts for the quantised ones).
public enum WeightFormat: Sendable, Equatable {
    case f32, f16, bf16, q8_0, q4_0, q4_1

    var kernelFormat: fkv_format {
        switch self {
        case .f32: return FKV_F32
        case .f16: return FKV_F16
        case .bf16: return FKV_BF16
        case .q8_0: return FKV_Q8_0
        case .q4_0: return FKV_Q4_0
        case .q4_1: return FKV_Q4_1
        }
    }

    /// Columns must be a multiple of this.
    public var blockSize: Int { self == .f32 || self == .f16 || self == .bf16 ? 1 : 32 }

    public func rowBytes(columns: Int) -> Int { fkv_row_bytes(kernelFormat, columns) }
}

/// A weight matrix W [rows, cols] (rows = output features, row-major) kept in two forms:
/// - `packed`: the checkpoint's own format, streamed by the matrix-vector kernels in decode, where
///   bytes per token are the bound (Q4_1 is 0.625 B/weight against 4 for f32);
/// - an f32 copy for prefill, where FLOPs are the bound: packed once into 16-feature panels for our
///   AVX2/AVX-512 GEMM (`fkv_gemm_packed`, no per-call repacking), or row-major for `cblas_sgemm`
///   on the scalar kernel path (or with `FASTKV_GEMM=openblas`). Matrices used only one row at a
///   time (the tied LM head / embeddings) skip it to save memory.
/// Both hold exactly the same weight values; they differ only in summation order.
public final class WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let format: WeightFormat
    private let packed: UnsafeMutableRawPointer
    private let packedBytes: Int
    /// f32 copy used in prefill (panel-packed when `panelPacked`, else row-major); nil when the matrix
    /// is only ever applied to a few rows.
    private let dense: Tensor?
    private let panelPacked: Bool

    /// Up to this many input rows go through the packed kernel; more go through sgemm.
    public static let packedRowLimit = 8

    /// - Parameters:
    ///   - bytes: `rows` rows of `format`-encoded weights, `format.rowBytes(columns:)` each.
    ///   - denseCopy: also keep an f32 copy for sgemm.
    public init(format: WeightFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer, denseCopy: Bool) {
        precondition(columns % format.blockSize == 0, "columns \(columns) not a multiple of \(format.blockSize)")
        let expected = rows * format.rowBytes(columns: columns)
        precondition(bytes.count == expected, "weight bytes \(bytes.count) != \(expected)")
        self.rows = rows
        self.columns = columns
        self.format = format
        packedBytes = max(expected, 64)
        let storage = aligned_alloc(64, (packedBytes + 63) / 64 * 64)!
        if expected > 0 { storage.copyMemory(from: bytes.baseAddress!, byteCount: expected) }
        packed = storage
        panelPacked = denseCopy && fkv_gemm_available() != 0
        if denseCopy {
            let t = Tensor(shape: [rows, columns])
            t.withUnsafeMutablePointer { p in
                for r in 0..<rows { fkv_dequant_row(format.kernelFormat, storage, columns, r, p + r * columns) }
            }
            if panelPacked {
                let panels = Tensor(shape: [fkv_gemm_packed_floats(rows, columns)])
                t.withUnsafeMutablePointer { src in
                    panels.withUnsafeMutablePointer { fkv_gemm_pack(src, rows, columns, $0) }
                }
                dense = panels
            } else {
                dense = t
            }
        } else {
            dense = nil
        }
    }

    /// The f32 prefill copy as row-major [rows, columns] values (nil without one); for tests.
    public func denseValues() -> [Float]? {
        guard let dense else { return nil }
        guard panelPacked else { return dense.toArray() }
        let panel = 16   // fkv_gemm_pack: panels of 16 features, [columns][16] each
        return dense.withUnsafeBufferPointer { p in
            var out = [Float](repeating: 0, count: rows * columns)
            for r in 0..<rows {
                for c in 0..<columns { out[r * columns + c] = p[(r / panel) * columns * panel + c * panel + r % panel] }
            }
            return out
        }
    }

    deinit { free(packed) }

    /// Stacks matrices with equal column counts and formats along the row axis (e.g. Q|K|V), so one
    /// kernel call replaces several.
    public static func stacking(_ parts: [WeightMatrix], denseCopy: Bool) -> WeightMatrix {
        let columns = parts[0].columns, format = parts[0].format
        precondition(parts.allSatisfy { $0.columns == columns && $0.format == format })
        let rows = parts.reduce(0) { $0 + $1.rows }
        let rowBytes = format.rowBytes(columns: columns)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(rows * rowBytes, 1), alignment: 64)
        defer { buffer.deallocate() }
        var offset = 0
        for part in parts {
            let n = part.rows * rowBytes
            (buffer.baseAddress! + offset).copyMemory(from: part.packed, byteCount: n)
            offset += n
        }
        return WeightMatrix(format: format, rows: rows, columns: columns,
                            bytes: UnsafeRawBufferPointer(start: buffer.baseAddress, count: rows * rowBytes),
                            denseCopy: denseCopy)
    }

    /// A 64-bit hash of the packed weights (format, shape and bytes).
    public func contentHash(seed: UInt64 = 0) -> UInt64 {
        let shapeSeed = seed &+ UInt64(rows) &* 31 &+ UInt64(columns) &* 131 &+ UInt64(fkv_row_bytes(format.kernelFormat, 32))
        return fkv_hash64(packed, rows * format.rowBytes(columns: columns), shapeSeed)
    }

    /// Bytes held (packed + dense).
    public var memoryBytes: Int { packedBytes + (dense.map { $0.count * 4 } ?? 0) }

    /// y[yRow ..< yRow+m, yOffset ..< yOffset+rows] (+)= x[0..<m, 0..<columns] · Wᵀ.
    /// x is [≥m, ldx] and y is [≥yRow+m, ldy] row-major; `accumulate` adds into y (residual stream).
    public func apply(_ x: Tensor, rows m: Int, ldx: Int? = nil, into y: Tensor, ldy: Int? = nil,
                      yRow: Int = 0, yOffset: Int = 0, accumulate: Bool = false) {
        let ldx = ldx ?? x.rowLength, ldy = ldy ?? y.rowLength
        if m == 0 { return }
        precondition(ldx >= columns && ldy >= yOffset + rows && x.count >= (m - 1) * ldx + columns
                     && y.count >= (yRow + m - 1) * ldy + yOffset + rows, "matmul shape mismatch")
        x.withUnsafeMutablePointer { xp in
            y.withUnsafeMutablePointer { ybase in
                let yp = ybase + yRow * ldy
                if let dense, m > Self.packedRowLimit, panelPacked {
                    dense.withUnsafeMutablePointer { wp in
                        fkv_gemm_packed(m, rows, columns, xp, ldx, wp, yp + yOffset, ldy, accumulate ? 1 : 0)
                    }
                } else if let dense, m > Self.packedRowLimit {
                    // Split the output features across the pool; each slice is a single-threaded sgemm
                    // (OpenBLAS's own threads are off, so one pool owns the cores).
                    BLAS.ensureSingleThreaded()
                    let slices = min(ComputePool.threadCount * 2, max(1, rows / 64))
                    let per = (rows + slices - 1) / slices
                    dense.withUnsafeMutablePointer { wp in
                        ComputePool.run(tasks: slices) { task, _ in
                            let r0 = task * per, n = min(per, rows - r0)
                            guard n > 0 else { return }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(columns),
                                        1, xp, Int32(ldx), wp + r0 * columns, Int32(columns), accumulate ? 1 : 0,
                                        yp + yOffset + r0, Int32(ldy))
                        }
                    }
                } else {
                    fkv_matmul(format.kernelFormat, packed, rows, columns, xp, ldx, m, yp + yOffset, ldy,
                               accumulate ? 1 : 0)
                }
            }
        }
    }

    /// out[i, :] = W[ids[i], :] dequantised (embedding lookup).
    public func gatherRows(_ ids: [Int32], into out: Tensor) {
        precondition(out.count >= ids.count * columns)
        out.withUnsafeMutablePointer { o in
            for (i, id) in ids.enumerated() {
                precondition(id >= 0 && Int(id) < rows, "row \(id) out of range 0..<\(rows)")
                fkv_dequant_row(format.kernelFormat, packed, columns, Int(id), o + i * columns)
            }
        }
    }
}
