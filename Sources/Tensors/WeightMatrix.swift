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
///   bytes per token are the bound (Q4_1 is 0.625 B/weight against 4 for f32). Borrowed from the
///   memory-mapped file when the caller lends it (`owner`), else copied;
/// - panels for prefill, where FLOPs are the bound: packed once into 16-feature panels for our
///   AVX2/AVX-512 GEMM (`fkv_gemm_compact`, no per-call repacking), in f32 or in a compact form of
///   the stored values (`PanelFormat`: f16, bf16, int8 with scales) that the micro-kernel converts
///   as it loads them, so a big model needs no f32 copy. On the scalar kernel path (or with
///   `FASTKV_GEMM=openblas`) an f32 request is kept row-major for `cblas_sgemm` instead. Matrices
///   used only one row at a time (the tied LM head / embeddings) have no panels.
/// When the panels are about as small as the stored rows (`PanelFormat.replacesStored`: f16, bf16
/// and q8_0 weights in their compact form) the owner may drop the stored rows after packing
/// (`releaseStoredRows`); every product then runs on the panels (`fkv_gemv_panels` for small m),
/// so the matrix is held once instead of twice.
/// All forms hold exactly the same weight values; they differ only in summation order.
public final class WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let format: WeightFormat
    /// The stored rows; nil once `releaseStoredRows` dropped them (the panels then hold the matrix).
    private var packed: UnsafeRawPointer?
    private let packedBytes: Int
    /// Keeps borrowed `packed` bytes alive (the file mapping); nil when `packed` is our allocation.
    private var owner: AnyObject?
    /// Whether `packed` is our allocation (freed on release or deinit) rather than borrowed.
    private let ownsPacked: Bool
    /// Prefill panels (`panelFormat`), 64-byte aligned; nil without panels.
    private let panels: UnsafeMutableRawPointer?
    private let panelBytes: Int
    /// The form of `panels`, or of `rowMajor` (f32); nil when the matrix has no prefill copy.
    public let panelFormat: PanelFormat?
    /// f32 row-major copy for cblas_sgemm (an f32 request where our GEMM is not the fast path).
    private let rowMajor: Tensor?

    /// Up to this many input rows go through the stored-format kernel when the matrix also holds
    /// panels (4-bit weights beside f32 panels); more go through the GEMM. It depends on the path
    /// because the crossover does: on Zen 5, 16 sequences of SmolLM2 Q4_1 decode at 248–280 tok/s
    /// through the AVX2 GEMM over f32 panels and at 284–302 through four passes of the stored Q4_1
    /// kernel (interleaved runs, noisy), while the AVX-512 GEMM gives 444 against 299
    /// (`bench-engine --batch-sequences 16`).
    public static var packedRowLimit: Int { KernelPath.current == .avx512 ? 8 : 16 }

    /// - Parameters:
    ///   - bytes: `rows` rows of `format`-encoded weights, `format.rowBytes(columns:)` each.
    ///   - owner: when given, `bytes` are borrowed (not copied) and `owner` is kept alive as long as
    ///     this matrix: a memory-mapped file whose pages the kernels then read in place.
    ///   - prefill: the panel form for prefill's GEMM, or nil for none.
    public convenience init(format: WeightFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer,
                            owner: AnyObject? = nil, prefill: PanelFormat?) {
        precondition(columns % format.blockSize == 0, "columns \(columns) not a multiple of \(format.blockSize)")
        let expected = rows * format.rowBytes(columns: columns)
        precondition(bytes.count == expected, "weight bytes \(bytes.count) != \(expected)")
        if let owner, expected > 0, let base = bytes.baseAddress {
            self.init(format: format, rows: rows, columns: columns, stored: base, owner: owner, prefill: prefill)
        } else {
            let storage = Self.allocateStored(format: format, rows: rows, columns: columns)
            if expected > 0 { storage.copyMemory(from: bytes.baseAddress!, byteCount: expected) }
            self.init(format: format, rows: rows, columns: columns, stored: UnsafeRawPointer(storage), owner: nil,
                      prefill: prefill)
        }
    }

    /// A 64-byte aligned block for `rows` stored rows (at least 64 bytes), freed by the matrix that
    /// adopts it (`owner` nil in the designated init).
    private static func allocateStored(format: WeightFormat, rows: Int, columns: Int) -> UnsafeMutableRawPointer {
        let n = max(rows * format.rowBytes(columns: columns), 64)
        return aligned_alloc(64, (n + 63) / 64 * 64)!
    }

    /// `stored`: borrowed from `owner` (kept alive), or, with `owner` nil, an `allocateStored` block
    /// this matrix adopts and frees.
    private init(format: WeightFormat, rows: Int, columns: Int, stored: UnsafeRawPointer, owner: AnyObject?,
                 prefill: PanelFormat?) {
        self.rows = rows
        self.columns = columns
        self.format = format
        packedBytes = max(rows * format.rowBytes(columns: columns), 64)
        self.owner = owner
        ownsPacked = owner == nil
        packed = stored
        panelFormat = prefill
        guard let prefill else {
            panels = nil; panelBytes = 0; rowMajor = nil
            return
        }
        if prefill == .f32 && fkv_gemm_available() == 0 {
            let t = Tensor(shape: [rows, columns])
            t.withUnsafeMutablePointer { p in
                for r in 0..<rows { fkv_dequant_row(format.kernelFormat, stored, columns, r, p + r * columns) }
            }
            panels = nil; panelBytes = 0; rowMajor = t
            return
        }
        precondition(fkv_gemm_panel_accepts(prefill.kernelPanel, format.kernelFormat) != 0,
                     "panel form \(prefill) cannot hold \(format) weights")
        let n = max(prefill.bytes(rows: rows, columns: columns), 64)
        let storage = aligned_alloc(64, (n + 63) / 64 * 64)!
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(columns, 1))
        defer { scratch.deallocate() }
        let ok = fkv_gemm_pack_weights(prefill.kernelPanel, format.kernelFormat, stored, rows, columns, scratch, storage)
        precondition(ok != 0, "packing \(format) into \(prefill) panels")
        panels = storage; panelBytes = n; rowMajor = nil
    }

    /// Bytes a matrix of this shape holds: the stored rows (`borrowed` ones are mapped, not
    /// allocated, and counted by the caller as the file's) plus its prefill panels; with
    /// `panelsOnly` (the loader drops the stored rows after packing) only the panels. The memory
    /// plan sums these before anything is allocated.
    public static func heldBytes(format: WeightFormat, rows: Int, columns: Int, prefill: PanelFormat?,
                                 panelsOnly: Bool = false) -> (stored: Int, panels: Int) {
        let stored = rows * format.rowBytes(columns: columns)
        guard let prefill else { return (stored, 0) }
        return (panelsOnly ? 0 : stored, prefill.bytes(rows: rows, columns: columns))
    }

    /// Whether the stored rows are still held (false after `releaseStoredRows`).
    public var holdsStoredRows: Bool { packed != nil }

    /// Drops the stored rows: frees our copy, or forgets the borrowed pointer (the caller releases
    /// the mapping's pages, which it owns). From here on every product runs on the compact panels
    /// (`fkv_gemv_panels`, which hands m > FKV_GEMV_MAX_ROWS to the GEMM), and `contentHash` and
    /// `gatherRows` are unavailable, so take the hash first. Call only while the matrix is not yet
    /// shared (during loading): it is the one mutation after init.
    public func releaseStoredRows() {
        precondition(panels != nil && panelFormat != nil, "a matrix without panels must keep its stored rows")
        guard let stored = packed else { return }
        if ownsPacked { free(UnsafeMutableRawPointer(mutating: stored)) }
        packed = nil
        owner = nil
    }

    /// The f32 prefill copy as row-major [rows, columns] values (nil without one or for compact
    /// panels); for tests.
    public func denseValues() -> [Float]? {
        if let rowMajor { return rowMajor.toArray() }
        guard let panels, panelFormat == .f32 else { return nil }
        let panel = 16   // fkv_gemm_pack_weights: panels of 16 features, [columns][16] each
        let p = panels.assumingMemoryBound(to: Float.self)
        var out = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns { out[r * columns + c] = p[(r / panel) * columns * panel + c * panel + r % panel] }
        }
        return out
    }

    deinit {
        if ownsPacked, let packed { free(UnsafeMutableRawPointer(mutating: packed)) }
        if let panels { free(panels) }
    }

    /// Stacks matrices with equal column counts and formats along the row axis (e.g. Q|K|V), so one
    /// kernel call replaces several. The parts' rows are copied once, into the stack's own storage;
    /// `partsCopied` runs right after that copy and before the panels are packed, so a loader can
    /// release the parts' pages first and a big stack is never held three times over.
    public static func stacking(_ parts: [WeightMatrix], prefill: PanelFormat?,
                                partsCopied: () -> Void = {}) -> WeightMatrix {
        let columns = parts[0].columns, format = parts[0].format
        precondition(parts.allSatisfy { $0.columns == columns && $0.format == format })
        let rows = parts.reduce(0) { $0 + $1.rows }
        let rowBytes = format.rowBytes(columns: columns)
        let storage = allocateStored(format: format, rows: rows, columns: columns)
        var offset = 0
        for part in parts {
            let n = part.rows * rowBytes
            guard let stored = part.packed else { preconditionFailure("stacking a matrix whose stored rows were released") }
            (storage + offset).copyMemory(from: stored, byteCount: n)
            offset += n
        }
        partsCopied()
        return WeightMatrix(format: format, rows: rows, columns: columns, stored: UnsafeRawPointer(storage), owner: nil,
                            prefill: prefill)
    }

    /// A 64-bit hash of the packed weights (format, shape and bytes); needs the stored rows (take
    /// it before `releaseStoredRows`).
    public func contentHash(seed: UInt64 = 0) -> UInt64 {
        guard let packed else { preconditionFailure("contentHash after the stored rows were released") }
        let shapeSeed = seed &+ UInt64(rows) &* 31 &+ UInt64(columns) &* 131 &+ UInt64(fkv_row_bytes(format.kernelFormat, 32))
        return fkv_hash64(packed, rows * format.rowBytes(columns: columns), shapeSeed)
    }

    /// Bytes held: stored rows (0 when borrowed from a mapping or released) + prefill panels or copy.
    public var memoryBytes: Int {
        (ownsPacked && packed != nil ? packedBytes : 0) + panelBytes + (rowMajor.map { $0.count * 4 } ?? 0)
    }

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
                if let panels, let panelFormat, m > Self.packedRowLimit {
                    fkv_gemm_compact(panelFormat.kernelPanel, m, rows, columns, xp, ldx, panels, yp + yOffset, ldy,
                                     accumulate ? 1 : 0)
                } else if let rowMajor, m > Self.packedRowLimit {
                    // Split the output features across the pool; each slice is a single-threaded sgemm
                    // (OpenBLAS's own threads are off, so one pool owns the cores).
                    BLAS.ensureSingleThreaded()
                    let slices = min(ComputePool.threadCount * 2, max(1, rows / 64))
                    let per = (rows + slices - 1) / slices
                    rowMajor.withUnsafeMutablePointer { wp in
                        ComputePool.run(tasks: slices) { task, _ in
                            let r0 = task * per, n = min(per, rows - r0)
                            guard n > 0 else { return }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(columns),
                                        1, xp, Int32(ldx), wp + r0 * columns, Int32(columns), accumulate ? 1 : 0,
                                        yp + yOffset + r0, Int32(ldy))
                        }
                    }
                } else if let packed {
                    fkv_matmul(format.kernelFormat, packed, rows, columns, xp, ldx, m, yp + yOffset, ldy,
                               accumulate ? 1 : 0)
                } else if let panels, let panelFormat {
                    // Panels only (stored rows released): small m streams the panels once.
                    fkv_gemv_panels(panelFormat.kernelPanel, m, rows, columns, xp, ldx, panels, yp + yOffset, ldy,
                                    accumulate ? 1 : 0)
                } else {
                    preconditionFailure("weight matrix holds neither stored rows nor panels")
                }
            }
        }
    }

    /// out[i, :] = W[ids[i], :] dequantised (embedding lookup).
    public func gatherRows(_ ids: [Int32], into out: Tensor) {
        precondition(out.count >= ids.count * columns)
        guard let packed else { preconditionFailure("gatherRows after the stored rows were released") }
        out.withUnsafeMutablePointer { o in
            for (i, id) in ids.enumerated() {
                precondition(id >= 0 && Int(id) < rows, "row \(id) out of range 0..<\(rows)")
                fkv_dequant_row(format.kernelFormat, packed, columns, Int(id), o + i * columns)
            }
        }
    }
}
