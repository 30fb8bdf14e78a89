import Checkpoints
import Foundation

/// Reference encoders for every `ElementType` (ports of ggml-quants.c `quantize_row_*_ref` and the f16/bf16
/// conversions), and an independent, deliberately naive decoder to check the library's kernels against.
///
/// Input is row-major with rows of `cols` values; block types need `cols % 32 == 0`, so blocks never straddle
/// rows and a row's bytes are contiguous, as in GGUF.
public enum ReferenceQuantizer {
    /// IEEE binary16 bits of `x`, rounded to nearest even (what numpy's `astype(float16)` and ggml's
    /// `GGML_FP32_TO_FP16` do).
    public static func halfBits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    public static func float(fromHalf bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// bfloat16 bits of `x`, rounded to nearest even (ggml `GGML_FP32_TO_BF16`; NaN kept quiet).
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if x.isNaN { return UInt16(u >> 16) | 0x40 }
        return UInt16((u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    public static func float(fromBFloat16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Encodes `values` (a whole number of blocks) in `type`.
    public static func encode(_ values: [Float], as type: ElementType) -> [UInt8] {
        precondition(values.count % type.blockSize == 0, "\(values.count) values are not whole \(type) blocks")
        var out: [UInt8] = []
        out.reserveCapacity(values.count / type.blockSize * type.bytesPerBlock)
        func appendU16(_ v: UInt16) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        switch type {
        case .f32:
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            for v in values { appendU16(halfBits(v)) }
        case .bf16:
            for v in values { appendU16(bfloat16Bits(v)) }
        case .q8_0:
            for b in stride(from: 0, to: values.count, by: 32) {
                let x = values[b ..< b + 32]
                let amax = x.reduce(Float(0)) { max($0, abs($1)) }
                let d = amax / 127
                let id: Float = d != 0 ? 1 / d : 0
                appendU16(halfBits(d))
                for v in x { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
            }
        case .q4_0:
            for b in stride(from: 0, to: values.count, by: 32) {
                var amax: Float = 0, maxValue: Float = 0
                for v in values[b ..< b + 32] where amax < abs(v) { amax = abs(v); maxValue = v }
                let d = maxValue / -8
                let id: Float = d != 0 ? 1 / d : 0
                appendU16(halfBits(d))
                for j in 0 ..< 16 {
                    let q0 = min(15, Int(values[b + j] * id + 8.5))
                    let q1 = min(15, Int(values[b + 16 + j] * id + 8.5))
                    out.append(UInt8(q0) | UInt8(q1) << 4)
                }
            }
        case .q4_1:
            for b in stride(from: 0, to: values.count, by: 32) {
                var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
                for v in values[b ..< b + 32] { lo = min(lo, v); hi = max(hi, v) }
                let d = (hi - lo) / 15
                let id: Float = d != 0 ? 1 / d : 0
                appendU16(halfBits(d))
                appendU16(halfBits(lo))
                for j in 0 ..< 16 {
                    let q0 = min(15, Int((values[b + j] - lo) * id + 0.5))
                    let q1 = min(15, Int((values[b + 16 + j] - lo) * id + 0.5))
                    out.append(UInt8(q0) | UInt8(q1) << 4)
                }
            }
        }
        return out
    }

    /// Decodes `count` values of `type` from `bytes`, one element at a time, the way python gguf does
    /// (Q4_1: `d * q + m` as two roundings; Q4_0: `(q - 8) * d`; Q8_0: `q * d`).
    public static func decode(_ bytes: [UInt8], as type: ElementType, count: Int) -> [Float] {
        func u16(_ i: Int) -> UInt16 { UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 }
        var out: [Float] = []
        out.reserveCapacity(count)
        switch type {
        case .f32:
            for i in 0 ..< count {
                let u = UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                    | UInt32(bytes[4 * i + 3]) << 24
                out.append(Float(bitPattern: u))
            }
        case .f16:
            for i in 0 ..< count { out.append(float(fromHalf: u16(2 * i))) }
        case .bf16:
            for i in 0 ..< count { out.append(float(fromBFloat16: u16(2 * i))) }
        case .q8_0, .q4_0, .q4_1:
            for blockIndex in 0 ..< count / 32 {
                let base = blockIndex * type.bytesPerBlock
                let d = float(fromHalf: u16(base))
                var block = [Float](repeating: 0, count: 32)
                switch type {
                case .q8_0:
                    for j in 0 ..< 32 { block[j] = Float(Int8(bitPattern: bytes[base + 2 + j])) * d }
                case .q4_0:
                    for j in 0 ..< 16 {
                        let q = bytes[base + 2 + j]
                        block[j] = Float(Int(q & 0xF) - 8) * d
                        block[j + 16] = Float(Int(q >> 4) - 8) * d
                    }
                default:
                    let m = float(fromHalf: u16(base + 2))
                    for j in 0 ..< 16 {
                        let q = bytes[base + 4 + j]
                        let lowProduct = d * Float(q & 0xF), highProduct = d * Float(q >> 4)
                        block[j] = lowProduct + m
                        block[j + 16] = highProduct + m
                    }
                }
                out.append(contentsOf: block)
            }
        }
        return out
    }

    /// What a reader must return after `values` went through `type`: encode then decode.
    public static func roundTrip(_ values: [Float], as type: ElementType) -> [Float] {
        decode(encode(values, as: type), as: type, count: values.count)
    }
}
