// swift-tools-version: 6.0
// The CI AddressSanitizer build: the test suites of the targets that handle raw memory (Wire's
// codecs, Transport's zero-copy frames, Tensors' aligned storage and kernels, the C kernels), built
// and run under ASan against the main package, without building the rest of it (model, engine,
// cluster, CLI). Tests/ASan* are symlinks to the main package's test folders, so the suites are the
// same files `swift test` runs. scripts/asan-test.sh:
//   swift build --package-path ASan --scratch-path .build-asan --build-tests --sanitize=address
//   swift test  --package-path ASan --scratch-path .build-asan --skip-build --sanitize=address
import PackageDescription

#if arch(x86_64)
let vectorSwift: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
#else
let vectorSwift: [SwiftSetting] = []
#endif

func main(_ product: String) -> Target.Dependency { .product(name: product, package: "fastkv") }

let package = Package(
    name: "fastkv-asan",
    dependencies: [.package(name: "fastkv", path: "..")],
    targets: [
        .testTarget(name: "ASanWireTests", dependencies: [main("Wire"), main("RequestVocabulary"), main("Tensors")],
                    path: "Tests/ASanWireTests", swiftSettings: vectorSwift),
        .testTarget(name: "ASanTransportTests", dependencies: [main("Transport"), main("Wire"), main("RequestVocabulary")],
                    path: "Tests/ASanTransportTests", swiftSettings: vectorSwift),
        .testTarget(name: "ASanTensorsTests", dependencies: [main("Tensors"), main("TestSupport")],
                    path: "Tests/ASanTensorsTests"),
        .testTarget(name: "ASanCKernelsTests", dependencies: [main("CKernels"), main("Tensors")],
                    path: "Tests/ASanCKernelsTests"),
    ]
)
