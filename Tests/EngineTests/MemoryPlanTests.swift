import Checkpoints
import Engine
import Foundation
import Llama
import Tensors
import TestSupport
import Testing

/// The memory plan at load and prefill on compact panels, on a small model with Llama-3's traits
/// (GQA 4:1, tied embeddings, llama3 RoPE scaling, matrices with k a multiple of 32) written as
/// f16 and q8_0 GGUF and as bf16 safetensors: the plan refuses what does not fit and names every
/// size, and prefill through compact panels gives exactly the f32 panels' logits.
@Suite(.serialized) struct MemoryPlanTests {
    static let config = ModelConfig(
        layerCount: 2, hiddenSize: 128, intermediateSize: 256, headCount: 4, kvHeadCount: 1, headDim: 32,
        vocabularySize: 64, contextLength: 512, rmsNormEpsilon: 1e-5, ropeTheta: 500_000,
        ropeScaling: RopeScaling(factor: 32, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 64),
        tieWordEmbeddings: true, bosTokenId: 0, eosTokenIds: [0])

    enum Stored: String, CaseIterable, Sendable { case f16, q8_0, bf16 }

    /// The checkpoint, written once per format into a temporary directory.
    static let written: Result<(TemporaryDirectory, [Stored: URL]), Error> = Result {
        let dir = try TemporaryDirectory()
        let model = TinyLlama(config: config, seed: 16)
        var paths: [Stored: URL] = [:]
        try model.quantized(to: .f16).writeGGUF(to: dir.file("f16.gguf"), matrixType: .f16)
        paths[.f16] = dir.file("f16.gguf")
        try model.quantized(to: .q8_0).writeGGUF(to: dir.file("q8_0.gguf"), matrixType: .q8_0)
        paths[.q8_0] = dir.file("q8_0.gguf")
        try model.quantized(to: .bf16).writeHF(to: dir.file("bf16"), dtype: .bf16)
        paths[.bf16] = dir.file("bf16")
        return (dir, paths)   // the directory lives (and the files stay) as long as the suite
    }

