/// A request knob that fails its rule. The same error reaches a CLI user (who reads the flag), an
/// HTTP client (who reads the JSON field) and a log (which shows both).
public enum RequestError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(Knob, String)

    /// Every knob a request has, with its two spellings.
    public enum Knob: String, Sendable, Hashable, CaseIterable {
        case method, kvRate = "kv_rate", kvBudget = "kv_budget", tspRate = "tsp_rate", tspLength = "tsp_len"
        case tspLayer = "tsp_layer", window, kernel, pooling
        case adaAlpha = "ada_alpha", headkvBeta = "headkv_beta", headkvTemperature = "headkv_temperature"
        case temperature, topK = "top_k", topP = "top_p", seed, maxTokens = "max_tokens", stop
        case wireDType = "wire_dtype", prompt, timeout

        /// The JSON field name.
        public var field: String { rawValue }
        /// The CLI flag.
        public var flag: String { "--" + String(rawValue.map { $0 == "_" ? "-" : $0 }) }
    }

    public var knob: Knob {
        switch self { case .invalid(let k, _): k }
    }

    public var description: String {
        switch self {
        case .invalid(let knob, let message): "\(knob.field) (\(knob.flag)) \(message)"
        }
    }
}
