import CKernels
import Testing
import Tensors

/// fkv_gemm_pack + fkv_gemm_packed against a Double reference on every kernel path: rows that are
/// not a multiple of the 6-row micro-kernel, features that end inside a 16-lane slice or a 64-wide
/// panel, depths that straddle the k blocks, strided A and C, overwrite and accumulate.
struct GemmKernelTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        let m, n, k: Int
        var testDescription: String { "m \(m) n \(n) k \(k)" }
    }

    static let shapes: [Shape] = [
        Shape(m: 1, n: 1, k: 1), Shape(m: 5, n: 17, k: 7), Shape(m: 6, n: 64, k: 8), Shape(m: 7, n: 65, k: 255),
        Shape(m: 13, n: 130, k: 257), Shape(m: 97, n: 192, k: 577), Shape(m: 200, n: 15, k: 1100),
        Shape(m: 96, n: 576, k: 64), Shape(m: 4, n: 20, k: 0),
    ]

    @Test(arguments: KernelPath.supported, shapes)
    func packedProductMatchesReference(path: KernelPath, shape: Shape) {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        var rng = KernelRandom(UInt64(m * 100_003 + n * 101 + k))
        let lda = k + 3, ldc = n + 5
        let a = rng.floats(m * lda), w = rng.floats(n * k)
        let packed = Tensor(shape: [max(fkv_gemm_packed_floats(n, k), 1)])   // 64-byte aligned
        packed.withUnsafeMutablePointer { fkv_gemm_pack(w, n, k, $0) }
        for accumulate in [false, true] {
            let start = rng.floats(m * ldc)
            var c = start
            KernelPath.withPath(path) {
                packed.withUnsafeMutablePointer { p in
                    fkv_gemm_packed(m, n, k, a, lda, p, &c, ldc, accumulate ? 1 : 0)
                }
            }
            let ref = KernelReference.gemm(m: m, n: n, k: k, a: a, lda: lda, w: w, c: start, ldc: ldc,
                                           accumulate: accumulate)
            // The output whose error is the largest fraction of its tolerance.
            var worst = (diff: 0.0, tolerance: 1.0, i: 0, j: 0)
            var padding = true
            for i in 0..<m {
                for j in 0..<ldc {
                    if j >= n { padding = padding && c[i * ldc + j] == start[i * ldc + j]; continue }
                    let diff = abs(Double(c[i * ldc + j]) - ref.values[i * n + j])
                    let tolerance = 1e-6 + 4e-6 * ref.magnitude[i * n + j]
                    if !worst.diff.isNaN && !(diff / tolerance <= worst.diff / worst.tolerance) {
                        worst = (diff, tolerance, i, j)
                    }
                }
            }
            #expect(worst.diff <= worst.tolerance,
                    "path \(path), \(shape.testDescription), accumulate \(accumulate): |Δ| \(worst.diff) at (\(worst.i), \(worst.j)) > tolerance \(worst.tolerance)")
            #expect(padding, "path \(path), \(shape.testDescription): wrote C columns ≥ n (the ldc padding)")
        }
    }

    @Test func packingLaysOutPanelsOf16FeaturesZeroPadded() {
        let n = 70, k = 3
        let w = (0..<(n * k)).map { Float($0 + 1) }
        let packed = Tensor(shape: [fkv_gemm_packed_floats(n, k)])
        packed.withUnsafeMutablePointer { fkv_gemm_pack(w, n, k, $0) }
        let p = packed.toArray()
        #expect(p.count == 5 * 16 * k)
        for row in 0..<80 {
            for col in 0..<k {
                let got = p[(row / 16) * k * 16 + col * 16 + row % 16]
                #expect(got == (row < n ? w[row * k + col] : 0), "feature \(row), column \(col)")
            }
        }
    }
}