    static func path(_ s: Stored) throws -> String { try #require(try written.get().1[s]).path }

    static let plenty = AvailableMemory(bytes: 1 << 40, source: "test")

    @Test(arguments: Stored.allCases)
    func compactPanelsPrefillLikeF32Panels(stored: Stored) throws {
        let compact = try LoadedModel.load(path: Self.path(stored), options: .init(prefillWeights: .auto, availableMemory: Self.plenty))
        let f32 = try LoadedModel.load(path: Self.path(stored), options: .init(prefillWeights: .f32, availableMemory: Self.plenty))
        let form = try #require(compact.memoryPlan?.panelForms)
        #expect(form == [stored.rawValue], "auto packs \(stored) weights as \(stored) panels, got \(form)")
        let tokens = (0..<45).map { Int32(1 + ($0 * 17) % 63) }   // > packedRowLimit rows: the GEMM path
        func logits(_ m: LoadedModel) throws -> [Float] {
            var policy = FullKVPolicy()
            return try #require(try m.model.prefill(tokens: tokens, cache: m.model.makeCache(capacity: 64), policy: &policy).logits)
        }
        let a = try logits(compact), b = try logits(f32)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        if KernelPath.current > .scalar {
            #expect(a == b, "\(stored): compact-panel logits differ from f32-panel logits (max |Δ| \(worst))")
        } else {
            #expect(worst < 1e-4, "\(stored): max |Δlogit| \(worst)")
        }
        let plans = try (#require(compact.memoryPlan), #require(f32.memoryPlan))
        #expect(plans.0.panelBytes * 2 <= plans.1.panelBytes + 4096,
                "\(stored) panels \(plans.0.panelBytes) B against f32's \(plans.1.panelBytes) B")
        // Compact panels replace the layer matrices' stored rows; f32 panels sit beside them.
        #expect(plans.0.weightBytes < plans.1.weightBytes)
        #expect(compact.fingerprint == f32.fingerprint, "the fingerprint hashes the stored weights either way")
    }

    /// A panel-only model (the `auto` default for these formats: the layer matrices keep only their
    /// compact panels and decode reads them through fkv_gemv_panels) decodes like the same
    /// checkpoint loaded for decode only (no panels: every product on the stored rows through
    /// fkv_matmul), for one sequence (m = 1) and a batch of three (m = 3), within float
    /// reassociation: |Δlogit| ≤ 1e-4 · (1 + max |logit|). Its fingerprint is the stored-format one,
    /// and the plan counts the panels alone for the layer matrices, as loading holds them.
    @Test(arguments: Stored.allCases)
    func panelOnlyDecodeMatchesStoredFormatDecode(stored: Stored) throws {
        let panelOnly = try LoadedModel.load(path: Self.path(stored), options: .init(prefillWeights: .auto, availableMemory: Self.plenty))
        let storedOnly = try LoadedModel.load(path: Self.path(stored), options: .init(prefillWeights: nil, kvBudgetBytes: 0,
                                                                                      availableMemory: Self.plenty))
        #expect(panelOnly.fingerprint == storedOnly.fingerprint)
        let matrices = { (m: LoadedModel) in m.model.weights.layers.flatMap { [$0.qkv, $0.output, $0.gateUp, $0.down] } }
        #expect(matrices(panelOnly).allSatisfy { !$0.holdsStoredRows && $0.panelFormat?.description == stored.rawValue },
                "\(stored): auto keeps only \(stored) panels for the layer matrices")
        #expect(matrices(storedOnly).allSatisfy { $0.holdsStoredRows && $0.panelFormat == nil })
        #expect(panelOnly.model.weights.embeddings.holdsStoredRows, "embeddings stay row lookups")

        // Plan against what is held: the panels are the layer matrices' only (allocated) bytes, and
        // the stored weights left are the embeddings and the norms.
        let plan = try #require(panelOnly.memoryPlan), routing = try #require(storedOnly.memoryPlan)
        #expect(plan.panelBytes == matrices(panelOnly).reduce(0) { $0 + $1.memoryBytes })
        let c = Self.config
        let embeddingBytes = c.vocabularySize * panelOnly.model.weights.embeddings.format.rowBytes(columns: c.hiddenSize)
        #expect(plan.weightBytes == embeddingBytes + 4 * c.hiddenSize * (2 * c.layerCount + 1))
        #expect(routing.weightBytes > plan.weightBytes && routing.panelBytes == 0)

        let prompts: [[Int32]] = [(0..<45).map { Int32(1 + ($0 * 17) % 63) }, (0..<9).map { Int32(2 + $0 * 5) },
                                  (0..<20).map { Int32(63 - $0 * 3) }]
        func run(_ m: LoadedModel) throws -> [[Float]] {
            var rows: [[Float]] = []
            var caches: [KVCache] = []
            for prompt in prompts {
                let cache = m.model.makeCache(capacity: 64)
                var policy = FullKVPolicy()
                rows.append(try #require(try m.model.prefill(tokens: prompt, cache: cache, policy: &policy).logits))
                caches.append(cache)
            }
            rows += try m.model.decode(tokens: [7], caches: [caches[0]])                    // m = 1
            for step in 0..<3 {                                                          // m = 3
                rows += try m.model.decode(tokens: [Int32(3 + step), Int32(11 + step), Int32(40 - step)], caches: caches)
            }
            return rows
        }
        let a = try run(panelOnly), b = try run(storedOnly)
        #expect(a.count == b.count)
        for (i, (x, y)) in zip(a, b).enumerated() {
            let scale = 1 + (y.map { abs($0) }.max() ?? 0)
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? .infinity
            #expect(x.count == y.count && worst <= 1e-4 * scale,
                    "\(stored), row \(i) (prefill rows 0-2, then decode): max |Δlogit| \(worst) (scale \(scale))")
        }
    }

