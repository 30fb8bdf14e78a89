import CKernels
import Testing
import Tensors

/// The one dispatch point (CKernels/cpu.c): detection, forcing a path, clamping.
struct DispatchTests {
    @Test func supportedPathsRunFromScalarToBest() {
        let best = KernelPath.best
        #expect(KernelPath.supported.first == .scalar)
        #expect(KernelPath.supported.last == best)
        #expect(KernelPath.current <= best)
        print("cpu: \(KernelPath.cpuName), best kernel path: \(best), in use: \(KernelPath.current)")
    }

    @Test func forcingAPathAppliesToThisThreadAndIsRestored() {
        let before = KernelPath.current
        for path in KernelPath.allCases {
            KernelPath.withPath(path) {
                // A path the CPU lacks is clamped to the best one, never run.
                #expect(KernelPath.current == min(path, KernelPath.best))
                KernelPath.withPath(.scalar) { #expect(KernelPath.current == .scalar) }
                #expect(KernelPath.current == min(path, KernelPath.best))
            }
        }
        #expect(KernelPath.current == before)
    }

    @Test func packedGemmIsTheFastPathOnVectorPathsOnly() {
        KernelPath.withPath(.scalar) { #expect(fkv_gemm_available() == 0) }
        if KernelPath.best >= .avx2 {
            KernelPath.withPath(.avx2) { #expect(fkv_gemm_available() != 0) }
        }
    }

    @Test func pathNamesRoundTrip() {
        for path in KernelPath.allCases {
            var parsed = FKV_PATH_SCALAR
            #expect(fkv_parse_kernel_path(path.description, &parsed) == 1)
            #expect(Int(parsed.rawValue) == path.rawValue)
        }
        var parsed = FKV_PATH_AVX2
        #expect(fkv_parse_kernel_path("sse2", &parsed) == 0)
        #expect(parsed == FKV_PATH_AVX2)
        #expect(["scalar", "avx2", "avx512"] == KernelPath.allCases.map(\.description))
    }
}
