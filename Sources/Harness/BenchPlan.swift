import Foundation
import RequestVocabulary

/// What one `fastkv bench` sweep runs: every (config, length) batch through the cluster and/or the
/// aggregated baseline, and where the results go. A plan that exists is valid: the initializer checks
/// every rule that does not need the model (`BenchSweep` checks the rest).
public struct BenchPlan: Sendable {
    /// The coordinator's endpoint; nil runs only the aggregated baseline.
    public let coordinator: String?
    /// Prompt lengths in tokens.
    public let lengths: [Int]
    public let configs: [BenchConfig]
    /// Requests per config and length.
    public let requests: Int
    /// Cluster requests in flight at once (submit processes).
    public let concurrency: Int
    /// Tokens generated per request.
    public let maxTokens: Int
    public let wireDType: WireDType
    /// The cluster's per-request deadline (submit's `--timeout`).
    public let timeoutSeconds: Double
    /// results.json, results.csv, README.md, the chart data and charts, and `prompts/`.
    public let outputDirectory: URL
    /// Build prompts from this text (cut or repeated to each length) instead of passkey filler.
    public let promptFile: String?
    /// The model that tokenizes the prompts and runs the baseline (recorded in the results).
    public let modelPath: String
    public let runsAggregated: Bool
    /// The fastkv binary whose `submit` sends the cluster requests; required with a coordinator.
    public let submitExecutable: String?
    /// The gnuplot script that draws the charts.
    public let chartScript: String

    public init(coordinator: String?, lengths: [Int], configs: [BenchConfig], requests: Int, concurrency: Int,
                maxTokens: Int, wireDType: WireDType, timeoutSeconds: Double, outputDirectory: URL,
                promptFile: String?, modelPath: String, runsAggregated: Bool, submitExecutable: String?,
                chartScript: String) throws(HarnessError) {
        guard !lengths.isEmpty, lengths.allSatisfy({ $0 > 0 }) else {
            throw .invalid(.lengths, "takes positive prompt lengths, got \(lengths)")
        }
        guard !configs.isEmpty else { throw .invalid(.configs, "is empty") }
        guard requests >= 1 else { throw .invalid(.requests, "must be ≥ 1") }
        guard (1...256).contains(concurrency) else { throw .invalid(.concurrency, "must be in 1...256") }
        guard maxTokens >= 1 else { throw .invalid(.maxTokens, "must be ≥ 1") }
        // submit takes deadlines below a day; a longer one would fail every request.
        guard timeoutSeconds > 0, timeoutSeconds < 86_400 else { throw .invalid(.timeout, "must be in (0, 86400) seconds") }
        if coordinator == nil && !runsAggregated { throw .nothingToRun }
        if coordinator != nil && submitExecutable == nil {
            throw .invalid(.coordinator, "needs the fastkv binary that runs submit")
        }
        self.coordinator = coordinator
        self.lengths = lengths
        self.configs = configs
        self.requests = requests
        self.concurrency = concurrency
        self.maxTokens = maxTokens
        self.wireDType = wireDType
        self.timeoutSeconds = timeoutSeconds
        self.outputDirectory = outputDirectory
        self.promptFile = promptFile
        self.modelPath = modelPath
        self.runsAggregated = runsAggregated
        self.submitExecutable = submitExecutable
        self.chartScript = chartScript
    }

    /// The modes that run, in order: the baseline first, so the two never compete for the CPUs.
    public var modes: [BenchMode] { (runsAggregated ? [.aggregated] : []) + (coordinator == nil ? [] : [.cluster]) }

    /// One row per (mode, config, length).
    public var expectedRowCount: Int { modes.count * configs.count * lengths.count }

    /// Measured requests in the whole sweep (warm-ups not counted).
    public var requestCount: Int { expectedRowCount * requests }
}