    @Test func planSumsTheCheckpointAndTheContext() throws {
        let checkpoint = try openCheckpoint(at: URL(fileURLWithPath: Self.path(.q8_0)))
        let c = Self.config
        let plan = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(prefillWeights: .auto, contextLimit: 100))
        // q8_0 stores 34 bytes per 32 weights; norms are f32.
        let matrixWeights = c.vocabularySize * c.hiddenSize
            + c.layerCount * (c.hiddenSize * (c.headCount + 2 * c.kvHeadCount) * c.headDim
                              + c.hiddenSize * c.headCount * c.headDim + 3 * c.hiddenSize * c.intermediateSize)
        let norms = 4 * c.hiddenSize * (2 * c.layerCount + 1)
        // Under auto the layer matrices are held as q8_0 panels only (18 bytes per 16 weights: an f32
        // scale per 32 k and feature, int8 values); the embeddings stay stored.
        let embeddings = c.vocabularySize * c.hiddenSize
        #expect(plan.weightBytes == embeddings / 32 * 34 + norms)
        #expect(plan.panelBytes == (matrixWeights - embeddings) / 16 * 18)
        #expect(plan.kvBytes == c.layerCount * 2 * c.kvHeadCount * c.headDim * 4 * 100 && plan.contextTokens == 100)
        let routing = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(prefillWeights: nil, kvBudgetBytes: 0))
        #expect(routing.panelBytes == 0 && routing.kvBytes == 0 && routing.panelForms.isEmpty)
        #expect(routing.weightBytes == matrixWeights / 32 * 34 + norms, "without panels every matrix is stored")
        let f32 = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(prefillWeights: .f32))
        #expect(f32.weightBytes == routing.weightBytes && f32.panelBytes == (matrixWeights - embeddings) * 4,
                "f32 panels sit beside the stored rows")
        let decode = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(prefillWeights: nil, kvBudgetBytes: 12345))
        #expect(decode.kvBytes == 12345)
    }

    @Test func aModelThatCannotFitIsRefusedWithEverySize() throws {
        let tight = AvailableMemory(bytes: 100_000, source: "test limit")
        do {
            _ = try LoadedModel.load(path: Self.path(.f16), options: .init(prefillWeights: .f32, availableMemory: tight))
            Issue.record("a load over the limit must throw")
        } catch let EngineError.insufficientMemory(path, plan, available) {
            #expect(path.hasSuffix("f16.gguf") && available == tight && plan.totalBytes > tight.bytes)
            let message = "\(EngineError.insufficientMemory(path: path, plan: plan, available: available))"
            for bytes in [plan.totalBytes, plan.weightBytes, plan.panelBytes, plan.scratchBytes, plan.kvBytes, tight.bytes] {
                #expect(message.contains("(\(bytes) B)"), "the message must name \(bytes) B: \(message)")
            }
            #expect(message.contains("--prefill-weights compact") && message.contains("test limit"))
        }
    }

    @Test func memoryLimitOverrideParses() throws {
        #expect(try AvailableMemory.current(environment: ["FASTKV_MEMORY_LIMIT": "512M"])
                == AvailableMemory(bytes: 512 << 20, source: "FASTKV_MEMORY_LIMIT"))
        #expect(AvailableMemory.parseBytes("8GiB") == 8 << 30 && AvailableMemory.parseBytes("123") == 123)
        #expect(AvailableMemory.parseBytes("lots") == nil && AvailableMemory.parseBytes("-1G") == nil)
        #expect(throws: EngineError.self) { try AvailableMemory.current(environment: ["FASTKV_MEMORY_LIMIT": "x"]) }
        let system = try #require(try AvailableMemory.current(environment: [:]), "MemAvailable is readable on Linux")
        #expect(system.bytes > 0)
    }

    /// Every role that loads a model checks the plan before it allocates (and before it binds or
    /// connects anything): a tight FASTKV_MEMORY_LIMIT makes each exit with the sized message.
    @Test(arguments: [
        ["generate", "--prompt", "hi", "--max-tokens", "1"],
        ["bench-engine", "--lengths", "16", "--decode-contexts", "16"],
        ["prefill-worker", "--coordinator", "tcp://127.0.0.1:1"],
        ["decode-worker", "--coordinator", "tcp://127.0.0.1:1", "--max-kv-bytes", "1000000"],
    ])
    func everyRoleRefusesBeforeLoading(arguments: [String]) throws {
        let r = try CommandRunner.run(TestPaths.fastkvBinary, arguments + ["--model", Self.path(.f16)], timeout: 60,
                                      environment: ["FASTKV_MEMORY_LIMIT": "64K"])
        #expect(r.status != 0 && !r.timedOut)
        #expect(r.stderr.contains("FASTKV_MEMORY_LIMIT") && r.stderr.contains("weights") && r.stderr.contains("KV"),
                "\(arguments[0]) stderr: \(r.stderr)")
        if arguments[0] == "decode-worker" { #expect(r.stderr.contains("(1000000 B)"), "the KV budget is --max-kv-bytes") }
    }
}
