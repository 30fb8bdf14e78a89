import CKernels
import Testing
import Tensors

/// fkv_matmul (decode mat-vec for one vector, the batched kernel for several) and fkv_dequant_row
/// against references decoded in the test, for every weight format on every kernel path.
struct MatmulKernelTests {
    /// Row counts around the 4-row m = 1 kernel and the 3-row tile (67 rows split into tasks of 17
    /// leave tiles of 3, 2 and 1 rows), vector counts around the 4-vector batch and the tiled
    /// kernel's groups of four (5, 6, 7, 9 leave 1, 2, 3, 1), and widths of one block, a few blocks,
    /// past the scalar path's 256-wide slice and the tiled kernel's 512-column chunk, and
    /// (f32/f16/bf16) not a multiple of the 8-lane vector (5: no full vector at all). Block-format
    /// rows of at least 512 bytes and at most 4096 columns take the one-row-at-a-time decode
    /// kernels (608 columns as Q8_0, 1824 as any block format); 4128 columns go back to four rows at
    /// a time; 520 and 4103 are wide f16/bf16/f32 rows.
    static func widths(_ format: WeightFormatName) -> [Int] {
        format.isBlock ? [32, 96, 288, 608, 1824, 4128] : [5, 13, 37, 96, 288, 520, 4103]
    }
    static let rowCounts = [1, 6, 67]
    static let vectorCounts = [1, 2, 3, 5, 6, 7, 9]

    /// The shapes above reach every kernel the path has for the format (so no kernel goes untested).
    @Test(arguments: KernelPath.supported, WeightFormatName.allCases)
    func shapesReachEveryKernel(path: KernelPath, format: WeightFormatName) {
        var reached = Set<String>()
        for cols in Self.widths(format) {
            for m in Self.vectorCounts {
                let kernel = fkv_matmul_kernel_for(fkv_path(UInt32(path.rawValue)), format.format, cols, m)
                reached.insert(String(cString: fkv_matmul_kernel_name(kernel)))
            }
        }
        let expected: Set<String>
        switch (path, format.isBlock) {
        case (.scalar, _): expected = ["scalar"]
        case (_, false): expected = ["rows4-m1", "tiled"]
        case (.avx512, true) where format == .q8_0: expected = ["q8-rows4-m1-avx512", "q8-row1-m1-avx512", "generic", "tiled"]
        case (_, true) where format == .q8_0: expected = ["rows4-m1", "row1-m1", "generic", "tiled"]
        default: expected = ["q4-rows4-m1", "q4-row1-m1", "generic", "tiled"]
        }
        #expect(reached == expected, "path \(path), \(format): shapes reach \(reached.sorted())")
    }

    /// The read order for one vector (matmul.c, rows_one_at_a_time): block-format rows of at least
    /// 512 bytes and at most 4096 columns one at a time, everything else four at a time; and the
    /// batch kernels by vector count (tiled from 5 vectors for block formats, from 2 for the others).
    @Test func kernelChoiceFollowsTheMeasuredCrossovers() {
        func name(_ path: fkv_path, _ format: WeightFormatName, _ cols: Int, _ m: Int) -> String {
            String(cString: fkv_matmul_kernel_name(fkv_matmul_kernel_for(path, format.format, cols, m)))
        }
        #expect(name(FKV_PATH_AVX2, .q8_0, 2048, 1) == "row1-m1")        // 2176-byte rows
        #expect(name(FKV_PATH_AVX2, .q8_0, 8192, 1) == "rows4-m1")       // over 4096 columns
        #expect(name(FKV_PATH_AVX2, .q8_0, 448, 1) == "rows4-m1")        // 476-byte rows
        #expect(name(FKV_PATH_AVX512, .q8_0, 576, 1) == "q8-row1-m1-avx512")   // 612-byte rows
        #expect(name(FKV_PATH_AVX512, .q8_0, 8192, 1) == "q8-rows4-m1-avx512")
        #expect(name(FKV_PATH_AVX2, .q4_1, 576, 1) == "q4-rows4-m1")     // 360-byte rows
        #expect(name(FKV_PATH_AVX512, .q4_1, 1536, 1) == "q4-row1-m1")   // 960-byte rows
        #expect(name(FKV_PATH_AVX2, .q4_0, 1024, 1) == "q4-row1-m1")     // 576-byte rows
        #expect(name(FKV_PATH_AVX2, .q4_0, 864, 1) == "q4-rows4-m1")     // 486-byte rows
        #expect(name(FKV_PATH_AVX2, .f16, 2048, 1) == "rows4-m1")        // f16 rows never one at a time
        #expect(name(FKV_PATH_AVX2, .q4_1, 576, 4) == "generic" && name(FKV_PATH_AVX2, .q4_1, 576, 5) == "tiled")
        #expect(name(FKV_PATH_AVX512, .q8_0, 576, 16) == "tiled" && name(FKV_PATH_AVX2, .f32, 576, 2) == "tiled")
        #expect(name(FKV_PATH_SCALAR, .q4_1, 576, 1) == "scalar" && name(FKV_PATH_SCALAR, .f16, 576, 16) == "scalar")
    }

