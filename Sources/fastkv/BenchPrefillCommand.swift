import ArgumentParser
import Foundation
import Harness
import Tensors

/// `fastkv bench-prefill`: TTFT and decode speed per compression method, measured in one run so the
/// ratios to full KV share the machine's conditions (`PrefillBenchmark`).
struct BenchPrefillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-prefill",
        abstract: "TTFT (prefill to first token) and decode tok/s per method, with ratios to full KV.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Prompt lengths in tokens.") var lengths: String = "2048,4096,8192"
    @Option(help: "Methods to compare (full is always measured for the ratios).")
    var methods: String = "full,fastkv,gemfilter,snapkv,adakv,headkv,h2o,pyramidinfer"
    @Option(help: "Rounds; each round runs every method once, interleaved (medians are reported).") var runs: Int = 3
    @Option(help: "Decode steps timed after each prefill (0 = skip decode).") var decodeTokens: Int = 32
    @OptionGroup var compression: CompressionOptions
    @Option(help: "Write the results as JSON to this file.") var json: String?

    func validate() throws {
        try usageChecked { () throws(HarnessError) in try PrefillBenchmark.validate(rounds: runs, decodeTokens: decodeTokens) }
    }

    func run() throws {
        try runReportingErrors {
            let lengthList = try ListArgument.positiveIntegers(lengths, for: .lengths)
            let methodList = try ListArgument.methods(methods)
            let loaded = try modelOptions.load()
            let bench = try PrefillBenchmark(model: loaded, methods: methodList, knobs: try compression.config(for: .full),
                                             rounds: runs, decodeTokens: decodeTokens)
            print("model \(loaded.path.lastPathComponent), threads \(ComputePool.threadCount), \(runs) interleaved rounds; medians, ratios taken within each round")
            print(PrefillBenchmark.tableHeader)
            var rows: [PrefillBenchmark.Row] = []
            for n in lengthList {
                let measured = try bench.measure(length: n)
                for row in measured { print(row.tableLine) }
                rows += measured
            }
            if let json { try PrettyJSON.data(rows).write(to: URL(fileURLWithPath: json)) }
        }
    }
}
