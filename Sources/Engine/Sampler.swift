import Foundation

/// Sampling settings of one request.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// 0 means greedy (argmax), which is the default.
    public var temperature: Float = 0
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public var topP: Float = 1
    public var seed: UInt64 = 0
    public var maxTokens: Int = 128
    /// Generation stops when the text contains one of these; the stop string itself is not returned.
    public var stopStrings: [String] = []
    /// Stop at the model's end-of-sequence tokens.
    public var stopAtEOS: Bool = true

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0, maxTokens: Int = 128,
                stopStrings: [String] = [], stopAtEOS: Bool = true) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.maxTokens = maxTokens
        self.stopStrings = stopStrings
        self.stopAtEOS = stopAtEOS
    }

    /// Checks ranges; the message names the bad field.
    public func validate() throws {
        func bad(_ message: String) -> EngineError { .invalidRequest(message) }
        guard temperature.isFinite, temperature >= 0 else { throw bad("temperature must be ≥ 0, got \(temperature)") }
        guard topK >= 0 else { throw bad("top-k must be ≥ 0, got \(topK)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw bad("top-p must be in (0, 1], got \(topP)") }
        guard maxTokens >= 1 else { throw bad("max tokens must be ≥ 1, got \(maxTokens)") }
        guard !stopStrings.contains("") else { throw bad("stop strings must not be empty") }
    }
}

/// Picks the next token from logits. Greedy ties break toward the lower id (like torch.argmax).
/// With a temperature, top-k then top-p filter the distribution and a seeded xoshiro256** stream
/// draws from it, so a seed reproduces a run exactly.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: Xoshiro256

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = Xoshiro256(seed: parameters.seed)
    }

    public mutating func next(_ logits: [Float]) -> Int32 {
        if parameters.temperature == 0 || parameters.topK == 1 { return Self.argmax(logits) }
        var order = Array(logits.indices)
        if parameters.topK > 0 && parameters.topK < logits.count {
            order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            order.removeSubrange(parameters.topK...)
        } else {
            order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        }
        let t = parameters.temperature
        let top = logits[order[0]]
        var probs = order.map { exp(Double((logits[$0] - top) / t)) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if parameters.topP < 1 {
            var cumulative = 0.0
            var keep = probs.count
            for (i, p) in probs.enumerated() {
                cumulative += p
                if cumulative >= Double(parameters.topP) { keep = i + 1; break }
            }
            probs.removeSubrange(keep...)
            order.removeSubrange(keep...)
        }
        let mass = probs.reduce(0, +)
        var u = rng.nextUnitDouble() * mass
        for (i, p) in probs.enumerated() {
            u -= p
            if u < 0 { return Int32(order[i]) }
        }
        return Int32(order[probs.count - 1])
    }

    public static func argmax(_ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return Int32(best)
    }
}

/// xoshiro256** seeded through SplitMix64 (public-domain algorithms by Blackman and Vigna).
struct Xoshiro256: Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 bits.
    mutating func nextUnitDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
