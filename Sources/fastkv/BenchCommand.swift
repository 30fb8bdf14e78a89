import ArgumentParser
import Engine
import FastKV
import Foundation
import RequestVocabulary
import Tensors

/// `fastkv bench`: what disaggregation costs and what FastKV saves. Every (config, length) batch runs
/// through the cluster as `fastkv submit --json` subprocesses (so the bench depends only on the CLI
/// contract) and, as a baseline, in this process with no KV transfer. The two never interleave: the
/// aggregated cases run first, then the cluster cases, so they do not compete for the CPUs.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Cluster vs aggregated benchmark per KV config and prompt length (tables, JSON, CSV, charts).")

    @Option(help: "The coordinator's endpoint (omit to run only the aggregated baseline).")
    var coordinator: String?
    @Option(help: "Prompt lengths in tokens.") var lengths: String = "1000,2000,4000,8000"
    @Option(help: "KV configs, method[:kv_rate[:tsp_rate]] each.")
    var configs: String = "full,fastkv:0.1:0.2,fastkv:0.2:0.2,snapkv:0.1,gemfilter:0.1"
    @Option(help: "Requests per config and length.") var requests: Int = 3
    @Option(help: "Cluster requests in flight at once (submit processes).") var concurrency: Int = 1
    @Option(help: "Tokens generated per request.") var maxTokens: Int = 32
    @Option(name: .customLong("wire-dtype"), help: "KV element type on the wire: f16 | f32.") var wireDType: String = "f16"
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
        _ = try parseList(lengths, "--lengths")
        _ = try BenchConfig.parseList(configs)
        guard requests >= 1 else { throw ValidationError("--requests must be ≥ 1") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be in 1...256") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1") }
        guard ["f16", "f32"].contains(wireDType.lowercased()) else { throw ValidationError("--wire-dtype must be f16 or f32") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard (1...64).contains(aggregatedThreads) else { throw ValidationError("--aggregated-threads must be in 1...64") }
        if coordinator == nil && noAggregated { throw ValidationError("nothing to run: give --coordinator or drop --no-aggregated") }
    }

    func run() throws {
        try runReportingErrors {
            let lengthList = try parseList(lengths, "--lengths")
            let configList = try BenchConfig.parseList(configs)
            let outDir = URL(fileURLWithPath: out)
            let promptDir = outDir.appendingPathComponent("prompts")
            try FileManager.default.createDirectory(at: promptDir, withIntermediateDirectories: true)
            ComputePool.configure(threads: aggregatedThreads)
            guard FileManager.default.fileExists(atPath: aggregatedModel) else {
                throw EngineError.modelLoad(path: aggregatedModel, reason: "no such file (the bench tokenizes with it; run scripts/fetch-model.sh)")
            }
            let loaded = try LoadedModel.load(path: aggregatedModel)
            for c in configList { try c.compression.validate(layerCount: loaded.config.layerCount) }
            for n in lengthList where n + maxTokens > loaded.config.contextLength {
                throw ValidationError("length \(n) + --max-tokens \(maxTokens) exceeds the model's context of \(loaded.config.contextLength)")
            }

            // Prompts: one file per length (the cluster reads files; the baseline reuses the text).
            let prompts = try BenchPrompts(loaded: loaded, promptFile: promptFile)
            var promptFiles: [Int: URL] = [:], promptTexts: [Int: String] = [:]
            for n in lengthList + [BenchPrompts.warmupTokens] {
                let text = try prompts.text(tokens: n)
                let url = promptDir.appendingPathComponent("prompt-\(n).txt")
                try Data(text.utf8).write(to: url)
                promptFiles[n] = url
                promptTexts[n] = text
            }

            let steal0 = MachineInfo.stealCounters()
            let expectedRows = configList.count * lengthList.count * ((noAggregated ? 0 : 1) + (coordinator == nil ? 0 : 1))
            var progress = BenchProgress(total: expectedRows * requests)
            var results = BenchResults(
                commit: MachineInfo.gitCommit(), date: ISO8601DateFormatter().string(from: Date()),
                complete: false, rows_expected: expectedRows,
                machine: .init(nproc: ProcessInfo.processInfo.activeProcessorCount, cpu_model: MachineInfo.cpuModel(),
                               memory_bytes: Int(ProcessInfo.processInfo.physicalMemory), cpu_steal_share_during_run: nil),
                settings: .init(coordinator: coordinator, lengths: lengthList, configs: configList.map(\.label),
                                requests: requests, concurrency: concurrency, max_tokens: maxTokens,
                                wire_dtype: wireDType.lowercased(),
                                prompt: promptFile.map { "file \($0)" } ?? "passkey filler (seeded per length, needle at depth 0.5)",
                                aggregated_model: noAggregated ? nil : aggregatedModel,
                                submit_executable: coordinator == nil ? nil : try submitBinary()),
                rows: [])
            func refreshSteal() {
                if let a = steal0, let b = MachineInfo.stealCounters(), b.total > a.total {
                    results.machine.cpu_steal_share_during_run = (b.steal - a.steal) / (b.total - a.total)
                }
            }
            // Every finished (mode, config, length) row is written out at once (atomically), so an
            // interrupted sweep leaves valid results.json / results.csv / README.md with the rows so far.
            func emit(_ row: BenchRow) throws {
                results.rows.append(row)
                refreshSteal()
                try writeTables(results, to: outDir)
            }
            if !noAggregated {
                try runAggregated(loaded: loaded, configs: configList, lengths: lengthList, texts: promptTexts,
                                  progress: &progress, emit: emit)
            }
            if let coordinator {
                try runCluster(coordinator: coordinator, configs: configList, lengths: lengthList,
                               files: promptFiles, scratch: promptDir, progress: &progress, emit: emit)
            }
            progress.finish()
            refreshSteal()
            results.complete = true
            try write(results, to: outDir)
        }
    }

    private func submitBinary() throws -> String {
        if let submitExecutable { return submitExecutable }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The baseline: the same prompts through the `generate` path in this process.
    private func runAggregated(loaded: LoadedModel, configs: [BenchConfig], lengths: [Int], texts: [Int: String],
                               progress: inout BenchProgress, emit: (BenchRow) throws -> Void) throws {
        let generator = Generator(loaded)
        let sampling = try SamplingParameters(maxTokens: maxTokens)
        func once(_ ids: [Int32], _ config: BenchConfig) throws -> BenchSample {
            let clock = ContinuousClock()
            let start = clock.now
            var pieces = 0
            var second: Double?
            let r = try generator.generate(promptTokens: ids, sampling: sampling, compression: config.compression) { _ in
                pieces += 1
                if pieces == 2 { second = (clock.now - start).milliseconds }
            }
            return BenchSample(promptTokens: r.promptTokens, ttftMs: r.timeToFirstTokenMilliseconds,
                               prefillMs: r.prefillMilliseconds, secondTokenMs: second,
                               decodeTokensPerSecond: r.decodeTokensPerSecond, endToEndMs: (clock.now - start).milliseconds)
        }
        let warm = try loaded.encodePrompt(texts[BenchPrompts.warmupTokens]!, chat: false)
        for c in configs { _ = try once(warm, c) }
        // Length-major: every config of one length runs back to back, so their ratios share the
        // machine's conditions even when a long sweep outlasts a quiet spell.
        for n in lengths {
            for c in configs {
                let ids = try loaded.encodePrompt(texts[n]!, chat: false)
                let clock = ContinuousClock(), t0 = clock.now
                var samples: [BenchSample] = []
                for _ in 0..<requests {
                    samples.append(try once(ids, c))
                    progress.step("aggregated \(c.label) N=\(n)")
                }
                try emit(BenchRow(mode: "aggregated", config: c, targetTokens: n, samples: samples, errors: 0,
                                  wallMs: (clock.now - t0).milliseconds))
            }
        }
    }

    private func runCluster(coordinator: String, configs: [BenchConfig], lengths: [Int], files: [Int: URL],
                            scratch: URL, progress: inout BenchProgress, emit: (BenchRow) throws -> Void) throws {
        let pool = SubmitProcessPool(executable: try submitBinary(), coordinator: coordinator, concurrency: concurrency,
                                     timeoutSeconds: timeout, scratchDirectory: scratch)
        let dtypeFlag = "--wire-dtype"
        func args(_ c: BenchConfig, _ n: Int, _ maxTokens: Int) -> [String] {
            ["--prompt-file", files[n]!.path, "--max-tokens", String(maxTokens), dtypeFlag, wireDType.lowercased()]
                + c.submitArguments
        }
        // Warm-up: one small request per config; a failure here means the cluster is not usable.
        let warm = try pool.run(configs.map { args($0, BenchPrompts.warmupTokens, 2) }) { _ in }
        for (c, o) in zip(configs, warm.outcomes) {
            if case let .failure(e) = o.result { throw BenchError.io("warm-up request for \(c.label) failed: \(e)") }
        }
        for n in lengths {
            for c in configs {
                let batch = try pool.run(Array(repeating: args(c, n, maxTokens), count: requests)) { _ in
                    progress.step("cluster \(c.label) N=\(n)")
                }
                var samples: [BenchSample] = [], errors = 0
                for o in batch.outcomes {
                    switch o.result {
                    case let .success(s): samples.append(s)
                    case let .failure(e):
                        errors += 1
                        progress.note("request failed (\(c.label), N=\(n)): \(e)")
                    }
                }
                try emit(BenchRow(mode: "cluster", config: c, targetTokens: n, samples: samples, errors: errors,
                                  wallMs: batch.wallMs))
            }
        }
    }

    /// results.json, results.csv, the chart data and README.md (no charts) for the rows so far. Each
    /// file is replaced atomically, so a reader (or an interrupted run) never sees a torn file.
    private func writeTables(_ results: BenchResults, to dir: URL, charts: [String] = []) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: dir.appendingPathComponent("results.json"), options: .atomic)
        try Data(BenchReport.csv(results.rows).utf8).write(to: dir.appendingPathComponent("results.csv"), options: .atomic)
        let all = BenchReport.chartData(results.rows)
        let wire = BenchReport.chartData(results.rows, where: { $0.wire_bytes_p50 != nil })
        try Data(all.text.utf8).write(to: dir.appendingPathComponent("chart-data.dat"), options: .atomic)
        try Data(wire.text.utf8).write(to: dir.appendingPathComponent("chart-wire.dat"), options: .atomic)
        try Data(BenchReport.readme(results, table: BenchReport.markdownTable(results.rows), charts: charts).utf8)
            .write(to: dir.appendingPathComponent("README.md"), options: .atomic)
    }

    /// The final write: the tables, then the charts, then README.md again naming them.
    private func write(_ results: BenchResults, to dir: URL) throws {
        try writeTables(results, to: dir)
        let all = BenchReport.chartData(results.rows)
        let wire = BenchReport.chartData(results.rows, where: { $0.wire_bytes_p50 != nil })
        let aggregatedCount = BenchReport.chartData(results.rows, where: { $0.mode == "aggregated" }).seriesCount
        let charts = renderCharts(dir: dir, seriesCount: all.seriesCount, wireSeriesCount: wire.seriesCount,
                                  aggregatedCount: aggregatedCount)
        if !charts.isEmpty { try writeTables(results, to: dir, charts: charts) }
        print(BenchReport.markdownTable(results.rows))
        printError("bench: wrote \(dir.path)/{README.md,results.json,results.csv\(charts.isEmpty ? "" : "," + charts.joined(separator: ","))}")
    }

    /// Runs gnuplot on the chart script; returns the chart files written (none if gnuplot is missing).
    private func renderCharts(dir: URL, seriesCount: Int, wireSeriesCount: Int, aggregatedCount: Int) -> [String] {
        guard seriesCount > 0 else { return [] }
        guard FileManager.default.fileExists(atPath: chartScript) else {
            printError("bench: no chart script at \(chartScript); skipping charts")
            return []
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["gnuplot", "-e", "datadir='\(dir.path)'; nseries=\(seriesCount); nwire=\(wireSeriesCount); nagg=\(aggregatedCount)", chartScript]
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch {
            printError("bench: cannot run gnuplot (apt-get install -y --no-install-recommends gnuplot-nox); skipping charts")
            return []
        }
        p.waitUntilExit()
        let names = ["ttft.svg", "ttft.png", "wire.svg", "wire.png"]
        let written = names.filter { FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }
        if p.terminationStatus != 0 || written.isEmpty {
            printError("bench: gnuplot failed (status \(p.terminationStatus)); charts may be missing")
        }
        return written
    }
}

