import CKernels
import Testing
import Tensors

/// fkv_gemv_panels, the small-m product over the prefill panels that decode uses when a matrix is
/// held only as panels: every panel form, on every kernel path, against a Double reference over the
/// values the stored bytes stand for and against fkv_gemm_compact on the same panels. The two
/// kernels sum in different orders (one FMA chain over k against k blocks of ≤ 256), so they agree
/// up to float reassociation: the tolerance is 1e-6 + 4e-6 · Σ|a·w| per output (the GEMM tests'
/// tolerance), for both comparisons. Shapes cover m = 1 … 8 (every kernel row count, the AVX2 split
/// at 4 rows and its k blocks beyond), m = 9 (past the bound: the GEMM itself), n not a multiple of
/// 16 or of the 32-feature pair, one panel, padded lda and ldc, accumulate on and off.
struct GemvPanelsKernelTests {
    typealias Case = CompactGemmKernelTests.Case

    /// The five panel forms, each from a stored format it holds exactly.
    static let cases: [Case] = [
        Case(format: FKV_F32, panel: FKV_PANEL_F32), Case(format: FKV_F16, panel: FKV_PANEL_F16),
        Case(format: FKV_BF16, panel: FKV_PANEL_BF16), Case(format: FKV_Q8_0, panel: FKV_PANEL_Q8_0),
        Case(format: FKV_Q4_1, panel: FKV_PANEL_Q8_1),
    ]
    static let sizes: [(n: Int, k: Int)] = [(1, 32), (17, 64), (33, 256), (75, 576), (130, 1120)]
    static let rowCounts = [1, 2, 3, 4, 5, 7, 8, 9]

    @Test(arguments: KernelPath.supported, cases)
    func smallProductsMatchReferenceAndGemm(path: KernelPath, c: Case) {
        for (n, k) in Self.sizes {
            let w = EncodedWeights(format: c.format, rows: n, cols: k, seed: UInt64(n * 13 + k))
            let panels = CompactGemmKernelTests.pack(c.panel, c.format, w.bytes, n: n, k: k)
            for m in Self.rowCounts {
                var rng = KernelRandom(UInt64(m * 101 + n * 7 + k))
                let lda = k + 5, ldc = n + 3
                let a = rng.floats(m * lda)
                for accumulate in [false, true] {
                    let start = rng.floats(m * ldc)
                    var got = start, viaGemm = start
                    KernelPath.withPath(path) {
                        panels.withUnsafeMutablePointer { p in
                            fkv_gemv_panels(c.panel, m, n, k, a, lda, p, &got, ldc, accumulate ? 1 : 0)
                            fkv_gemm_compact(c.panel, m, n, k, a, lda, p, &viaGemm, ldc, accumulate ? 1 : 0)
                        }
                    }
                    let ref = KernelReference.gemm(m: m, n: n, k: k, a: a, lda: lda, w: w.values, c: start,
                                                   ldc: ldc, accumulate: accumulate)
                    var worstRef = 0.0, worstGemm = 0.0
                    var padding = true
                    for i in 0..<m {
                        for j in 0..<ldc {
                            let g = got[i * ldc + j]
                            if j >= n { padding = padding && g == start[i * ldc + j]; continue }
                            let tolerance = 1e-6 + 4e-6 * ref.magnitude[i * n + j]
                            let dRef = abs(Double(g) - ref.values[i * n + j]) / tolerance
                            let dGemm = abs(Double(g) - Double(viaGemm[i * ldc + j])) / tolerance
                            if !(dRef <= worstRef) { worstRef = dRef }
                            if !(dGemm <= worstGemm) { worstGemm = dGemm }
                        }
                    }
                    let label = "\(path), \(c.testDescription), m \(m) n \(n) k \(k), accumulate \(accumulate)"
                    #expect(worstRef <= 1, "\(label): |Δ| against the reference is \(worstRef)× the tolerance")
                    #expect(worstGemm <= 1, "\(label): |Δ| against fkv_gemm_compact is \(worstGemm)× the tolerance")
                    #expect(padding, "\(label): wrote C columns ≥ n")
                    if path == .scalar || m > Int(FKV_GEMV_MAX_ROWS) {
                        #expect(got == viaGemm, "\(label): the scalar path and m > bound are the GEMM itself")
                    }
                }
            }
        }
    }

    @Test func emptyShapesTouchNothingAndZeroKClears() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [1, 1]
        let panels = CompactGemmKernelTests.pack(FKV_PANEL_F16, FKV_F16, [UInt8](repeating: 0, count: 4), n: 1, k: 2)
        panels.withUnsafeMutablePointer { p in
            fkv_gemv_panels(FKV_PANEL_F16, 0, 2, 2, a, 2, p, &c, 2, 0)
            #expect(c == [1, 2, 3, 4], "m = 0 writes nothing")
            fkv_gemv_panels(FKV_PANEL_F16, 2, 2, 0, a, 2, p, &c, 2, 1)
            #expect(c == [1, 2, 3, 4], "k = 0 with accumulate leaves C")
            fkv_gemv_panels(FKV_PANEL_F16, 2, 2, 0, a, 2, p, &c, 2, 0)
            #expect(c == [0, 0, 0, 0], "k = 0 without accumulate clears C")
        }
    }
}
