import ArgumentParser
import Engine
import Foundation
import RequestVocabulary
import Tensors

struct ModelOptions: ParsableArguments {
    @Option(help: "A GGUF file or an HF directory (config.json, *.safetensors, tokenizer.json).")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Compute threads (default: all CPUs; FASTKV_THREADS also sets it).")
    var threads: Int?

    @Option(help: ArgumentHelp(
        "How prefill's GEMM holds the weights: auto, f32 or compact.",
        discussion: "compact packs the stored values (f16, bf16, int8 with scales) and converts them inside the kernel: no f32 copy, same outputs. auto is compact for f16/bf16/q8_0 checkpoints and f32 for the 4-bit ones. Compact f16/bf16/q8_0 panels replace the layer matrices' stored rows (decode reads the panels too), so each matrix is held once. Processes that never run prefill hold no panels."))
    var prefillWeights: PrefillWeights = .auto

    @Option(name: .customLong("kv-dtype"), help: ArgumentHelp(
        "How the KV cache stores K and V: f32 or f16.",
        discussion: "f16 rounds each entry to IEEE binary16 as it enters the cache (prefill still computes in f32) and the decode attention kernels convert as they load: half the KV bytes per sequence and per decode step. f32 (the default) keeps the cache exact. Not part of the model fingerprint; a decode worker installs KV from any prefill side."))
    var kvDType: KVDType = .f32

    @Option(help: "Serve at most this many positions (default: the model's context length); KV and scratch are planned for it.")
    var maxContext: Int?

    @Option(help: "Head-importance scores for --method headkv (a `fastkv headscores` file); default: the file shipped for this model, if any.")
    var headScores: String?

    func validate() throws {
        if let threads, threads < 1 || threads > 64 { throw ValidationError("--threads must be in 1...64") }
        if let maxContext, maxContext < 1 { throw ValidationError("--max-context must be ≥ 1") }
    }

    /// Loads the model after its memory plan passed (see `LoadedModel.load(path:options:)`).
    /// - Parameters:
    ///   - forPrefill: false for processes that never run prefill: no panels, no prefill scratch.
    ///   - kvBudgetBytes: KV bytes to plan for (a decode worker's --max-kv-bytes, 0 for routing
    ///     processes); nil plans one sequence of the full context.
    func load(forPrefill: Bool = true, kvBudgetBytes: Int? = nil, decodeSequences: Int = 1) throws -> LoadedModel {
        if let threads { ComputePool.configure(threads: threads) }
        guard FileManager.default.fileExists(atPath: model) else {
            throw EngineError.modelLoad(path: model, reason:
                "no such file or directory (run scripts/fetch-model.sh for the default model)")
        }
        let options = LoadedModel.Options(prefillWeights: forPrefill ? prefillWeights : nil, contextLimit: maxContext,
                                          kvBudgetBytes: kvBudgetBytes, decodeSequences: decodeSequences,
                                          headScoresPath: headScores, kvDType: kvDType)
        return try LoadedModel.load(path: model, options: options)
    }
}

struct PromptOptions: ParsableArguments {
    @Option(help: "The prompt text.")
    var prompt: String?

    @Option(help: "Read the prompt from a file.")
    var promptFile: String?

    @Flag(help: "Wrap the prompt as one user turn in the model's chat template.")
    var chat = false

    func validate() throws {
        if (prompt == nil) == (promptFile == nil) { throw ValidationError("give exactly one of --prompt or --prompt-file") }
    }

    func text() throws -> String {
        if let prompt { return prompt }
        let path = promptFile!
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError.invalidRequest("cannot read prompt file \(path)")
        }
        guard let s = String(data: data, encoding: .utf8) else {
            throw EngineError.invalidRequest("prompt file \(path) is not valid UTF-8")
        }
        return s
    }
}

struct SamplingOptions: ParsableArguments {
    @Option(help: "Maximum tokens to generate.")
    var maxTokens: Int = SamplingParameters.Defaults.maxTokens
    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0
    @Option(help: "Top-k filter (0 = off).")
    var topK: Int = 0
    @Option(help: "Top-p (nucleus) filter (1 = off).")
    var topP: Float = 1
    @Option(help: "Random seed for sampling (default: a fresh one per request, not reproducible).")
    var seed: UInt64?
    @Option(name: .customLong("stop"), help: "Stop string (repeatable).")
    var stopStrings: [String] = []
    @Flag(help: "Keep generating past end-of-sequence tokens (benchmarks).")
    var ignoreEOS = false

    func parameters() throws -> SamplingParameters {
        try SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed, maxTokens: maxTokens,
                               stopStrings: stopStrings, stopAtEOS: !ignoreEOS)
    }

    func validate() throws {
        do { _ = try parameters() } catch { throw ValidationError("\(error)") }
    }
}

extension CompressionMethod: ExpressibleByArgument {}
extension Pooling: ExpressibleByArgument {}
extension WireDType: ExpressibleByArgument {}

