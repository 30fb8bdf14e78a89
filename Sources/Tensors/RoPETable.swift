#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Precomputed cos/sin of the rotary angles, [positionCount, headDim/2] each.
///
/// Matches HF transformers in f32: inv_freq[i] = 1 / θ^(2i/d), angle = f32(pos) · inv_freq[i]
/// (one f32 rounding), then cos/sin of that f32 angle. With Llama-3 scaling the inverse
/// frequencies are first adjusted as in transformers' `_compute_llama3_parameters`.
public final class RoPETable: @unchecked Sendable {
    public let positionCount: Int
    public let halfDim: Int
    private let cosines: Tensor
    private let sines: Tensor

    /// Llama-3 frequency scaling parameters.
    public struct Llama3Scaling: Sendable {
        public var factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double
        public var originalContextLength: Int
        public init(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int) {
            self.factor = factor
            self.lowFrequencyFactor = lowFrequencyFactor
            self.highFrequencyFactor = highFrequencyFactor
            self.originalContextLength = originalContextLength
        }
    }

    /// - Parameter frequencyFactors: llama.cpp-style per-frequency divisors (inv_freq[i] / factor[i]),
    ///   the form Llama-3.x GGUFs carry their rope scaling in.
    public init(headDim: Int, theta: Double, positionCount: Int, scaling: Llama3Scaling? = nil,
                frequencyFactors: [Float]? = nil) {
        halfDim = headDim / 2
        self.positionCount = positionCount
        var inverse = (0..<halfDim).map { i -> Float in
            1 / powf(Float(theta), Float(2 * i) / Float(headDim))
        }
        if let s = scaling {
            let lowWavelength = Double(s.originalContextLength) / s.lowFrequencyFactor
            let highWavelength = Double(s.originalContextLength) / s.highFrequencyFactor
            inverse = inverse.map { f in
                let wavelength = 2 * Double.pi / Double(f)
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return Float(Double(f) / s.factor) }
                let smooth = (Double(s.originalContextLength) / wavelength - s.lowFrequencyFactor)
                    / (s.highFrequencyFactor - s.lowFrequencyFactor)
                return Float((1 - smooth) * Double(f) / s.factor + smooth * Double(f))
            }
        }
        if let factors = frequencyFactors, factors.count == halfDim {
            inverse = zip(inverse, factors).map { $0 / $1 }
        }
        cosines = Tensor(shape: [positionCount, halfDim])
        sines = Tensor(shape: [positionCount, halfDim])
        cosines.withUnsafeMutablePointer { c in
            sines.withUnsafeMutablePointer { s in
                for p in 0..<positionCount {
                    for i in 0..<halfDim {
                        let angle = Float(p) * inverse[i]
                        c[p * halfDim + i] = cosf(angle)
                        s[p * halfDim + i] = sinf(angle)
                    }
                }
            }
        }
    }

    func withTables<R>(_ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
        cosines.withUnsafeMutablePointer { c in sines.withUnsafeMutablePointer { s in body(c, s) } }
    }
}
