import ArgumentParser
import Foundation
import Harness
import RequestVocabulary

/// `fastkv eval suite`: the RULER-style synthetic tasks, every method at every budget, into a
/// results folder like the bench's (resumable).
struct SuiteEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "RULER-style long-context tasks × methods × KV budgets, with full-KV ceilings, chance levels and 95 % intervals.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Tasks (\(SuiteTask.choices)).") var tasks: String = SuiteTask.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Context lengths in tokens (the model's tokenizer).") var lengths: String = "1024,2048,4096,8000"
    @Option(help: "Prompt templates: plain, chat.") var templates: String = "plain,chat"
    @Option(help: "Fillers the samples take in turn (\(SuiteFiller.choices)).") var fillers: String = "noise,devil,words"
    @Option(help: "Samples per (task, length, template) cell.") var samples: Int = 20
    @Option(help: "Seed of every generated prompt.") var seed: UInt64 = 1
    @Option(help: "Methods (full always runs: it is the ceiling).")
    var methods: String = CompressionMethod.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "KV retain rates r, comma-separated (C = ⌊n·r⌋ per layer).") var kvRate: String = "0.02,0.05,0.1,0.2"
    @Option(help: "Constant KV budgets C in entries per layer, comma-separated (\"\" for none).") var kvBudget: String = "128,256,512"
    @Option(help: "FastKV's TSP rate ρ at the proportional budgets (--kv-rate).") var tspRate: Double = CompressionConfig.Defaults.tspRate
    @Option(help: "FastKV's propagated tokens n_T at the constant budgets (--kv-budget; the spec's constant mode).")
    var tspLen: Int = SuitePlan.defaultConstantTSPLength
    @Option(help: "TSP layer ℓ_T (also GemFilter's filter layer); default L/2 − 1.") var tspLayer: Int?
    @Option(help: "Observation window w.") var window: Int = CompressionConfig.Defaults.windowSize
    @Option(help: "Pooling kernel size (odd).") var kernel: Int = CompressionConfig.Defaults.kernelSize
    @Option(help: "Pooling of the window scores.") var pooling: Pooling = CompressionConfig.Defaults.pooling
    @OptionGroup var baselineKnobs: BaselineKnobOptions
    @Option(help: "Output folder (rerunning into it resumes).") var out: String = "runs/suite"
    @Option(help: "gnuplot script for the charts.") var chartScript: String = "scripts/suite-charts.gp"

    func plan() throws -> SuitePlan {
        func names<T: RawRepresentable>(_ text: String, _ type: T.Type, _ setting: HarnessError.Setting, _ choices: String) throws(HarnessError) -> [T] where T.RawValue == String {
            try text.split(separator: ",").map { item throws(HarnessError) in
                let s = item.trimmingCharacters(in: .whitespaces).lowercased()
                guard let v = T(rawValue: s) else { throw .invalid(setting, "names an unknown item '\(s)' (use \(choices))") }
                return v
            }
        }
        let rates = try kvRate.split(separator: ",").map { item throws(HarnessError) -> Double in
            guard let r = Double(item.trimmingCharacters(in: .whitespaces)) else {
                throw .invalid(.kvRate, "takes comma-separated numbers, got '\(item)'")
            }
            return r
        }
        let budgets = try ListArgument.positiveIntegersOrNone(kvBudget, for: .kvBudget)
        let knobs: CompressionConfig
        do {
            knobs = try CompressionConfig(method: .fastKV, tspRate: tspRate, tspLayer: tspLayer,
                                          windowSize: window, kernelSize: kernel, pooling: pooling,
                                          adaAlpha: baselineKnobs.adaAlphaValue, headKVBeta: baselineKnobs.headkvBetaValue,
                                          headKVTemperature: baselineKnobs.headkvTemperatureValue)
        } catch { throw ValidationError("\(error)") }
        return try SuitePlan(tasks: names(tasks, SuiteTask.self, .tasks, SuiteTask.choices),
                             lengths: ListArgument.positiveIntegers(lengths, for: .lengths),
                             templates: names(templates, SuiteTemplate.self, .templates, "plain, chat"),
                             fillers: names(fillers, SuiteFiller.self, .fillers, SuiteFiller.choices),
                             samples: samples, seed: seed, methods: ListArgument.methods(methods),
                             kvRates: rates, kvBudgets: budgets, knobs: knobs, constantTSPLength: tspLen)
    }

    func run() throws {
        try runReportingErrors {
            let plan = try plan()
            let fillerTexts = try plan.fillers.map { f throws(HarnessError) in try FillerText.load(f) }
            let loaded = try modelOptions.load()
            let runner = try SuiteRunner(model: loaded, plan: plan, fillers: fillerTexts)
            let output = try SuiteOutput(directory: URL(fileURLWithPath: out))
            printError("suite: \(plan.cells.count) cells × \(runner.entries.count) methods and budgets, \(plan.samples) samples each, into \(out)")
            let (results, charts) = try runner.run(into: output, chartScript: chartScript) { printError($0) }
            for w in charts.warnings { printError("suite: warning: \(w)") }
            print(SuiteReport.readme(results, charts: charts.files))
        }
    }
}