/// The compression knobs as flags; `CompressionConfig` checks them (one set of rules and defaults).
struct CompressionOptions: ParsableArguments {
    @Option(help: "KV method.")
    var method: CompressionMethod = .full
    @Option(help: "KV retain rate r (C = ⌊n·r⌋ per layer; default \(CompressionConfig.Defaults.retainRate)).")
    var kvRate: Double?
    @Option(help: "Constant KV budget in entries per layer (instead of --kv-rate).")
    var kvBudget: Int?
    @Option(help: "TSP rate ρ (n_T = ⌊N·ρ⌋ tokens propagate past the TSP layer; default \(CompressionConfig.Defaults.tspRate)).")
    var tspRate: Double?
    @Option(help: "Constant number of propagated tokens (instead of --tsp-rate).")
    var tspLen: Int?
    @Option(help: "TSP layer ℓ_T (also GemFilter's filter layer); default L/2 − 1.")
    var tspLayer: Int?
    @Option(help: "Observation window w.")
    var window: Int = CompressionConfig.Defaults.windowSize
    @Option(help: "Pooling kernel size (odd).")
    var kernel: Int = CompressionConfig.Defaults.kernelSize
    @Option(help: "Pooling of the window scores.")
    var pooling: Pooling = CompressionConfig.Defaults.pooling
    @OptionGroup var baselineKnobs: BaselineKnobOptions

    /// The knobs for `--method`, with the checks that only make sense for one method.
    func config() throws -> CompressionConfig {
        if method == .full && (kvRate != nil || kvBudget != nil || tspRate != nil || tspLen != nil) {
            throw ValidationError("--method full keeps every KV entry; --kv-rate/--kv-budget/--tsp-* need another method")
        }
        if method != .fastKV && (tspRate != nil || tspLen != nil) {
            throw ValidationError("--tsp-rate/--tsp-len apply to --method fastkv only")
        }
        if method != .adaKV && baselineKnobs.adaAlpha != nil { throw ValidationError("--ada-alpha applies to --method adakv only") }
        if method != .headKV && (baselineKnobs.headkvBeta != nil || baselineKnobs.headkvTemperature != nil) {
            throw ValidationError("--headkv-beta/--headkv-temperature apply to --method headkv only")
        }
        return try config(for: method)
    }

    /// The knobs applied to `m` (commands that compare several methods with the same knobs).
    func config(for m: CompressionMethod) throws -> CompressionConfig {
        if kvRate != nil && kvBudget != nil { throw ValidationError("give --kv-rate or --kv-budget, not both") }
        if tspRate != nil && tspLen != nil { throw ValidationError("give --tsp-rate or --tsp-len, not both") }
        do {
            return try CompressionConfig(method: m, retainRate: kvRate ?? CompressionConfig.Defaults.retainRate,
                                         kvBudget: kvBudget, tspRate: tspRate ?? CompressionConfig.Defaults.tspRate,
                                         tspLength: tspLen, tspLayer: tspLayer, windowSize: window,
                                         kernelSize: kernel, pooling: pooling,
                                         adaAlpha: baselineKnobs.adaAlphaValue, headKVBeta: baselineKnobs.headkvBetaValue,
                                         headKVTemperature: baselineKnobs.headkvTemperatureValue)
        } catch { throw ValidationError("\(error)") }
    }

    /// Every single-method command checks its knobs before it loads a model or sends anything.
    func validate() throws {
        _ = try config(for: method == .full ? .fastKV : method)
    }
}

/// The baselines' own knobs (AdaKV's α, HeadKV's β and temperature): one set of flags for every command
/// that runs those methods; unset means the `CompressionConfig` default.
struct BaselineKnobOptions: ParsableArguments {
    @Option(help: "AdaKV's α: the share of each head's budget kept whatever the other heads' scores (default \(CompressionConfig.Defaults.adaAlpha)).")
    var adaAlpha: Double?
    @Option(help: "HeadKV's β: ⌊B/β⌋ of each head's budget B goes to the pool shared by head importance (default \(CompressionConfig.Defaults.headKVBeta)).")
    var headkvBeta: Double?
    @Option(help: "HeadKV's temperature on the head scores (default \(CompressionConfig.Defaults.headKVTemperature)).")
    var headkvTemperature: Double?

    var adaAlphaValue: Double { adaAlpha ?? CompressionConfig.Defaults.adaAlpha }
    var headkvBetaValue: Double { headkvBeta ?? CompressionConfig.Defaults.headKVBeta }
    var headkvTemperatureValue: Double { headkvTemperature ?? CompressionConfig.Defaults.headKVTemperature }

    /// The knobs alone, checked by `CompressionConfig`'s rules.
    func config() throws(RequestError) -> CompressionConfig {
        try CompressionConfig(adaAlpha: adaAlphaValue, headKVBeta: headkvBetaValue, headKVTemperature: headkvTemperatureValue)
    }
}

extension PrefillWeights: ExpressibleByArgument {}
extension KVDType: ExpressibleByArgument {}
