import Engine
import Foundation
import Llama
import RequestVocabulary
import Tensors

/// `fastkv bench-engine`: prefill throughput and decode speed of the engine with full KV, each the
/// median of several runs, on seeded synthetic prompts.
///
/// Prompts come from one SplitMix64 stream in call order (warm-up, then each measurement), so a
/// seed and a sequence of calls reproduce the same prompts.
public struct EngineBenchmark {
    /// Prefill of one prompt length.
    public struct PrefillSpeed: Sendable, Equatable {
        public var tokens: Int
        public var medianMs: Double
        public var medianCPUSeconds: Double
        public init(tokens: Int, medianMs: Double, medianCPUSeconds: Double) {
            self.tokens = tokens
            self.medianMs = medianMs
            self.medianCPUSeconds = medianCPUSeconds
        }

        public var tokensPerSecond: Double { medianMs > 0 ? Double(tokens) / medianMs * 1000 : 0 }

        public static let tableHeader = "| prefill tokens | ms (median) | tok/s | CPU s per run |\n|---:|---:|---:|---:|"
        public var tableLine: String {
            String(format: "| %d | %.1f | %.1f | %.2f |", tokens, medianMs, tokensPerSecond, medianCPUSeconds)
        }
    }

    /// Decode after a context of a given length.
    public struct DecodeSpeed: Sendable, Equatable {
        public var context: Int
        /// The median over runs of each run's tokens per second.
        public var medianTokensPerSecond: Double
        /// The fastest single step of all runs.
        public var fastestStepMs: Double
        public init(context: Int, medianTokensPerSecond: Double, fastestStepMs: Double) {
            self.context = context
            self.medianTokensPerSecond = medianTokensPerSecond
            self.fastestStepMs = fastestStepMs
        }

        public var msPerToken: Double { medianTokensPerSecond > 0 ? 1000 / medianTokensPerSecond : 0 }

        public static let tableHeader = "| decode after context | ms/token (median) | tok/s | fastest step ms |\n|---:|---:|---:|---:|"
        public var tableLine: String {
            String(format: "| %d | %.2f | %.1f | %.2f |", context, msPerToken, medianTokensPerSecond, fastestStepMs)
        }
    }

    public let runs: Int
    public let decodeTokens: Int
    let model: LlamaModel
    var rng: SplitMix64

    /// - Parameters:
    ///   - runs: runs per figure (the median is reported).
    ///   - decodeTokens: decode steps timed per run.
    ///   - seed: of the synthetic prompt tokens.
    public init(model: LlamaModel, runs: Int, decodeTokens: Int, seed: UInt64) throws(HarnessError) {
        try Self.validate(runs: runs, decodeTokens: decodeTokens)
        self.model = model
        self.runs = runs
        self.decodeTokens = decodeTokens
        rng = SplitMix64(seed: seed)
    }

    /// The rules on the counts, for callers that check flags before they load a model.
    public static func validate(runs: Int, decodeTokens: Int) throws(HarnessError) {
        guard runs >= 1 else { throw .invalid(.runs, "must be ≥ 1") }
        guard decodeTokens >= 1 else { throw .invalid(.decodeTokens, "must be ≥ 1") }
    }

    /// `n` token ids, uniform over the vocabulary above the 256 byte tokens (over its upper half for
    /// a toy vocabulary of fewer tokens).
    mutating func prompt(_ n: Int) -> [Int32] {
        let vocabularySize = model.config.vocabularySize
        let low = min(256, vocabularySize / 2), span = UInt64(vocabularySize - low)
        return (0..<n).map { _ in Int32(low + Int(rng.next() % span)) }
    }

    /// One short prefill: pages in the weights and starts the compute threads.
    public mutating func warmUp() throws {
        var policy = FullKVPolicy()
        _ = try model.prefill(tokens: prompt(64), cache: model.makeCache(capacity: 64), policy: &policy)
    }

    public mutating func prefill(tokens n: Int) throws -> PrefillSpeed {
        let contextLength = model.config.contextLength
        guard n <= contextLength else {
            throw HarnessError.exceedsContext(length: n, extra: 0, extraSetting: nil, contextLength: contextLength)
        }
        let tokens = prompt(n)
        var times: [Double] = [], cpu: [Double] = []
        for _ in 0..<runs {
            var policy = FullKVPolicy()
            let cache = model.makeCache(capacity: n)
            let t0 = ContinuousClock.now, c0 = MachineInfo.processCPUSeconds()
            _ = try model.prefill(tokens: tokens, cache: cache, policy: &policy)
            times.append((ContinuousClock.now - t0).milliseconds)
            cpu.append(MachineInfo.processCPUSeconds() - c0)
        }
        return PrefillSpeed(tokens: n, medianMs: Statistics.median(times) ?? 0, medianCPUSeconds: Statistics.median(cpu) ?? 0)
    }

    public mutating func decode(context: Int) throws -> DecodeSpeed {
        let contextLength = model.config.contextLength
        guard context + decodeTokens <= contextLength else {
            throw HarnessError.exceedsContext(length: context, extra: decodeTokens, extraSetting: .decodeTokens,
                                              contextLength: contextLength)
        }
        let tokens = prompt(context)
        var rates: [Double] = []
        var fastest = Double.infinity
        for _ in 0..<runs {
            var policy = FullKVPolicy()
            let cache = model.makeCache(capacity: context + decodeTokens)
            let out = try model.prefill(tokens: tokens, cache: cache, policy: &policy)
            var token = Sampler.argmax(out.logits!)
            let t0 = ContinuousClock.now
            for _ in 0..<decodeTokens {
                let s0 = ContinuousClock.now
                token = Sampler.argmax(try model.decode(tokens: [token], caches: [cache])[0])
                fastest = min(fastest, (ContinuousClock.now - s0).milliseconds)
            }
            rates.append(Double(decodeTokens) / (ContinuousClock.now - t0).seconds)
        }
        return DecodeSpeed(context: context, medianTokensPerSecond: Statistics.median(rates) ?? 0, fastestStepMs: fastest)
    }
}
