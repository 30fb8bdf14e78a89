import Foundation
import RequestVocabulary

/// What `eval suite` runs: the grid of cells and the methods with their budgets. Stored in
/// results.json; a rerun into the same folder resumes only under the same plan.
public struct SuitePlan: Codable, Sendable, Equatable {
    public var tasks: [SuiteTask]
    public var lengths: [Int]
    public var templates: [SuiteTemplate]
    public var fillers: [SuiteFiller]
    public var samples: Int
    public var seed: UInt64
    public var methods: [CompressionMethod]
    /// Proportional budgets r (C = ⌊n·r⌋) and constant budgets C; every method but full runs at each.
    public var kv_rates: [Double]
    public var kv_budgets: [Int]
    /// The other knobs, the same for every method (FastKV's ρ and ℓ_T; w, kernel, pooling; AdaKV's α,
    /// HeadKV's β and temperature). ρ serves
    /// the proportional budgets; `knobs.tspLength` is unused (see `constant_tsp_len`).
    public var knobs: CompressionConfig
    /// FastKV's propagated tokens n_T at the constant budgets: the spec's constant mode pairs a constant
    /// KV budget with a constant tsp_len (2048 in the paper's first version), as the proportional
    /// budgets pair r with ρ. At N ≤ n_T no token is dropped at the TSP layer (spec §5, case 3).
    public var constant_tsp_len: Int
    /// Cells whose full-KV score is below chance + this are near chance (left out of averages).
    public var chance_margin: Double

    public static let defaultChanceMargin = 0.1
    /// The spec's tsp_len in constant mode.
    public static let defaultConstantTSPLength = 2048

    public init(tasks: [SuiteTask], lengths: [Int], templates: [SuiteTemplate], fillers: [SuiteFiller], samples: Int,
                seed: UInt64, methods: [CompressionMethod], kvRates: [Double], kvBudgets: [Int], knobs: CompressionConfig,
                constantTSPLength: Int = defaultConstantTSPLength, chanceMargin: Double = defaultChanceMargin) throws(HarnessError) {
        guard !tasks.isEmpty else { throw .invalid(.tasks, "is empty (use \(SuiteTask.choices))") }
        guard !templates.isEmpty else { throw .invalid(.templates, "is empty (use plain, chat)") }
        guard !fillers.isEmpty else { throw .invalid(.fillers, "is empty (use \(SuiteFiller.choices))") }
        guard samples >= 1 else { throw .invalid(.samples, "must be ≥ 1") }
        guard !lengths.isEmpty, lengths.allSatisfy({ $0 >= 64 }) else { throw .invalid(.lengths, "must be ≥ 64 tokens each") }
        guard methods.contains(where: { $0 != .full }) ? !(kvRates.isEmpty && kvBudgets.isEmpty) : true else {
            throw .invalid(.kvRate, "and --kv-budget are both empty: the compressing methods need a budget")
        }
        for r in kvRates where !(r > 0 && r <= 1) { throw .invalid(.kvRate, "must be in (0, 1], got \(r)") }
        for c in kvBudgets where c < 1 { throw .invalid(.kvBudget, "must be ≥ 1, got \(c)") }
        guard constantTSPLength >= 1 else { throw .invalid(.tspLength, "must be ≥ 1, got \(constantTSPLength)") }
        self.tasks = tasks
        self.lengths = lengths.sorted()
        self.templates = templates
        self.fillers = fillers
        self.samples = samples
        self.seed = seed
        // Full KV is every cell's ceiling, so it always runs, first.
        self.methods = [.full] + methods.filter { $0 != .full }
        kv_rates = kvRates
        kv_budgets = kvBudgets
        self.knobs = knobs
        constant_tsp_len = constantTSPLength
        chance_margin = chanceMargin
    }

    /// One method at one budget.
    public struct Entry: Sendable, Equatable {
        public var label: String
        public var config: CompressionConfig
    }

    /// Every (method, budget), full first; each checked against the model.
    public func entries(layerCount: Int) throws(HarnessError) -> [Entry] {
        var out: [Entry] = []
        for method in methods {
            if method == .full { out.append(Entry(label: "full", config: .full)); continue }
            let budgets: [(String, Double, Int?)] = kv_rates.map { ("r=\(Self.format($0))", $0, nil) }
                + kv_budgets.map { ("C=\($0)", CompressionConfig.Defaults.retainRate, $0) }
            for (name, rate, budget) in budgets {
                let config: CompressionConfig
                do throws(RequestError) {
                    config = try CompressionConfig(method: method, retainRate: rate, kvBudget: budget, tspRate: knobs.tspRate,
                                                   tspLength: budget == nil ? nil : constant_tsp_len, tspLayer: knobs.tspLayer,
                                                   windowSize: knobs.windowSize, kernelSize: knobs.kernelSize,
                                                   pooling: knobs.pooling, adaAlpha: knobs.adaAlpha,
                                                   headKVBeta: knobs.headKVBeta, headKVTemperature: knobs.headKVTemperature)
                    try config.validate(layerCount: layerCount)
                } catch { throw .unsupportedKnobs(method, error) }
                out.append(Entry(label: "\(method.rawValue) \(name)", config: config))
            }
        }
        return out
    }

    /// Cells in run order: lengths ascending, then tasks, then templates.
    public var cells: [(task: SuiteTask, length: Int, template: SuiteTemplate)] {
        lengths.flatMap { length in tasks.flatMap { task in templates.map { (task, length, $0) } } }
    }

    static func format(_ x: Double) -> String {
        var s = String(format: "%.4f", x)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
