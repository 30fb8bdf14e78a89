import Engine
import FastKV
import Foundation
import RequestVocabulary

/// `fastkv bench-prefill`: TTFT and decode speed per compression method, measured in one run so the
/// ratios to full KV share the machine's conditions. Rounds interleave the methods (full, fastkv, …,
/// full, fastkv, …), so a change in the machine's load hits every method alike, and ratios are taken
/// within each round before the median.
public struct PrefillBenchmark {
    /// One method at one length (keys are the `--json` contract).
    public struct Row: Codable, Sendable, Equatable {
        public var prompt_tokens: Int, method: String
        /// Medians over the rounds.
        public var ttft_ms: Double, ttft_ratio_full_over_method: Double
        public var ttft_cpu_s: Double
        /// 0 when decode is not measured.
        public var decode_tokens_per_s: Double, decode_ratio_method_over_full: Double
        public var kv_kept_share: Double, prefill_flops_skipped_share: Double

        public init(prompt_tokens: Int, method: String, ttft_ms: Double, ttft_ratio_full_over_method: Double,
                    ttft_cpu_s: Double, decode_tokens_per_s: Double, decode_ratio_method_over_full: Double,
                    kv_kept_share: Double, prefill_flops_skipped_share: Double) {
            self.prompt_tokens = prompt_tokens
            self.method = method
            self.ttft_ms = ttft_ms
            self.ttft_ratio_full_over_method = ttft_ratio_full_over_method
            self.ttft_cpu_s = ttft_cpu_s
            self.decode_tokens_per_s = decode_tokens_per_s
            self.decode_ratio_method_over_full = decode_ratio_method_over_full
            self.kv_kept_share = kv_kept_share
            self.prefill_flops_skipped_share = prefill_flops_skipped_share
        }

        /// The Markdown line under `PrefillBenchmark.tableHeader`.
        public var tableLine: String {
            String(format: "| %d | %@ | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f%% | %.1f%% |", prompt_tokens, method,
                   ttft_ms, ttft_ratio_full_over_method, ttft_cpu_s, decode_tokens_per_s, decode_ratio_method_over_full,
                   100 * kv_kept_share, 100 * prefill_flops_skipped_share)
        }
    }

    /// One method's measurements at one length, one entry per round.
    public struct Samples: Sendable, Equatable {
        public var ttftMs: [Double] = []
        public var cpuSeconds: [Double] = []
        /// Decode tokens per second; empty when decode is not measured.
        public var decodeRates: [Double] = []
        /// The same in every round (selection is deterministic).
        public var keptShare = 0.0, skippedFlopShare = 0.0

        public init() {}
    }

    public static let tableHeader = """
        | N | method | TTFT ms | full/method | CPU s | decode tok/s | method/full | KV kept | FLOPs skipped |
        |---:|---|---:|---:|---:|---:|---:|---:|---:|
        """

    /// The methods measured, full first when the caller did not list it (the ratios need it).
    public let methods: [CompressionMethod]
    public let rounds: Int
    public let decodeTokens: Int
    let loaded: LoadedModel
    let configs: [CompressionConfig]
    /// The passkey filler in tokens: the synthetic prompts repeat it.
    let filler: [Int32]

    /// - Parameters:
    ///   - knobs: the compression knobs every method runs with (its `method` is ignored).
    ///   - rounds: each round runs every method once.
    ///   - decodeTokens: decode steps timed after each prefill (0 = prefill only).
    public init(model: LoadedModel, methods: [CompressionMethod], knobs: CompressionConfig, rounds: Int,
                decodeTokens: Int) throws(HarnessError) {
        try Self.validate(rounds: rounds, decodeTokens: decodeTokens)
        let methods = methods.contains(.full) ? methods : [.full] + methods
        let configs = methods.map { knobs.with(method: $0) }
        for config in configs {
            do throws(RequestError) { try config.validate(layerCount: model.config.layerCount) } catch { throw .unsupportedKnobs(config.method, error) }
        }
        self.methods = methods
        self.configs = configs
        self.rounds = rounds
        self.decodeTokens = decodeTokens
        loaded = model
        filler = model.tokenizer.encode(RetrievalTask.defaultPasskeyFiller)
    }

    /// The rules on the counts, for callers that check flags before they load a model.
    public static func validate(rounds: Int, decodeTokens: Int) throws(HarnessError) {
        guard rounds >= 1 else { throw .invalid(.runs, "must be ≥ 1") }
        guard decodeTokens >= 0 else { throw .invalid(.decodeTokens, "must be ≥ 0") }
    }

    /// Measures every method on an `n`-token prompt; one row per method, in `methods` order.
    public func measure(length n: Int) throws -> [Row] {
        let model = loaded.model, c = model.config
        guard n + decodeTokens <= c.contextLength else {
            throw HarnessError.exceedsContext(length: n, extra: decodeTokens, extraSetting: .decodeTokens, contextLength: c.contextLength)
        }
        let tokens = (0..<n).map { filler[$0 % filler.count] }
        var samples = Array(repeating: Samples(), count: methods.count)
        for _ in 0..<rounds {
            for (m, config) in configs.enumerated() {
                let t0 = ContinuousClock.now, c0 = MachineInfo.processCPUSeconds()
                let r = try CompressedPrefill.run(model: model, tokens: tokens, config: config, decodeReserve: decodeTokens,
                                                  headImportance: loaded.headImportance(for: config))
                var token = Sampler.argmax(r.logits)
                samples[m].ttftMs.append((ContinuousClock.now - t0).milliseconds)
                samples[m].cpuSeconds.append(MachineInfo.processCPUSeconds() - c0)
                if decodeTokens > 0 {
                    let d0 = ContinuousClock.now
                    for _ in 0..<decodeTokens {
                        token = Sampler.argmax(try model.decode(tokens: [token], caches: [r.cache])[0])
                    }
                    samples[m].decodeRates.append(Double(decodeTokens) / (ContinuousClock.now - d0).seconds)
                }
                samples[m].keptShare = Double(r.record.keptEntries) / Double(c.layerCount * c.kvHeadCount * n)
                samples[m].skippedFlopShare = r.skippedFlopShare
            }
        }
        return Self.rows(length: n, methods: methods, samples: samples)
    }

    /// The rows of one length from its samples (`samples[i]` is `methods[i]`'s; full must be among
    /// them): medians over the rounds, and the medians of the per-round ratios to full.
    public static func rows(length n: Int, methods: [CompressionMethod], samples: [Samples]) -> [Row] {
        guard let f = methods.firstIndex(of: .full) else { return [] }
        let full = samples[f]
        return zip(methods, samples).map { method, s in
            Row(prompt_tokens: n, method: method.rawValue, ttft_ms: Statistics.median(s.ttftMs) ?? 0,
                ttft_ratio_full_over_method: Statistics.medianRatio(full.ttftMs, over: s.ttftMs) ?? 0,
                ttft_cpu_s: Statistics.median(s.cpuSeconds) ?? 0,
                decode_tokens_per_s: Statistics.median(s.decodeRates) ?? 0,
                decode_ratio_method_over_full: Statistics.medianRatio(s.decodeRates, over: full.decodeRates) ?? 0,
                kv_kept_share: s.keptShare, prefill_flops_skipped_share: s.skippedFlopShare)
        }
    }
}
