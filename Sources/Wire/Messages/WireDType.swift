/// The element type of KV payload frames: little-endian IEEE 754 half or single precision.
///
/// f16 halves the wire bytes at a relative rounding error of at most 2^-11 per element, well below
/// what KV eviction already changes; f32 is bit-exact for A/B checks against the local model.
public enum WireDType: Sendable, Hashable, CaseIterable {
    case f16
    case f32

    /// Bytes per element on the wire.
    public var byteWidth: Int {
        switch self {
        case .f16: 2
        case .f32: 4
        }
    }
}
