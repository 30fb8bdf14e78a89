// swift-tools-version: 6.0
// libFuzzer targets for every decoder of hostile bytes (wire headers, KV frames, the KV receiver's
// state machine, checkpoint and tokenizer files). Its own package, depending on the main one by
// path, so the default build and `swift test` never compile these; scripts/fuzz.sh builds them with
//   swift build -c release --package-path Fuzz --scratch-path .build-fuzz \
//       --sanitize=fuzzer --sanitize=address --product <Target>
// (SwiftPM adds -parse-as-library to the fuzz targets itself under --sanitize=fuzzer; libFuzzer's
// main drives LLVMFuzzerTestOneInput.)
import PackageDescription

let wire: [Target.Dependency] = [
    "FuzzSupport", "WireFuzzSupport",
    .product(name: "Wire", package: "fastkv"),
    .product(name: "RequestVocabulary", package: "fastkv"),
]

let package = Package(
    name: "fastkv-fuzz",
    dependencies: [.package(name: "fastkv", path: "..")],
    targets: [
        // Input cursor, the record framing of multi-message inputs, seed writing and checking.
        .target(name: "FuzzSupport"),
        // Wire seeds (one message of every kind, whole KV transfers) and a PayloadFrame over input bytes.
        .target(name: "WireFuzzSupport", dependencies: [
            "FuzzSupport", .product(name: "Wire", package: "fastkv"),
            .product(name: "RequestVocabulary", package: "fastkv"),
        ]),
        // Message.decode of every envelope body; a decoded message must re-encode to itself.
        .executableTarget(name: "FuzzMessage", dependencies: wire),
        // KVLayerCodec.validateLayout/decode of one layer header + frames; decode ∘ encode = identity.
        .executableTarget(name: "FuzzKVLayer", dependencies: wire),
        // KVTransferReceiver driven by a stream of KVBegin, KVLayer + frames, KVEnd records.
        .executableTarget(name: "FuzzKVReceiver", dependencies: wire),
        // GGUFFile / GGUFCheckpoint (header, metadata, tensor table, Llama config, vocabulary).
        .executableTarget(name: "FuzzGGUF", dependencies: [
            "FuzzSupport", .product(name: "Checkpoints", package: "fastkv"),
        ]),
        // SafetensorsFile (u64 header length, JSON header, tensor ranges).
        .executableTarget(name: "FuzzSafetensors", dependencies: [
            "FuzzSupport", .product(name: "Checkpoints", package: "fastkv"),
        ]),
        // Tokenizer(tokenizerJSON:) (HF tokenizer.json), then encode/decode of a fixed text.
        .executableTarget(name: "FuzzTokenizerJSON", dependencies: [
            "FuzzSupport", .product(name: "Tokenization", package: "fastkv"),
        ]),
    ]
)