/// Prompts of a given token length: seeded passkey filler, or a user's text cut or repeated.
struct BenchPrompts {
    static let warmupTokens = 64
    let loaded: LoadedModel
    let fileTokens: [Int32]?

    init(loaded: LoadedModel, promptFile: String?) throws {
        self.loaded = loaded
        if let promptFile {
            guard let data = FileManager.default.contents(atPath: promptFile), let text = String(data: data, encoding: .utf8),
                  !text.isEmpty else { throw EngineError.invalidRequest("cannot read a non-empty UTF-8 prompt file at \(promptFile)") }
            fileTokens = loaded.tokenizer.encode(text)
        } else {
            fileTokens = nil
        }
    }

    func text(tokens n: Int) throws -> String {
        if let fileTokens, !fileTokens.isEmpty {
            // Leave room for the BOS the coordinator may add.
            let ids = (0..<max(1, n - 1)).map { fileTokens[$0 % fileTokens.count] }
            return loaded.tokenizer.decode(ids)
        }
        // The passkey builder counts filler units, which undershoots by the template's tokens: ask
        // for more until the prompt (with BOS) is within 1% of n, never over it.
        let tokenizer = loaded.tokenizer
        var ask = n - 1, best = ""
        for _ in 0..<6 {
            let prompt = try RetrievalTask.passkey(tokens: ask, depth: 0.5, seed: UInt64(n)) { tokenizer.encode($0).count }.prompt
            let count = try loaded.encodePrompt(prompt, chat: false).count
            if count <= n { best = prompt } else { break }
            if n - count <= max(2, n / 100) { break }
            ask += n - count
        }
        if best.isEmpty {
            // Shorter than the passkey template itself (the warm-up prompt): plain filler.
            let unit = tokenizer.encode(RetrievalTask.defaultPasskeyFiller)
            return tokenizer.decode((0..<max(1, n - 1)).map { unit[$0 % unit.count] })
        }
        return best
    }
}

/// A progress bar on a terminal, plain lines otherwise (logs, CI).
struct BenchProgress {
    let total: Int
    let isTerminal = isatty(2) != 0
    var done = 0
    let start = ContinuousClock.now

    init(total: Int) { self.total = total }

    mutating func step(_ label: String) {
        done += 1
        let elapsed = (ContinuousClock.now - start).milliseconds / 1000
        if isTerminal {
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r\u{1B}[K[%@] %d/%d %.0fs %@", bar, done, total, elapsed, label).utf8))
        } else {
            printError(String(format: "bench: %d/%d (%.0fs) %@", done, total, elapsed, label))
        }
    }

    func note(_ message: String) {
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        printError("bench: " + message)
    }

    func finish() { if isTerminal && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) } }
}
