import CKernels
import Foundation
import Tensors

/// Naive references for the C kernels: plain loops, Double accumulation, nothing shared with the
/// code under test. Each kernel test runs once per kernel path this CPU supports
/// (`KernelPath.supported`), forcing it for the test's own thread with `KernelPath.withPath`.
enum KernelReference {
    /// C[i][j] = Σ_p a[i·lda + p]·w[j·k + p] (+ c[i][j] when accumulating), and Σ_p |a·w| per output
    /// (the scale of the rounding error a float kernel may make).
    static func gemm(m: Int, n: Int, k: Int, a: [Float], lda: Int, w: [Float], c: [Float], ldc: Int,
                     accumulate: Bool) -> (values: [Double], magnitude: [Double]) {
        var values = [Double](repeating: 0, count: m * n), magnitude = values
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, mag = 0.0
                for p in 0..<k {
                    let t = Double(a[i * lda + p]) * Double(w[j * k + p])
                    s += t
                    mag += abs(t)
                }
                if accumulate { s += Double(c[i * ldc + j]); mag += abs(Double(c[i * ldc + j])) }
                values[i * n + j] = s
                magnitude[i * n + j] = mag
            }
        }
        return (values, magnitude)
    }

    /// Attention statistics of one head over keys [len][d]: the max score, Σ e^{s − max}, and the
    /// normalised output softmax(s)·V [d].
    static func attention(q: ArraySlice<Float>, k: [Float], v: [Float], len: Int, d: Int,
                          scale: Float) -> (max: Double, sum: Double, out: [Double]) {
        let q = Array(q)
        var scores = [Double](repeating: 0, count: len)
        for j in 0..<len {
            var s = 0.0
            for c in 0..<d { s += Double(q[c]) * Double(k[j * d + c]) }
            scores[j] = s * Double(scale)
        }
        let mx = scores.max() ?? -.infinity
        var sum = 0.0
        var out = [Double](repeating: 0, count: d)
        for j in 0..<len {
            let p = exp(scores[j] - mx)
            sum += p
            for c in 0..<d { out[c] += p * Double(v[j * d + c]) }
        }
        if sum > 0 { for c in 0..<d { out[c] /= sum } }
        return (mx, sum, out)
    }

    /// Largest |got − want| and the index where it occurs.
    static func worst(_ got: [Float], _ want: [Double]) -> (diff: Double, index: Int) {
        precondition(got.count == want.count)
        var diff = 0.0, index = 0
        for i in got.indices where !(abs(Double(got[i]) - want[i]) <= diff) {
            diff = abs(Double(got[i]) - want[i])
            index = i
        }
        return (diff, index)
    }
}

/// Weights of one format as a checkpoint holds them, with the values they stand for, built from
/// random codes and scales (what a quantiser would emit) and decoded here, independently of the C
/// dequantisers.
struct EncodedWeights {
    var bytes: [UInt8] = []
    var values: [Float] = []   // [rows][cols], row-major

    init(format: fkv_format, rows: Int, cols: Int, seed: UInt64) {
        var rng = KernelRandom(seed)
        func half(_ x: Float) -> (UInt16, Float) { let h = Float16(x); return (h.bitPattern, Float(h)) }
        func put16(_ v: UInt16) { bytes.append(UInt8(v & 0xff)); bytes.append(UInt8(v >> 8)) }
        for _ in 0..<rows {
            switch format {
            case FKV_F32:
                for _ in 0..<cols {
                    let x = rng.float(0.5)
                    withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                    values.append(x)
                }
            case FKV_F16:
                for _ in 0..<cols { let (b, v) = half(rng.float(0.5)); put16(b); values.append(v) }
            case FKV_BF16:
                for _ in 0..<cols {
                    let b = UInt16(rng.float(0.5).bitPattern >> 16)
                    put16(b)
                    values.append(Float(bitPattern: UInt32(b) << 16))
                }
            case FKV_Q8_0:
                for _ in 0..<(cols / 32) {
                    let (db, d) = half(abs(rng.float(0.02)) + 0.001)
                    put16(db)
                    for _ in 0..<32 {
                        let q = Int8(bitPattern: rng.byte())
                        bytes.append(UInt8(bitPattern: q))
                        values.append(Float(q) * d)
                    }
                }
            default:   // Q4_0, Q4_1: 16 bytes of nibbles, low nibbles are weights 0-15, high 16-31
                let q41 = format == FKV_Q4_1
                for _ in 0..<(cols / 32) {
                    let (db, d) = half(abs(rng.float(0.05)) + 0.001)
                    let (mb, m) = half(rng.float(0.3))
                    put16(db)
                    if q41 { put16(mb) }
                    let qs = (0..<16).map { _ in rng.byte() }
                    bytes.append(contentsOf: qs)
                    var block = [Float](repeating: 0, count: 32)
                    for i in 0..<16 {
                        let lo = Float(qs[i] & 0x0f), hi = Float(qs[i] >> 4)
                        block[i] = q41 ? lo * d + m : (lo - 8) * d
                        block[i + 16] = q41 ? hi * d + m : (hi - 8) * d
                    }
                    values.append(contentsOf: block)
                }
            }
        }
    }
}

/// A small deterministic generator for test data (splitmix64).
struct KernelRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-scale, scale).
    mutating func float(_ scale: Float = 1) -> Float { (Float(next() >> 40) / Float(1 << 24) * 2 - 1) * scale }
    mutating func floats(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in float(scale) } }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Formats by name, for test arguments that print readably.
enum WeightFormatName: String, CaseIterable, Sendable {
    case f32, f16, bf16, q8_0, q4_0, q4_1
    var format: fkv_format {
        switch self {
        case .f32: FKV_F32
        case .f16: FKV_F16
        case .bf16: FKV_BF16
        case .q8_0: FKV_Q8_0
        case .q4_0: FKV_Q4_0
        case .q4_1: FKV_Q4_1
        }
    }
    var isBlock: Bool { self != .f32 && self != .f16 && self != .bf16 }
}
