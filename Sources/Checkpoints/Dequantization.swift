import Foundation

/// Half-precision conversions. On Linux/arm64 `Float(Float16)` compiles to one instruction (F16C `vcvtph2ps`
/// given the target's `-march=x86-64-v3`); Intel macOS lacks `Float16`, so it gets an exact bit-level fallback.
@inline(__always)
func floatFromHalf(_ bits: UInt16) -> Float {
    #if os(macOS) && arch(x86_64)
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        let magnitude = Float(mantissa) * 0x1p-24  // zero or subnormal: exact
        return Float(bitPattern: magnitude.bitPattern | sign)
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    #else
    return Float(Float16(bitPattern: bits))
    #endif
}

/// bf16 is the top half of an f32, so widening is a shift (exact, NaNs included).
@inline(__always)
func floatFromBFloat16(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Dequantisation kernels: raw bytes in an `ElementType` encoding → f32.
///
/// They reproduce python gguf's `gguf.quants` (the dequantiser that produced our reference safetensors)
/// bit for bit, operation by operation:
/// - Q8_0: `d * q` (d = f16 scale widened to f32, q = int8 as f32);
/// - Q4_0: `(q - 8) * d` with q the unsigned nibble;
/// - Q4_1: `d * q + m` as two separately rounded f32 operations. Swift does not contract `a * b + c` into an
///   FMA unless asked to, and it must not be asked to here: a fused result differs in the last bit.
/// 4-bit blocks hold weight `j` in the low nibble of byte `j` and weight `j + 16` in its high nibble.
enum Dequantization {
    /// Decodes `count` weights (a whole number of blocks; callers have checked) from `source` into `destination`.
    /// `source` may be unaligned.
    static func decode(_ type: ElementType, from source: UnsafeRawPointer, count: Int,
                       into destination: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            memcpy(destination, source, count * 4)
        case .f16:
            for i in 0 ..< count {
                destination[i] = floatFromHalf(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        case .bf16:
            for i in 0 ..< count {
                destination[i] = floatFromBFloat16(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)
            }
        case .q8_0:
            decodeQ8_0(source, blockCount: count / 32, destination)
        case .q4_0:
            decodeQ4_0(source, blockCount: count / 32, destination)
        case .q4_1:
            decodeQ4_1(source, blockCount: count / 32, destination)
        }
    }

    private static func decodeQ8_0(_ source: UnsafeRawPointer, blockCount: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blockCount {
            let block = source + b * 34
            let d = floatFromHalf(block.loadUnaligned(as: UInt16.self).littleEndian)
            let qs = (block + 2).assumingMemoryBound(to: Int8.self)
            let o = out + b * 32
            for j in 0 ..< 32 {
                o[j] = d * Float(qs[j])
            }
        }
    }

    private static func decodeQ4_0(_ source: UnsafeRawPointer, blockCount: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blockCount {
            let block = source + b * 18
            let d = floatFromHalf(block.loadUnaligned(as: UInt16.self).littleEndian)
            let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
            let o = out + b * 32
            for j in 0 ..< 16 {
                let q = qs[j]
                o[j] = Float(Int32(q & 0x0F) - 8) * d
                o[j + 16] = Float(Int32(q >> 4) - 8) * d
            }
        }
    }

    private static func decodeQ4_1(_ source: UnsafeRawPointer, blockCount: Int, _ out: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blockCount {
            let block = source + b * 20
            let d = floatFromHalf(block.loadUnaligned(as: UInt16.self).littleEndian)
            let m = floatFromHalf(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self).littleEndian)
            let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
            let o = out + b * 32
            for j in 0 ..< 16 {
                let q = qs[j]
                o[j] = d * Float(q & 0x0F) + m
                o[j + 16] = d * Float(q >> 4) + m
            }
        }
    }
}
