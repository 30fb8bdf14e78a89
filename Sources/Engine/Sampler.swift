import RequestVocabulary
import Tensors
import Foundation

/// Picks the next token from logits. Greedy ties break toward the lower id (like torch.argmax).
/// With a temperature, top-k then top-p filter the distribution and a seeded xoshiro256** stream
/// draws from it, so a seed reproduces a run exactly.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: Xoshiro256

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        // No seed: draw one from system entropy, as OpenAI-style servers do; a seed reproduces a run.
        rng = Xoshiro256(seed: parameters.seed ?? UInt64.random(in: .min ... .max))
    }

    public mutating func next(_ logits: [Float]) -> Int32 {
        if parameters.isGreedy { return Self.argmax(logits) }
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
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
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
