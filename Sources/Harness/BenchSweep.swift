import Engine
import Foundation
import RequestVocabulary

/// `fastkv bench`: what disaggregation costs and what FastKV saves. Every (config, length) batch
/// runs through the cluster as `fastkv submit --json` subprocesses (so the bench depends only on the
/// CLI contract) and, as a baseline, in this process with no KV transfer. The two never interleave:
/// the aggregated batches run first, then the cluster batches, so they do not compete for the CPUs.
///
/// Every finished row is written out at once (`BenchOutput`), so an interrupted sweep leaves valid
/// results with the rows so far, marked incomplete.
public struct BenchSweep {
    public let plan: BenchPlan
    let loaded: LoadedModel

    /// What the sweep reports while it runs (progress bars, logs).
    public enum Event: Sendable {
        /// A measured request finished, successfully or not; `done` of `total` in the sweep.
        case requestDone(BenchMode, config: String, length: Int, done: Int, total: Int)
        /// A cluster request failed; it counts in its row's `errors` and the sweep goes on.
        case requestFailed(config: String, length: Int, HarnessError)
        /// A row is finished and on disk, with `rowCount` rows so far.
        case rowWritten(BenchRow, rowCount: Int)
        /// Every request ran; the final files and the charts come next.
        case requestsDone
        /// Something is missing from the output but the run is fine (charts not drawn).
        case warning(String)
    }

    /// - Parameter model: tokenizes every prompt and runs the aggregated baseline; the plan's
    ///   configs and lengths are checked against it.
    public init(plan: BenchPlan, model: LoadedModel) throws(HarnessError) {
        let c = model.config
        for config in plan.configs {
            do throws(RequestError) { try config.compression.validate(layerCount: c.layerCount) } catch {
                throw .invalidConfigEntry(entry: config.label, .knob(error))
            }
        }
        for n in plan.lengths where n + plan.maxTokens > c.contextLength {
            throw .exceedsContext(length: n, extra: plan.maxTokens, extraSetting: .maxTokens, contextLength: c.contextLength)
        }
        self.plan = plan
        loaded = model
    }

    /// Runs the sweep; returns the final results (also on disk) and the chart files drawn.
    /// Throws when the baseline fails, a submit process cannot start, the cluster fails a warm-up,
    /// or a file cannot be written; the rows finished by then stay on disk.
    public func run(onEvent: (Event) -> Void = { _ in }) throws -> (results: BenchResults, charts: [String]) {
        let output = BenchOutput(directory: plan.outputDirectory)
        let promptDirectory = plan.outputDirectory.appendingPathComponent("prompts")
        try FileManager.default.createDirectory(at: promptDirectory, withIntermediateDirectories: true)

        // One prompt file per length: the cluster reads files, the baseline reuses the text.
        let prompts = try BenchPrompts(loaded: loaded, promptFile: plan.promptFile)
        var promptFiles: [Int: URL] = [:], promptTexts: [Int: String] = [:]
        for n in plan.lengths + [BenchPrompts.warmUpTokens] {
            let text = try prompts.text(tokens: n)
            let url = promptDirectory.appendingPathComponent("prompt-\(n).txt")
            try Data(text.utf8).write(to: url)
            promptFiles[n] = url
            promptTexts[n] = text
        }

        let countersAtStart = MachineInfo.cpuCounters()
        var results = BenchResults(
            commit: MachineInfo.gitCommit(), date: ISO8601DateFormatter().string(from: Date()),
            rows_expected: plan.expectedRowCount,
            machine: .init(nproc: ProcessInfo.processInfo.activeProcessorCount, cpu_model: MachineInfo.cpuModel(),
                           memory_bytes: Int(ProcessInfo.processInfo.physicalMemory)),
            settings: .init(plan))
        func refreshSteal() {
            if let start = countersAtStart, let now = MachineInfo.cpuCounters(), let share = start.stealShare(until: now) {
                results.machine.cpu_steal_share_during_run = share
            }
        }
        var done = 0
        func requestDone(_ mode: BenchMode, _ config: BenchConfig, _ length: Int) {
            done += 1
            onEvent(.requestDone(mode, config: config.label, length: length, done: done, total: plan.requestCount))
        }
        func emit(_ row: BenchRow) throws {
            results.rows.append(row)
            refreshSteal()
            try output.writeTables(results)
            onEvent(.rowWritten(row, rowCount: results.rows.count))
        }

        if plan.runsAggregated {
            try runAggregated(texts: promptTexts, requestDone: requestDone, emit: emit)
        }
        if let coordinator = plan.coordinator, let executable = plan.submitExecutable {
            let pool = SubmitProcessPool(executable: executable, coordinator: coordinator, concurrency: plan.concurrency,
                                         timeoutSeconds: plan.timeoutSeconds, scratchDirectory: promptDirectory)
            try runCluster(pool: pool, files: promptFiles, requestDone: requestDone,
                           requestFailed: { onEvent(.requestFailed(config: $0.label, length: $1, $2)) }, emit: emit)
        }
        onEvent(.requestsDone)
        refreshSteal()
        results.complete = true
        try output.writeTables(results)
        let charts = output.drawCharts(results.rows, script: plan.chartScript)
        for warning in charts.warnings { onEvent(.warning(warning)) }
        if !charts.files.isEmpty { try output.writeTables(results, charts: charts.files) }
        return (results, charts.files)
    }
}