    @Test(arguments: KernelPath.supported, WeightFormatName.allCases)
    func productMatchesReference(path: KernelPath, format: WeightFormatName) {
        var failures = 0
        for cols in Self.widths(format) {
            for rows in Self.rowCounts {
                let w = EncodedWeights(format: format.format, rows: rows, cols: cols, seed: UInt64(rows * 1000 + cols))
                for m in Self.vectorCounts {
                    var rng = KernelRandom(UInt64(m * 7 + cols))
                    let ldx = cols + 5, ldy = rows + 3
                    let x = rng.floats(m * ldx)
                    for accumulate in [false, true] {
                        let start = rng.floats(m * ldy)
                        var y = start
                        KernelPath.withPath(path) {
                            fkv_matmul(format.format, w.bytes, rows, cols, x, ldx, m, &y, ldy, accumulate ? 1 : 0)
                        }
                        let label = "path \(path), \(format), m \(m), rows \(rows), cols \(cols), accumulate \(accumulate)"
                        if !Self.expectMatchesReference(y, start: start, w: w, rows: rows, cols: cols, x: x, ldx: ldx,
                                                        m: m, ldy: ldy, accumulate: accumulate, label: label) {
                            failures += 1
                        }
                        if failures > 5 { return }   // enough to diagnose
                    }
                }
            }
        }
    }

    /// Checks y against the double-precision product (and the ldy padding left as it was), with a
    /// tolerance scaled by each dot product's magnitude. Returns whether it matched.
    static func expectMatchesReference(_ y: [Float], start: [Float], w: EncodedWeights, rows: Int, cols: Int, x: [Float],
                                       ldx: Int, m: Int, ldy: Int, accumulate: Bool, label: String) -> Bool {
        var worst = (diff: 0.0, tolerance: 1.0, j: 0, r: 0)
        var padding = true
        for j in 0..<m {
            for r in 0..<ldy {
                if r >= rows { padding = padding && y[j * ldy + r] == start[j * ldy + r]; continue }
                var dot = accumulate ? Double(start[j * ldy + r]) : 0, magnitude = abs(dot)
                for c in 0..<cols {
                    let t = Double(x[j * ldx + c]) * Double(w.values[r * cols + c])
                    dot += t
                    magnitude += abs(t)
                }
                let diff = abs(Double(y[j * ldy + r]) - dot), tolerance = 1e-6 + 4e-6 * magnitude
                if !worst.diff.isNaN && !(diff / tolerance <= worst.diff / worst.tolerance) {
                    worst = (diff, tolerance, j, r)
                }
            }
        }
        #expect(worst.diff <= worst.tolerance,
                "\(label): |Δ| \(worst.diff) at (vector \(worst.j), row \(worst.r)) > tolerance \(worst.tolerance)")
        #expect(padding, "\(label): wrote y beyond the rows (the ldy padding)")
        return worst.diff <= worst.tolerance && padding
    }

    /// When the Q4 kernels' heap scratch (x block sums for several vectors, pre-scaled x for one
    /// long vector) cannot be allocated, fkv_matmul takes the scalar kernel and still writes every
    /// row. The shapes are the ones that need the heap: 4 vectors × 129 blocks of sums (over the
    /// 256 on the stack) and one 1824-column vector (over the 1536 pre-scaled on the stack).
    @Test(arguments: KernelPath.supported.filter { $0 != .scalar }, [WeightFormatName.q4_0, .q4_1])
    func refusedScratchFallsBackToTheScalarKernel(path: KernelPath, format: WeightFormatName) {
        for (m, cols) in [(4, 4128), (1, 1824)] {
            let rows = 6, ldx = cols + 5, ldy = rows + 3
            let w = EncodedWeights(format: format.format, rows: rows, cols: cols, seed: UInt64(cols))
            var rng = KernelRandom(UInt64(m))
            let x = rng.floats(m * ldx), start = rng.floats(m * ldy)
            var y = start
            let before = fkv_matmul_scratch_fallbacks()
            KernelPath.withPath(path) {
                fkv_matmul_refuse_scratch(1)
                fkv_matmul(format.format, w.bytes, rows, cols, x, ldx, m, &y, ldy, 0)
                fkv_matmul_refuse_scratch(0)
            }
            #expect(fkv_matmul_scratch_fallbacks() > before, "path \(path), \(format), m \(m): no scratch was refused")
            _ = Self.expectMatchesReference(y, start: start, w: w, rows: rows, cols: cols, x: x, ldx: ldx, m: m, ldy: ldy,
                                            accumulate: false, label: "refused scratch, path \(path), \(format), m \(m)")
        }
    }

    @Test(arguments: WeightFormatName.allCases)
    func dequantisedRowsAreExact(format: WeightFormatName) {
        let rows = 3, cols = format.isBlock ? 320 : 300
        let w = EncodedWeights(format: format.format, rows: rows, cols: cols, seed: 5)
        for r in 0..<rows {
            var out = [Float](repeating: .nan, count: cols)
            fkv_dequant_row(format.format, w.bytes, cols, r, &out)
            let want = Array(w.values[(r * cols)..<((r + 1) * cols)])
            let first = out.indices.first { out[$0].bitPattern != want[$0].bitPattern }
            #expect(first == nil, "\(format) row \(r): column \(first ?? 0) is \(out[first ?? 0]), want \(want[first ?? 0]) (bit for bit)")
        }
    }
}
