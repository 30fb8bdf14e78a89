import ArgumentParser
import Engine
import FastKV
import Foundation
import Llama
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
    @Option(help: "Runs per figure (median).") var runs: Int = 3
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

    func run() throws {
        try runReportingErrors {
            let lengthList = try parseList(lengths, "--lengths")
            var methodList = try CompressionOptions.methods(methods)
            if !methodList.contains(.full) { methodList.insert(.full, at: 0) }
            let loaded = try modelOptions.load()
            let model = loaded.model, c = model.config
            let unit = loaded.tokenizer.encode(RetrievalTask.defaultPasskeyFiller)
            print("model \(loaded.path.lastPathComponent), threads \(ComputePool.threadCount), runs \(runs) (median)")
            print("| N | method | TTFT ms | full/method | CPU s | decode tok/s | method/full | KV kept | FLOPs skipped |")
            print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
            var rows: [Row] = []
            for n in lengthList {
                guard n + decodeTokens <= c.contextLength else { throw ValidationError("length \(n) + decode exceeds the context") }
                let tokens = (0..<n).map { unit[$0 % unit.count] }
                var fullTTFT = 0.0, fullDecode = 0.0
                for method in methodList {
                    let config = try compression.config(for: method)
                    try config.validate(layerCount: c.layerCount)
                    var ttft: [Double] = [], cpu: [Double] = [], rates: [Double] = []
                    var last: CompressedPrefillResult?
                    for _ in 0..<runs {
                        let t0 = ContinuousClock.now, c0 = processCPUSeconds()
                        let r = try CompressedPrefill.run(model: model, tokens: tokens, config: config,
                                                          decodeReserve: decodeTokens)
                        var token = Sampler.argmax(r.logits)
                        ttft.append((ContinuousClock.now - t0).milliseconds)
                        cpu.append(processCPUSeconds() - c0)
                        if decodeTokens > 0 {
                            let d0 = ContinuousClock.now
                            for _ in 0..<decodeTokens {
                                token = Sampler.argmax(try model.decode(tokens: [token], caches: [r.cache])[0])
                            }
                            rates.append(Double(decodeTokens) / ((ContinuousClock.now - d0).milliseconds / 1000))
                        }
                        last = r
                    }
                    let t = median(ttft), d = rates.isEmpty ? 0 : median(rates)
                    if method == .full { fullTTFT = t; fullDecode = d }
                    let kept = Double(last!.record.keptEntries) / Double(c.layerCount * c.kvHeadCount * n)
                    let row = Row(prompt_tokens: n, method: method.rawValue, ttft_ms: t, ttft_ratio_full_over_method: fullTTFT / t,
                                  ttft_cpu_s: median(cpu), decode_tokens_per_s: d,
                                  decode_ratio_method_over_full: fullDecode > 0 ? d / fullDecode : 0,
                                  kv_kept_share: kept, prefill_flops_skipped_share: last!.skippedFlopShare)
                    rows.append(row)
                    print(String(format: "| %d | %@ | %.0f | %.2f | %.1f | %.1f | %.2f | %.1f%% | %.1f%% |", n, method.rawValue,
                                 t, row.ttft_ratio_full_over_method, row.ttft_cpu_s, d, row.decode_ratio_method_over_full,
                                 100 * kept, 100 * row.prefill_flops_skipped_share))
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
