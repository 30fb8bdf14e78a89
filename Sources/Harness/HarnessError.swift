import RequestVocabulary

/// Everything the harness rejects or that goes wrong while it runs. Messages name the setting by the
/// flag users type, so the CLI can print them as they are (`ValidationError` in `validate()`, one
/// line on stderr in `run()`).
public enum HarnessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A setting that breaks its rule: `--requests must be ≥ 1`.
    case invalid(Setting, String)
    /// One `--configs` entry that does not parse; `entry` is the text as given (trimmed).
    case invalidConfigEntry(entry: String, ConfigEntryProblem)
    /// Knobs that are valid on their own but not for this method on this model (`validate(layerCount:)`).
    case unsupportedKnobs(CompressionMethod, RequestError)
    /// Neither the cluster nor the aggregated baseline is asked for.
    case nothingToRun
    /// A prompt length (plus the tokens generated after it) that does not fit the model.
    case exceedsContext(length: Int, extra: Int, extraSetting: Setting?, contextLength: Int)
    case unreadablePromptFile(path: String)
    /// `fastkv submit` exited 0 but its last stdout line is not a usable JSON report.
    case badSubmitOutput(String)
    /// `fastkv submit` exited non-zero; `stderr` is the end of what it printed.
    case submitFailed(status: Int32, stderr: String)
    case cannotStart(executable: String, reason: String)
    /// The cluster failed the one small warm-up request of a config, so it is not usable.
    case warmUpFailed(config: String, reason: String)
    /// `fastkv headscores`: no needle trial was answered right, so no head has evidence.
    case noTrialAnswered(attempted: Int)
    /// A filler of `eval suite` that cannot be read (`dict-devil` not installed, say).
    case fillerUnavailable(filler: String, path: String, reason: String)
    /// An `eval suite` output folder whose results.json cannot be resumed (other settings, or unreadable).
    case cannotResume(path: String, reason: String)
    /// A folder given to `eval suite-table` has no readable results.json.
    case unreadableResults(path: String, reason: String)

    /// The harness settings, spelled as their flags.
    public enum Setting: String, Sendable, Hashable, CaseIterable {
        case lengths, decodeContexts = "decode-contexts", configs, methods, depths, coordinator
        case requests, concurrency, maxTokens = "max-tokens", timeout, runs, decodeTokens = "decode-tokens"
        case batchSequences = "batch-sequences", batchContext = "batch-context"
        case tasks, fillers, templates, samples, kvRate = "kv-rate", kvBudget = "kv-budget", tspLength = "tsp-len"

        public var flag: String { "--" + rawValue }
    }

    /// What is wrong with one `--configs` entry.
    public enum ConfigEntryProblem: Sendable, Hashable, CustomStringConvertible {
        /// Not `method[:kv_rate[:tsp_rate]]`, or an unknown method.
        case syntax
        /// A rate that is not a number; `rate` is `kv_rate` or `tsp_rate`.
        case notANumber(rate: String, found: String)
        case fullTakesNoRates
        case tspRateNeedsFastKV
        /// A knob outside its range, as `CompressionConfig` reports it.
        case knob(RequestError)

        public var description: String {
            switch self {
            case .syntax: "expected method[:kv_rate[:tsp_rate]] with method one of \(CompressionMethod.choices)"
            case let .notANumber(rate, found): "\(rate) must be a number, got '\(found)'"
            case .fullTakesNoRates: "full keeps every KV entry and takes no rates"
            case .tspRateNeedsFastKV: "tsp_rate applies to fastkv only"
            case let .knob(error): "\(error)"
            }
        }
    }

    public var description: String {
        switch self {
        case let .invalid(setting, message): "\(setting.flag) \(message)"
        case let .invalidConfigEntry(entry, problem): "--configs entry '\(entry)': \(problem)"
        case let .unsupportedKnobs(method, error): "\(error) (method \(method.rawValue))"
        case .nothingToRun: "nothing to run: give --coordinator or drop --no-aggregated"
        case let .exceedsContext(length, extra, extraSetting, contextLength):
            "length \(length)\(extraSetting.map { " + \($0.flag) \(extra)" } ?? "") exceeds the model's context of \(contextLength)"
        case let .unreadablePromptFile(path): "cannot read a non-empty UTF-8 prompt file at \(path)"
        case let .badSubmitOutput(message): "fastkv submit printed unusable output: \(message)"
        case let .submitFailed(status, stderr): "fastkv submit exited with status \(status): \(stderr)"
        case let .cannotStart(executable, reason): "cannot start \(executable): \(reason)"
        case let .warmUpFailed(config, reason): "warm-up request for \(config) failed: \(reason)"
        case let .noTrialAnswered(attempted):
            "none of the \(attempted) needle trials was answered correctly, so no head has evidence; "
                + "try other --lengths, or --score-all-trials for a model that cannot retrieve"
        case let .fillerUnavailable(filler, path, reason): "filler \(filler) (\(path)): \(reason)"
        case let .cannotResume(path, reason): "cannot resume \(path): \(reason)"
        case let .unreadableResults(path, reason): "cannot read suite results \(path): \(reason)"
        }
    }
}
