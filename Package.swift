// swift-tools-version: 6.0
// fastkv: CPU-first disaggregated LLM serving with FastKV-compressed KV transfer.
// The target graph is the architecture; see README.md ("How the parts fit").
import PackageDescription

// Kernels need real vector instructions: Swift's default x86_64 target is baseline SSE2, which turns
// every SIMD16 FMA into 16 libcalls (../shared/notes/swift-performance.md §5.1).
#if arch(x86_64)
let vectorSwift: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
let vectorC: [CSetting] = [.unsafeFlags(["-O3", "-march=x86-64-v3", "-ffp-contract=off"])]
#else
let vectorSwift: [SwiftSetting] = []
let vectorC: [CSetting] = [.unsafeFlags(["-O3"])]
#endif

let package = Package(
    name: "fastkv",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fastkv", targets: ["fastkv"]),
        // Libraries for the two side packages, which depend on this one by path so that neither the
        // default build nor `swift test` compiles them: Fuzz/ (libFuzzer targets of the decoders of
        // hostile bytes, scripts/fuzz.sh) and ASan/ (the Wire, Transport, Tensors and CKernels test
        // suites under AddressSanitizer, scripts/asan-test.sh).
        .library(name: "RequestVocabulary", targets: ["RequestVocabulary"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Transport", targets: ["Transport"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "Checkpoints", targets: ["Checkpoints"]),
        .library(name: "Tokenization", targets: ["Tokenization"]),
        .library(name: "TestSupport", targets: ["TestSupport"]),
        .executable(name: "fastkv-http", targets: ["fastkv-http"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Only the HTTP gateway (`fastkv-http`, `HTTPFrontEnd`) uses these: Hummingbird costs minutes of
        // build time (../shared/notes/ecosystem.md §1), and the worker roles in `fastkv` never link it.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        // C libraries: one thin module map each, imported by exactly one Swift target.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // The request vocabulary: compression and sampling knobs, finish reasons, error codes, the KV
        // wire dtype. Validated once; the CLI, the HTTP API, the wire and the policies all use these.
        .target(name: "RequestVocabulary"),

        // Hand-vectorised C kernels (quantised matrix-vector products). Pointers stay in here.
        .target(name: "CKernels", cSettings: vectorC),

        // Aligned tensors, BLAS wrappers, SIMD kernels. The only target that imports OpenBLAS.
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: vectorSwift),
        // GGUF and safetensors/HF readers; dequantisation. Bytes from disk are hostile.
        .target(name: "Checkpoints", swiftSettings: vectorSwift),
        // Byte-level BPE, pre-tokenizers, streaming UTF-8 decoding, chat templates.
        .target(name: "Tokenization"),
        // The Llama-family model: forward pass, KV cache, decode. KV policy is injected.
        .target(name: "Llama", dependencies: ["Tensors", "Checkpoints"], swiftSettings: vectorSwift),
        // FastKV: window scoring, GQA-aware selection, TSP; SnapKV, StreamingLLM, GemFilter beside it.
        .target(name: "FastKV", dependencies: ["RequestVocabulary", "Llama", "Tensors", "Checkpoints"], swiftSettings: vectorSwift),
        // Loading a model + tokenizer, sampling, the generate loop.
        // HeadScores/: the head-importance files `fastkv headscores` wrote, embedded in the binary.
        .target(name: "Engine", dependencies: ["RequestVocabulary", "Llama", "FastKV", "Tokenization", "Checkpoints", "Tensors"],
                resources: [.embedInCode("HeadScores/SmolLM2-135M-Instruct.Q4_1.json")],
                swiftSettings: vectorSwift),
        // The benchmark and eval harnesses: config lists, samples and statistics, results files, the
        // bench sweep (aggregated and through `fastkv submit`), bench-prefill, bench-engine, retrieval.
        .target(name: "Harness", dependencies: ["RequestVocabulary", "Engine", "FastKV", "Llama", "Tensors", "Tokenization"]),
        // The executable: argument-parser subcommands, thin over Engine, Cluster and Harness.
        .executableTarget(name: "fastkv", dependencies: [
            "RequestVocabulary", "Engine", "FastKV", "Tensors", "Cluster", "Transport", "Harness",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: vectorSwift),

        // The OpenAI-compatible HTTP front end as a library: request/response types, validation into
        // GenerationRequest, error mapping, the SSE encoder, the Prometheus metrics and the routes as
        // plain functions over a cluster connection. No HTTP server in here, so its tests need no
        // Hummingbird; `fastkv-http` binds these routes to Hummingbird.
        .target(name: "HTTPFrontEnd", dependencies: [
            "RequestVocabulary", "Cluster", "Engine", "Tokenization", "FastKV", "Checkpoints",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ],
        // Testable in release too (tests run with -c release): HTTPFrontEndTests check the chunk and
        // metric types, which stay internal.
        swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        // The gateway process: Hummingbird over HTTPFrontEnd, one ZeroMQ client of the coordinator.
        .executableTarget(name: "fastkv-http", dependencies: [
            "HTTPFrontEnd", "RequestVocabulary", "Cluster",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "HTTPFrontEndTests", dependencies: ["HTTPFrontEnd", "RequestVocabulary", "Cluster", "Engine", "Tokenization", "Wire", "TestSupport"]),
        // The gateway over real HTTP: the official `openai` Python client against a real local
        // cluster and `fastkv-http` (release binaries; Tests/HTTPEndToEndTests/openai_client_test.py).
        .testTarget(name: "HTTPEndToEndTests", dependencies: ["TestSupport"], exclude: ["openai_client_test.py"]),

        // Shared by tests only: file writers (GGUF, safetensors, npy) and tiny random models.
        .target(name: "TestSupport", dependencies: ["Checkpoints", "Tensors"], path: "Tests/TestSupport"),
        .testTarget(name: "RequestVocabularyTests", dependencies: ["RequestVocabulary"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        // Every C kernel against a naive reference, on each kernel path the CPU supports.
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels", "Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints", "TestSupport"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "Checkpoints", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "Tensors", "Checkpoints", "TestSupport"],
                    swiftSettings: vectorSwift),
        .testTarget(name: "FastKVTests", dependencies: ["RequestVocabulary", "FastKV", "Llama", "Tensors", "Checkpoints", "TestSupport"]),
        .testTarget(name: "HarnessTests", dependencies: ["Harness", "RequestVocabulary", "Engine", "FastKV", "Checkpoints", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["RequestVocabulary", "Engine", "FastKV", "Llama", "Tokenization", "Checkpoints", "Tensors", "TestSupport"]),

        // Wire format and transport (Proto/fastkv.proto). Each C library is imported by one Swift target:
        // protobuf-c by Wire, libzmq by Transport. Transport depends on Wire only for its payload types
        // (PayloadBuffer, PayloadFrame, EncodedKVLayer), so payload frames go out zero-copy.
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        // protoc-c output of Proto/fastkv.proto (scripts/gen-proto.sh); committed, never edited by hand.
        .target(name: "FastKVProto", dependencies: ["CProtobufC"]),
        .target(name: "Wire", dependencies: ["RequestVocabulary", "FastKVProto", "CProtobufC"], swiftSettings: vectorSwift),
        .target(name: "Transport", dependencies: ["CZMQ", "Wire"], swiftSettings: vectorSwift),
        .testTarget(name: "WireTests", dependencies: ["Wire", "RequestVocabulary", "Tensors"], swiftSettings: vectorSwift),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Wire", "RequestVocabulary"], swiftSettings: vectorSwift),

        // The disaggregated cluster: coordinator, prefill and decode workers, router, request lifecycle.
        .target(name: "Cluster", dependencies: ["RequestVocabulary", "Engine", "FastKV", "Llama", "Tensors", "Wire", "Transport"]),
        .testTarget(name: "ClusterTests", dependencies: ["RequestVocabulary", "Cluster", "FastKV", "Llama", "Checkpoints", "Wire", "TestSupport"]),
        // Starts the real `fastkv` binary (release build) as coordinator and workers on loopback.
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport", "Wire", "Transport", "RequestVocabulary", "Cluster"]),
        // `fastkv bench` and scripts/netns-cluster.sh end to end: start the real binaries and scripts
        // (they need the release fastkv built first, as scripts/test.sh does; otherwise they skip).
        .testTarget(name: "BenchTests", dependencies: ["TestSupport"]),
    ]
)
