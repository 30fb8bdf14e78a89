import CKernels

/// The instruction-set path of the C kernels, chosen once at run time (CKernels/cpu.c): the best
/// the CPU has, lowered by `FASTKV_KERNELS=scalar|avx2|avx512`. Asking for a path the CPU lacks
/// clamps to the best one and says so once on stderr.
public enum KernelPath: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Portable C, the reference the vector kernels are tested against.
    case scalar = 0
    /// AVX2 + FMA + F16C.
    case avx2 = 1
    /// AVX-512 F/BW/VL/DQ.
    case avx512 = 2

    public static func < (a: KernelPath, b: KernelPath) -> Bool { a.rawValue < b.rawValue }

    public var description: String { String(cString: fkv_kernel_path_name(fkv_path(UInt32(rawValue)))) }

    /// The path the kernels use on this thread.
    public static var current: KernelPath { KernelPath(fkv_kernel_path()) }

    /// The best path this CPU supports.
    public static var best: KernelPath { KernelPath(fkv_best_kernel_path()) }

    /// Every path that can run here, lowest first (what tests iterate over).
    public static var supported: [KernelPath] { allCases.filter { $0 <= best } }

    /// Sets the process-wide path (clamped to `best`) and returns the one now in use.
    @discardableResult
    public static func setProcessWide(_ path: KernelPath) -> KernelPath {
        KernelPath(fkv_set_kernel_path(fkv_path(UInt32(path.rawValue))))
    }

    /// Runs `body` with the kernels called from this thread forced onto `path` (clamped to `best`),
    /// then restores the previous setting. Other threads keep their path, so tests that force a path
    /// can run in parallel with the rest. `body` must not suspend (it is synchronous).
    public static func withPath<R>(_ path: KernelPath, _ body: () throws -> R) rethrows -> R {
        let previous = fkv_set_thread_kernel_path(Int32(path.rawValue))
        defer { fkv_set_thread_kernel_path(previous) }
        return try body()
    }

    /// The CPU's brand string (cpuid), e.g. "AMD EPYC", for benchmark headers.
    public static var cpuName: String { String(cString: fkv_cpu_name()) }

    init(_ path: fkv_path) { self = KernelPath(rawValue: Int(path.rawValue)) ?? .scalar }
}
