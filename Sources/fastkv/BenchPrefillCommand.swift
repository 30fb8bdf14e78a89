import ArgumentParser
import Engine
import FastKV
import Foundation
import Llama
import RequestVocabulary
import Tensors

/// `fastkv bench-prefill`: TTFT and decode speed per compression method, measured in one run so the
/// ratios to full KV share the machine's conditions.
struct BenchPrefillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-prefill",
        abstract: "TTFT (prefill to first token) and decode tok/s per method, with ratios to full KV.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt lengths in tokens.") var lengths: String = "2048,4096,8192"
    @Option(help: "Methods to compare (full is always measured for the ratios).")
    var methods: String = "full,fastkv,gemfilter,snapkv"
    @Option(help: "Rounds; each round runs every method once, interleaved (medians are reported).") var runs: Int = 3
    @Option(help: "Decode steps timed after each prefill (0 = skip decode).") var decodeTokens: Int = 32
    @OptionGroup var compression: CompressionOptions
    @Option(help: "Write the results as JSON to this file.") var json: String?

    struct Row: Encodable {
        var prompt_tokens: Int, method: String
        var ttft_ms: Double, ttft_ratio_full_over_method: Double
        var ttft_cpu_s: Double
        var decode_tokens_per_s: Double, decode_ratio_method_over_full: Double
        var kv_kept_share: Double, prefill_flops_skipped_share: Double
    }

    /// One method's measurements at one length, one entry per round.
    struct Sample {
        var ttft: [Double] = [], cpu: [Double] = [], rates: [Double] = []
        var kept = 0.0, skipped = 0.0
    }

    func validate() throws {
        guard runs >= 1, decodeTokens >= 0 else { throw ValidationError("--runs must be ≥ 1 and --decode-tokens ≥ 0") }
    }

    func run() throws {
        try runReportingErrors {
            let lengthList = try parseList(lengths, "--lengths")
            var methodList = try CompressionMethod.list(methods)
            if !methodList.contains(.full) { methodList.insert(.full, at: 0) }
            let loaded = try modelOptions.load()
            let model = loaded.model, c = model.config
            let unit = loaded.tokenizer.encode(RetrievalTask.defaultPasskeyFiller)
            print("model \(loaded.path.lastPathComponent), threads \(ComputePool.threadCount), \(runs) interleaved rounds; medians, ratios taken within each round")
            print("| N | method | TTFT ms | full/method | CPU s | decode tok/s | method/full | KV kept | FLOPs skipped |")
            print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
            var rows: [Row] = []
            for n in lengthList {
                guard n + decodeTokens <= c.contextLength else { throw ValidationError("length \(n) + decode exceeds the context") }
                let tokens = (0..<n).map { unit[$0 % unit.count] }
                let configs = try methodList.map { method in
                    let config = try compression.config(for: method)
                    try config.validate(layerCount: c.layerCount)
                    return config
                }
                // Rounds interleave the methods (full, fastkv, …, full, fastkv, …), so a change in the
                // machine's load hits every method alike; ratios are taken within each round.
                var samples = Array(repeating: Sample(), count: methodList.count)
                for _ in 0..<runs {
                    for (m, config) in configs.enumerated() {
                        let t0 = ContinuousClock.now, c0 = processCPUSeconds()
                        let r = try CompressedPrefill.run(model: model, tokens: tokens, config: config,
                                                          decodeReserve: decodeTokens)
                        var token = Sampler.argmax(r.logits)
                        samples[m].ttft.append((ContinuousClock.now - t0).milliseconds)
                        samples[m].cpu.append(processCPUSeconds() - c0)
                        if decodeTokens > 0 {
                            let d0 = ContinuousClock.now
                            for _ in 0..<decodeTokens {
                                token = Sampler.argmax(try model.decode(tokens: [token], caches: [r.cache])[0])
                            }
                            samples[m].rates.append(Double(decodeTokens) / ((ContinuousClock.now - d0).milliseconds / 1000))
                        }
                        samples[m].kept = Double(r.record.keptEntries) / Double(c.layerCount * c.kvHeadCount * n)
                        samples[m].skipped = r.skippedFlopShare
                    }
                }
                let full = samples[methodList.firstIndex(of: .full)!]
                for (m, method) in methodList.enumerated() {
                    let s = samples[m]
                    let ttftRatios = zip(full.ttft, s.ttft).map { $0 / $1 }
                    let decodeRatios = zip(s.rates, full.rates).map { $1 > 0 ? $0 / $1 : 0 }
                    let row = Row(prompt_tokens: n, method: method.rawValue, ttft_ms: median(s.ttft),
                                  ttft_ratio_full_over_method: median(ttftRatios), ttft_cpu_s: median(s.cpu),
                                  decode_tokens_per_s: s.rates.isEmpty ? 0 : median(s.rates),
                                  decode_ratio_method_over_full: decodeRatios.isEmpty ? 0 : median(decodeRatios),
                                  kv_kept_share: s.kept, prefill_flops_skipped_share: s.skipped)
                    rows.append(row)
                    print(String(format: "| %d | %@ | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f%% | %.1f%% |", n, method.rawValue,
                                 row.ttft_ms, row.ttft_ratio_full_over_method, row.ttft_cpu_s, row.decode_tokens_per_s,
                                 row.decode_ratio_method_over_full, 100 * s.kept, 100 * s.skipped))
                }
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(rows).write(to: URL(fileURLWithPath: json))
            }
        }
    }
}
