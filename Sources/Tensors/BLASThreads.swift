import COpenBLAS

/// OpenBLAS's own thread pool, separate from `ComputePool`. Worker processes that share cores set
/// both to the same small count, or every process spins up one BLAS thread per CPU.
public enum BLASThreads {
    public static func configure(threads: Int) { openblas_set_num_threads(Int32(max(1, threads))) }
    public static var count: Int { Int(openblas_get_num_threads()) }
}
