/// SplitMix64 (Steele, Lea and Flood; public domain): a tiny, fast, seedable generator. It seeds the
/// sampler's xoshiro256** and makes the deterministic random inputs of benchmarks and tests, so a
/// seed reproduces a run everywhere it is used.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (exact in f32), for test and benchmark tensors.
    public mutating func nextUnit() -> Float { Float(next() >> 40) * 0x1p-24 }
    /// Uniform in [-1, 1).
    public mutating func nextSigned() -> Float { 2 * nextUnit() - 1 }
}
