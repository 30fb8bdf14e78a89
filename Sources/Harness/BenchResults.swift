import RequestVocabulary

/// Everything a bench run produced; written as results.json (keys are the output contract).
public struct BenchResults: Codable, Sendable, Equatable {
    public struct Machine: Codable, Sendable, Equatable {
        public var nproc: Int
        public var cpu_model: String
        public var memory_bytes: Int
        /// The share of CPU time the hypervisor gave to others while the run went (from /proc/stat).
        public var cpu_steal_share_during_run: Double?

        public init(nproc: Int, cpu_model: String, memory_bytes: Int, cpu_steal_share_during_run: Double? = nil) {
            self.nproc = nproc
            self.cpu_model = cpu_model
            self.memory_bytes = memory_bytes
            self.cpu_steal_share_during_run = cpu_steal_share_during_run
        }
    }

    /// The plan as run.
    public struct Settings: Codable, Sendable, Equatable {
        public var coordinator: String?
        public var lengths: [Int]
        /// The configs' labels.
        public var configs: [String]
        public var requests: Int
        public var concurrency: Int
        public var max_tokens: Int
        public var wire_dtype: WireDType
        /// Where the prompt text came from.
        public var prompt: String
        /// The model of the aggregated baseline; nil when the baseline did not run.
        public var aggregated_model: String?
        /// The binary that ran `submit`; nil without a cluster.
        public var submit_executable: String?

        public init(_ plan: BenchPlan) {
            coordinator = plan.coordinator
            lengths = plan.lengths
            configs = plan.configs.map(\.label)
            requests = plan.requests
            concurrency = plan.concurrency
            max_tokens = plan.maxTokens
            wire_dtype = plan.wireDType
            prompt = plan.promptFile.map { "file \($0)" } ?? "passkey filler (seeded per length, needle at depth 0.5)"
            aggregated_model = plan.runsAggregated ? plan.modelPath : nil
            submit_executable = plan.coordinator == nil ? nil : plan.submitExecutable
        }
    }

    public var commit: String?
    public var date: String
    /// false while the sweep runs (and in the files an interrupted sweep leaves): `rows` holds the
    /// rows finished so far, out of `rows_expected`.
    public var complete: Bool
    public var rows_expected: Int
    public var machine: Machine
    public var settings: Settings
    public var rows: [BenchRow]

    public init(commit: String?, date: String, complete: Bool = false, rows_expected: Int, machine: Machine,
                settings: Settings, rows: [BenchRow] = []) {
        self.commit = commit
        self.date = date
        self.complete = complete
        self.rows_expected = rows_expected
        self.machine = machine
        self.settings = settings
        self.rows = rows
    }
}
