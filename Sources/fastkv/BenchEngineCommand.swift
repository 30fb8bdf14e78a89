import ArgumentParser
import Foundation
import Harness
import Tensors

/// `fastkv bench-engine`: prefill, decode and batched decode speed of the engine with full KV, and
/// peak RSS (`EngineBenchmark`).
struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Measure prefill, decode and batched decode speed of the engine (median of several runs) and peak RSS.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Prompt lengths for prefill throughput (empty: none).")
    var lengths: String = "512,2048,8192"
    @Option(help: "Context lengths after which decode speed is measured (empty: none).")
    var decodeContexts: String = "512,2048,4096,8000"
    @Option(help: "Decode steps timed per run.")
    var decodeTokens: Int = 64
    @Option(help: "Runs per figure (the median is reported).")
    var runs: Int = 3
    @Option(help: "Concurrent sequences for batched decode throughput (one weight pass per step for all); empty skips it.")
    var batchSequences: String = "1,4,16,64"
    @Option(help: "Prompt tokens each batched sequence has decoded after (one shared prompt, copied).")
    var batchContext: Int = 512
    @Option(help: "Seed of the synthetic prompt tokens.")
    var seed: UInt64 = 1

    func run() throws {
        try runReportingErrors {
            let prefillLengths = try ListArgument.positiveIntegersOrNone(lengths, for: .lengths)
            let contexts = try ListArgument.positiveIntegersOrNone(decodeContexts, for: .decodeContexts)
            let batches = try ListArgument.positiveIntegersOrNone(batchSequences, for: .batchSequences)
            guard batchContext >= 1 else { throw HarnessError.invalid(.batchContext, "must be ≥ 1") }
            try EngineBenchmark.validate(runs: runs, decodeTokens: decodeTokens)
            let loaded = try modelOptions.load()
            let model = loaded.model, c = model.config
            print("model: \(loaded.path.path) (\(c.layerCount) layers, hidden \(c.hiddenSize), heads \(c.headCount)/\(c.kvHeadCount), vocab \(c.vocabularySize))")
            print("threads: \(ComputePool.threadCount), runs per figure: \(runs) (median)")
            print("cpu: \(KernelPath.cpuName), kernels: \(KernelPath.current) (best \(KernelPath.best))")
            print("kv cache: \(loaded.model.kvDType.rawValue) (--kv-dtype)")
            if let plan = loaded.memoryPlan { print("memory plan: \(plan)") }
            let fileBytes = Self.checkpointBytes(loaded.path)
            var bench = try EngineBenchmark(model: model, runs: runs, decodeTokens: decodeTokens, seed: seed)
            try bench.warmUp()
            if !prefillLengths.isEmpty {
                print("\n" + EngineBenchmark.PrefillSpeed.tableHeader)
                for n in prefillLengths { print(try bench.prefill(tokens: n).tableLine) }
            }
            if !contexts.isEmpty {
                print("\n" + EngineBenchmark.DecodeSpeed.tableHeader)
                for context in contexts { print(try bench.decode(context: context).tableLine) }
            }
            // Before the batched runs, whose B sequences' caches are outside the memory plan.
            let singlePeak = Double(MachineInfo.peakRSSBytes())
            if !batches.isEmpty {
                print("\n" + EngineBenchmark.BatchedDecodeSpeed.tableHeader)
                for b in batches { print(try bench.batchedDecode(sequences: b, context: batchContext).tableLine) }
            }
            let weightsMB = Double(model.weights.f32WeightBytes) / 1e6
            let peak = Double(MachineInfo.peakRSSBytes())
            print(String(format: "\npeak RSS: %.1f MB (checkpoint files %.1f MB, f32 weight bytes %.1f MB)",
                         peak / 1e6, Double(fileBytes) / 1e6, weightsMB))
            if !batches.isEmpty {
                print("peak RSS before the batched runs (their \(batchSequences) sequences' caches are not in the plan): "
                      + String(format: "%.1f MB", singlePeak / 1e6))
            }
            if let plan = loaded.memoryPlan {
                // The floor a loader can reach: the file's bytes once, the planned KV and scratch.
                let floor = Double(fileBytes + plan.kvBytes + plan.scratchBytes)
                print(String(format: "peak RSS of load, prefill and decode / (checkpoint + planned KV + scratch = %.1f MB): %.2f×",
                             floor / 1e6, singlePeak / floor))
            }
        }
    }

    /// Bytes of the checkpoint: the GGUF file, or every file in an HF directory.
    static func checkpointBytes(_ url: URL) -> Int {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return 0 }
        let files = isDirectory.boolValue
            ? ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).map { url.appendingPathComponent($0).path }
            : [url.path]
        return files.reduce(0) { $0 + (((try? fm.attributesOfItem(atPath: $1))?[.size] as? Int) ?? 0) }
    }
}
