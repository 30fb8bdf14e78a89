import ArgumentParser
import Engine
import FastKV
import Foundation
import Tensors

struct ModelOptions: ParsableArguments {
    @Option(help: "A GGUF file or an HF directory (config.json, *.safetensors, tokenizer.json).")
    var model: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "Compute threads (default: all CPUs; FASTKV_THREADS also sets it).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 64 { throw ValidationError("--threads must be in 1...64") }
    }

    /// - Parameter forPrefill: false for processes that never run prefill (see `LoadedModel.load`).
    func load(forPrefill: Bool = true) throws -> LoadedModel {
        if let threads { ComputePool.configure(threads: threads) }
        guard FileManager.default.fileExists(atPath: model) else {
            throw EngineError.modelLoad(path: model, reason:
                "no such file or directory (run scripts/fetch-model.sh for the default model)")
        }
        return try LoadedModel.load(path: model, forPrefill: forPrefill)
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
    var maxTokens: Int = 128
    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0
    @Option(help: "Top-k filter (0 = off).")
    var topK: Int = 0
    @Option(help: "Top-p (nucleus) filter (1 = off).")
    var topP: Float = 1
    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0
    @Option(name: .customLong("stop"), help: "Stop string (repeatable).")
    var stopStrings: [String] = []

    var parameters: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed, maxTokens: maxTokens,
                           stopStrings: stopStrings)
    }

    func validate() throws {
        do { try parameters.validate() } catch { throw ValidationError("\(error)") }
    }
}

struct CompressionOptions: ParsableArguments {
    @Option(help: "KV method: full | fastkv | snapkv | streamingllm | gemfilter.")
    var method: String = "full"
    @Option(help: "KV retain rate r (C = ⌊n·r⌋ per layer).")
    var kvRate: Double?
    @Option(help: "Constant KV budget in entries per layer (instead of --kv-rate).")
    var kvBudget: Int?
    @Option(help: "TSP rate ρ (n_T = ⌊N·ρ⌋ tokens propagate past the TSP layer).")
    var tspRate: Double?
    @Option(help: "Constant number of propagated tokens (instead of --tsp-rate).")
    var tspLen: Int?
    @Option(help: "TSP layer ℓ_T (also GemFilter's filter layer); default L/2 − 1.")
    var tspLayer: Int?
    @Option(help: "Observation window w.")
    var window: Int = 8
    @Option(help: "Pooling kernel size (odd).")
    var kernel: Int = 7
    @Option(help: "Pooling: max | avg.")
    var pooling: String = "max"

    func config() throws -> CompressionConfig {
        guard let m = CompressionConfig.Method(rawValue: method.lowercased()) else {
            throw ValidationError("--method must be one of \(CompressionConfig.Method.allCases.map(\.rawValue).joined(separator: ", ")), got '\(method)'")
        }
        if m == .full && (kvRate != nil || kvBudget != nil || tspRate != nil || tspLen != nil) {
            throw ValidationError("--method full keeps every KV entry; --kv-rate/--kv-budget/--tsp-* need another method")
        }
        if m != .fastkv && (tspRate != nil || tspLen != nil) {
            throw ValidationError("--tsp-rate/--tsp-len apply to --method fastkv only")
        }
        return try config(for: m)
    }

    /// The knobs applied to `method` (used by commands that compare several methods).
    func config(for m: CompressionConfig.Method) throws -> CompressionConfig {
        guard let p = CompressionConfig.Pooling(rawValue: pooling.lowercased()) else {
            throw ValidationError("--pooling must be max or avg, got '\(pooling)'")
        }
        if kvRate != nil && kvBudget != nil { throw ValidationError("give --kv-rate or --kv-budget, not both") }
        if tspRate != nil && tspLen != nil { throw ValidationError("give --tsp-rate or --tsp-len, not both") }
        return CompressionConfig(method: m, retainRate: kvRate ?? 0.1, kvBudget: kvBudget, tspRate: tspRate ?? 0.2,
                                 tspLength: tspLen, tspLayer: tspLayer, windowSize: window, kernelSize: kernel,
                                 pooling: p)
    }

    /// Parses a comma-separated method list.
    static func methods(_ list: String) throws -> [CompressionConfig.Method] {
        try list.split(separator: ",").map { name in
            guard let m = CompressionConfig.Method(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("unknown method '\(name)' (use \(CompressionConfig.Method.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return m
        }
    }

    // No validate(): commands that compare several methods use `config(for:)` with these knobs, so
    // the single-method checks run in `config()` when a command asks for it.
}
