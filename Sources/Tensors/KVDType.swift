import CKernels

/// How the KV cache stores K and V (the `--kv-dtype` knob): the memory/accuracy choice of a process
/// that decodes. Prefill computes in f32 either way; entries are converted as they enter the cache.
///
/// `f16` halves the bytes a decode step reads from the cache (at 8K context, most of the bytes it
/// reads) and the bytes a decode worker reserves per sequence; the decode attention kernels convert
/// as they load, so only the stored K/V are rounded (to IEEE binary16, nearest even), never the
/// arithmetic. `f32` keeps the cache exact and is the default.
public enum KVDType: String, Sendable, CaseIterable {
    /// 4 bytes per element: the values prefill and decode computed, bit for bit.
    case f32
    /// 2 bytes per element: IEEE binary16, rounded to nearest even as entries enter the cache.
    case f16

    /// Bytes per stored K or V element.
    public var bytesPerElement: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        }
    }
}

/// Bulk conversion between f32 and IEEE binary16 bits (CKernels/half.c): the same bits on every
/// kernel path, rounding to nearest even.
public enum HalfConversion {
    /// dst[i] = src[i] rounded to binary16 (overflow → ±inf, NaN stays NaN).
    public static func toHalf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        fkv_f32_to_f16(src, dst, count)
    }

    /// dst[i] = src[i] widened to f32 (exact).
    public static func toFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        fkv_f16_to_f32(src, dst, count)
    }
}
