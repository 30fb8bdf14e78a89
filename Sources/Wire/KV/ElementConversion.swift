import RequestVocabulary
#if _endian(big)
#error("The KV wire format is little-endian and the codecs copy host memory as is.")
#endif

/// f32 ⇄ wire dtype conversion of contiguous runs: the only loops over payload bytes.
///
/// f16 uses `SIMD16<Float16>` ⇄ `SIMD16<Float>` conversions, which compile to vcvtps2ph/vcvtph2ps
/// only because the target builds with `-Xcc -march=x86-64-v3` (F16C); at Swift's default SSE2
/// baseline each element becomes a libcall and conversion is ~10x slower
/// (../shared/notes/swift-performance.md §3a′). f32 is a memcpy. Payload frames from ZeroMQ carry no
/// alignment guarantee, so every load and store here is unaligned.
enum ElementConversion {
    /// Writes `count` floats from `source` into `destination` as `dtype` (round to nearest even).
    static func encode(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer,
                       dtype: WireDType) {
        switch dtype {
        case .f32:
            destination.copyMemory(from: source, byteCount: count * 4)
        case .f16:
            var i = 0
            while i + 16 <= count {
                let v = UnsafeRawPointer(source + i).loadUnaligned(as: SIMD16<Float>.self)
                destination.storeBytes(of: SIMD16<Float16>(v), toByteOffset: 2 * i, as: SIMD16<Float16>.self)
                i += 16
            }
            while i < count {
                destination.storeBytes(of: Float16(source[i]), toByteOffset: 2 * i, as: Float16.self)
                i += 1
            }
        }
    }

    /// Reads `count` elements of `dtype` from `source` into `destination` as floats (exact).
    static func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
                       dtype: WireDType) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            let out = UnsafeMutableRawPointer(destination)
            var i = 0
            while i + 16 <= count {
                let h = source.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<Float16>.self)
                out.storeBytes(of: SIMD16<Float>(h), toByteOffset: 4 * i, as: SIMD16<Float>.self)
                i += 16
            }
            while i < count {
                destination[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
                i += 1
            }
        }
    }
}
