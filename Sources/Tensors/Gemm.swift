import COpenBLAS

/// Thin wrapper over `cblas_sgemm` for kernels in other targets (OpenBLAS is imported only here).
public enum Gemm {
    /// C[m, n] = alpha · A[m, k] · op(B) + beta · C, row-major with leading dimensions;
    /// op(B) = Bᵀ when `transposeB` (B is [n, k]) else B ([k, n]).
    public static func multiply(m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                                beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        BLAS.ensureSingleThreaded()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Softmax of x[0..<valid] in place; x[valid..<count] become 0.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, valid: Int, count: Int) {
        softmaxInPlace(x, valid, total: count)
    }
}

/// OpenBLAS runs single-threaded: the compute pool splits work across cores, so two thread pools
/// never spin against each other on a shared 2-core machine.
enum BLAS {
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()
    static func ensureSingleThreaded() { _ = singleThreaded }
}
