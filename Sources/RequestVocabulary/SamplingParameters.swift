/// How the next token is chosen and when generation stops, for one request. Validated once, in the
/// initializer; the wire, the CLI and the HTTP API build it the same way.
public struct SamplingParameters: Sendable, Hashable {
    public enum Defaults {
        public static let maxTokens = 128
    }

    /// 0 means greedy (argmax), the default.
    public let temperature: Float
    /// Keep only the k most likely tokens (0 = off).
    public let topK: Int
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public let topP: Float
    /// The random stream's seed; nil = seeded from system entropy (not reproducible).
    public let seed: UInt64?
    /// Tokens to generate (the first one comes from prefill).
    public let maxTokens: Int
    /// Generation stops when the text contains one of these; the stop string itself is not returned.
    public let stopStrings: [String]
    /// Stop at the model's end-of-sequence tokens.
    public let stopAtEOS: Bool

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64? = nil,
                maxTokens: Int = Defaults.maxTokens, stopStrings: [String] = [], stopAtEOS: Bool = true)
        throws(RequestError) {
        guard temperature.isFinite, temperature >= 0 else {
            throw .invalid(.temperature, "must be a finite number ≥ 0, got \(temperature)")
        }
        guard topK >= 0 else { throw .invalid(.topK, "must be ≥ 0, got \(topK)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw .invalid(.topP, "must be in (0, 1], got \(topP)") }
        guard maxTokens >= 1 else { throw .invalid(.maxTokens, "must be ≥ 1, got \(maxTokens)") }
        guard !stopStrings.contains("") else { throw .invalid(.stop, "stop strings must not be empty") }
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.stopAtEOS = stopAtEOS
    }

    /// Greedy decoding of the default length.
    public static let greedy = try! SamplingParameters()

    /// Whether the choice of token depends on random draws.
    public var isGreedy: Bool { temperature == 0 || topK == 1 }
}
