/// The element type KV travels in between prefill and decode: little-endian IEEE 754 half or
/// single precision. A request knob (`--wire-dtype`), so it lives with the other knobs.
///
/// f16 halves the wire bytes at a relative rounding error of at most 2^-11 per element, well below
/// what KV eviction already changes; f32 is bit-exact for A/B checks against the local model.
public enum WireDType: String, Sendable, Hashable, Codable, CaseIterable {
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
