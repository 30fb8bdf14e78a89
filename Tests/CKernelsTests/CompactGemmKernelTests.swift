import CKernels
import Testing
import Tensors

/// fkv_gemm_pack_weights + fkv_gemm_compact for every (stored format, panel form) pair, on every
/// kernel path: against a Double reference over the values the stored bytes stand for (decoded in
/// the tests, independently of the C code), and bit for bit against the f32 panels where the k
/// blocking is the same. Shapes cross the 6-row, 16-feature, 64-feature and k-block edges.
struct CompactGemmKernelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let format: fkv_format, panel: fkv_panel
        var testDescription: String { "stored \(format.rawValue) as panel \(panel.rawValue)" }
    }

    static let cases: [Case] = [
        Case(format: FKV_F16, panel: FKV_PANEL_F16), Case(format: FKV_BF16, panel: FKV_PANEL_BF16),
        Case(format: FKV_Q8_0, panel: FKV_PANEL_Q8_0), Case(format: FKV_Q4_0, panel: FKV_PANEL_Q8_0),
        Case(format: FKV_Q4_1, panel: FKV_PANEL_Q8_1), Case(format: FKV_Q8_0, panel: FKV_PANEL_F32),
    ]
    static let shapes: [GemmKernelTests.Shape] = [
        .init(m: 1, n: 1, k: 32), .init(m: 7, n: 65, k: 256), .init(m: 13, n: 130, k: 576),
        .init(m: 97, n: 20, k: 1120), .init(m: 6, n: 64, k: 64),
    ]

    @Test(arguments: KernelPath.supported, cases)
    func compactProductMatchesReference(path: KernelPath, c: Case) {
        #expect(fkv_gemm_panel_accepts(c.panel, c.format) != 0)
        for shape in Self.shapes {
            let (m, n, k) = (shape.m, shape.n, shape.k)
            let w = EncodedWeights(format: c.format, rows: n, cols: k, seed: UInt64(n * 7 + k))
            var rng = KernelRandom(UInt64(m * 31 + k))
            let lda = k + 3, ldc = n + 5
            let a = rng.floats(m * lda)
            let compact = Self.pack(c.panel, c.format, w.bytes, n: n, k: k)
            let f32 = Self.pack(FKV_PANEL_F32, c.format, w.bytes, n: n, k: k)
            for accumulate in [false, true] {
                let start = rng.floats(m * ldc)
                var got = start, viaF32 = start
                KernelPath.withPath(path) {
                    compact.withUnsafeMutablePointer { fkv_gemm_compact(c.panel, m, n, k, a, lda, $0, &got, ldc, accumulate ? 1 : 0) }
                    f32.withUnsafeMutablePointer { fkv_gemm_compact(FKV_PANEL_F32, m, n, k, a, lda, $0, &viaF32, ldc, accumulate ? 1 : 0) }
                }
                let ref = KernelReference.gemm(m: m, n: n, k: k, a: a, lda: lda, w: w.values, c: start, ldc: ldc,
                                               accumulate: accumulate)
                var worst = (ratio: 0.0, diff: 0.0, tolerance: 0.0)
                var padding = true
                for i in 0..<m {
                    for j in 0..<ldc {
                        if j >= n { padding = padding && got[i * ldc + j] == start[i * ldc + j]; continue }
                        let diff = abs(Double(got[i * ldc + j]) - ref.values[i * n + j])
                        let tolerance = 1e-6 + 4e-6 * ref.magnitude[i * n + j]
                        if !(diff / tolerance <= worst.ratio) { worst = (diff / tolerance, diff, tolerance) }
                    }
                }
                #expect(worst.diff <= worst.tolerance,
                        "\(path), \(c.testDescription), \(shape.testDescription): |Δ| \(worst.diff) > tolerance \(worst.tolerance)")
                #expect(padding, "\(path), \(c.testDescription): wrote C columns ≥ n")
                // Same values, same order: identical to the f32 panels (every shape here has k blocks
                // that are whole multiples of 32, so the q8 forms block k as f32 does).
                #expect(got == viaF32, "\(path), \(c.testDescription), \(shape.testDescription): differs from the f32 panels")
            }
        }
    }

    @Test func packingRefusesInexactPairsAndSizesPanels() {
        #expect(fkv_gemm_panel_accepts(FKV_PANEL_F16, FKV_BF16) == 0)
        #expect(fkv_gemm_panel_accepts(FKV_PANEL_Q8_0, FKV_Q4_1) == 0)
        #expect(fkv_gemm_panel_accepts(FKV_PANEL_Q8_1, FKV_Q8_0) == 0)
        #expect(fkv_gemm_panel_bytes(FKV_PANEL_F16, 17, 64) == 2 * 32 * 64)
        #expect(fkv_gemm_panel_bytes(FKV_PANEL_Q8_0, 16, 64) == 2 * 576)
        #expect(fkv_gemm_panel_bytes(FKV_PANEL_Q8_1, 16, 64) == 2 * 640)
        #expect(fkv_gemm_panel_bytes(FKV_PANEL_Q8_0, 16, 48) == 0, "q8 panels need k a multiple of 32")
        var scratch = [Float](repeating: 0, count: 64)
        var out = [UInt8](repeating: 7, count: 64)
        let w = [UInt8](repeating: 0, count: 2 * 64)
        #expect(fkv_gemm_pack_weights(FKV_PANEL_F16, FKV_BF16, w, 1, 64, &scratch, &out) == 0)
        #expect(out.allSatisfy { $0 == 7 }, "a refused pack writes nothing")
    }

    /// Panels of `format` weights in `panel` form, in 64-byte-aligned storage.
    static func pack(_ panel: fkv_panel, _ format: fkv_format, _ bytes: [UInt8], n: Int, k: Int) -> Tensor {
        let size = fkv_gemm_panel_bytes(panel, n, k)
        let t = Tensor(shape: [max(size / 4 + 16, 16)])
        var scratch = [Float](repeating: 0, count: k)
        t.withUnsafeMutablePointer { p in
            let ok = fkv_gemm_pack_weights(panel, format, bytes, n, k, &scratch, p)
            precondition(ok != 0, "pack \(format) as \(panel)")
        }
        return t
    }
}
