import Tensors
import Foundation

/// Naive reference code the kernels are checked against (plain loops, Double accumulation).
enum Reference {
    static func rmsNorm(_ x: [Float], weight: [Float], epsilon: Float) -> [Float] {
        let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let s = 1 / (ms + Double(epsilon)).squareRoot()
        return zip(x, weight).map { Float(Double($0) * s * Double($1)) }
    }

    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max()!
        let e = x.map { exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }

    /// Causal GQA attention. q: [n][H·d], k/v: [n][Hk·d] → [n][H·d].
    static func attention(q: [[Float]], k: [[Float]], v: [[Float]], heads: Int, kvHeads: Int, d: Int) -> [[Float]] {
        let n = q.count, group = heads / kvHeads
        var out = Array(repeating: Array(repeating: Float(0), count: heads * d), count: n)
        for i in 0..<n {
            for h in 0..<heads {
                let kh = h / group
                var scores: [Float] = []
                for j in 0...i {
                    var dot = 0.0
                    for c in 0..<d { dot += Double(q[i][h * d + c]) * Double(k[j][kh * d + c]) }
                    scores.append(Float(dot / Double(d).squareRoot()))
                }
                let p = softmax(scores)
                for c in 0..<d {
                    var acc = 0.0
                    for j in 0...i { acc += Double(p[j]) * Double(v[j][kh * d + c]) }
                    out[i][h * d + c] = Float(acc)
                }
            }
        }
        return out
    }

    static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}

/// A small deterministic generator for test data (Tensors' SplitMix64 with test helpers).
struct TestRandom {
    var generator: SplitMix64
    init(_ seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func floats(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
