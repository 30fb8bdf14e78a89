import ArgumentParser
import Engine
import Foundation
import Harness
import RequestVocabulary
import Tensors

/// `fastkv bench`: the cluster against the aggregated baseline per KV config and prompt length
/// (`BenchSweep`); writes results.json, results.csv, README.md and charts to `--out`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Cluster vs aggregated benchmark per KV config and prompt length (tables, JSON, CSV, charts).")

    @Option(help: "The coordinator's endpoint (omit to run only the aggregated baseline).")
    var coordinator: String?
    @Option(help: "Prompt lengths in tokens.") var lengths: String = "1000,2000,4000,8000"
    @Option(help: "KV configs, method[:kv_rate[:tsp_rate]] each.")
    var configs: String = "full,fastkv:0.1:0.2,fastkv:0.2:0.2,snapkv:0.1,gemfilter:0.1,adakv:0.1,headkv:0.1,h2o:0.1,pyramidinfer:0.1"
    @OptionGroup var baselineKnobs: BaselineKnobOptions
    @Option(help: "Head-importance file for the aggregated baseline's headkv (default: the shipped one).")
    var headScores: String?
    @Option(help: "Requests per config and length.") var requests: Int = 3
    @Option(help: "Cluster requests in flight at once (submit processes).") var concurrency: Int = 1
    @Option(help: "Tokens generated per request.") var maxTokens: Int = 32
    @Option(name: .customLong("wire-dtype"), help: "KV element type on the wire.") var wireDType: WireDType = .f16
    @Option(help: "Output directory.") var out: String = "runs/bench"
    @Option(help: "Build prompts from this text (cut or repeated to each length) instead of passkey filler.")
    var promptFile: String?
    @Option(help: "Model for tokenizing and for the in-process aggregated baseline.")
    var aggregatedModel: String = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Compute threads of the aggregated baseline (default 1, like one cluster worker).")
    var aggregatedThreads: Int = 1
    @Flag(help: "Skip the aggregated baseline.") var noAggregated = false
    @Option(help: "Per-request deadline in seconds.") var timeout: Double = 300
    @Option(help: "The fastkv binary used for `submit` (default: this executable).") var submitExecutable: String?
    @Option(help: "gnuplot script for the charts.") var chartScript: String = "scripts/bench-charts.gp"

    func validate() throws {
        _ = try usageChecked { () throws(HarnessError) in try plan() }
        guard (1...64).contains(aggregatedThreads) else { throw ValidationError("--aggregated-threads must be in 1...64") }
    }

    func run() throws {
        try runReportingErrors {
            let plan = try plan()
            ComputePool.configure(threads: aggregatedThreads)
            guard FileManager.default.fileExists(atPath: aggregatedModel) else {
                throw EngineError.modelLoad(path: aggregatedModel, reason: "no such file (the bench tokenizes with it; run scripts/fetch-model.sh)")
            }
            let sweep = try BenchSweep(plan: plan, model: try LoadedModel.load(path: aggregatedModel, headScoresPath: headScores))
            let progress = BenchProgress()
            let (results, charts) = try sweep.run(onEvent: progress.show)
            print(BenchReport.markdownTable(results.rows))
            let files = ["README.md", "results.json", "results.csv"] + charts
            printError("bench: wrote \(plan.outputDirectory.path)/{\(files.joined(separator: ","))}")
        }
    }

    private func plan() throws(HarnessError) -> BenchPlan {
        try BenchPlan(coordinator: coordinator, lengths: ListArgument.positiveIntegers(lengths, for: .lengths),
                      configs: BenchConfig.parseList(configs, knobs: knobs()), requests: requests, concurrency: concurrency,
                      maxTokens: maxTokens, wireDType: wireDType, timeoutSeconds: timeout,
                      outputDirectory: URL(fileURLWithPath: out), promptFile: promptFile, modelPath: aggregatedModel,
                      runsAggregated: !noAggregated, submitExecutable: coordinator == nil ? nil : submitBinary(),
                      chartScript: chartScript)
    }

    /// The per-method knobs, checked like every other entry point's (`CompressionConfig`).
    private func knobs() throws(HarnessError) -> CompressionConfig {
        do throws(RequestError) {
            return try baselineKnobs.config()
        } catch { throw .invalidConfigEntry(entry: "--ada-alpha/--headkv-*", .knob(error)) }
    }

    private func submitBinary() -> String {
        if let submitExecutable { return submitExecutable }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
