/// Versions this build speaks, and the bounds a receiver applies to everything a peer declares.
public enum WireVersion {
    /// `Envelope.protocol_version`. Bump only for incompatible schema changes; receivers reject any
    /// other value (including 0, i.e. a sender that never set it).
    public static let protocolVersion: UInt32 = 2
    /// `KVBegin.format_version`: the payload layout (K then V, each [Σ_h entries_h, head_dim] head-major
    /// with per-head counts in KVLayer, little-endian, frames ≤ 16 MiB). Bump when that layout changes.
    /// 2: ragged layers (per-head counts; entry counts are layer totals over the KV heads).
    public static let kvFormatVersion: UInt32 = 2
}

/// Upper bounds on what a peer may declare, checked before anything is allocated or installed.
///
/// A hostile or buggy peer must not be able to make us allocate without bound or index out of range,
/// so every count that sizes a buffer is bounded here. The defaults are generous for the models this
/// project serves (e.g. Llama-3.1-8B: 32 layers, 8 KV heads, head_dim 128) while keeping the worst
/// case small enough to reject cheaply. Frames larger than 16 MiB hit the mmap page-fault cliff in
/// libzmq receive buffers (../shared/notes/swift-performance.md §3c), hence the frame cap.
public struct WireLimits: Sendable, Equatable {
    /// Largest packed envelope (header frame) accepted. Positions dominate: 4 MiB holds about
    /// 800k positions at 5 bytes each.
    public var maxEnvelopeBytes: Int = 4 << 20
    public var maxLayerCount: Int = 1024
    public var maxKVHeads: Int = 1024
    public var maxHeadDim: Int = 4096
    /// Largest prompt (and so the largest per-layer entry count).
    public var maxPromptLength: Int = 1 << 22
    /// Largest single payload frame, for senders and receivers alike.
    public var maxFrameBytes: Int = 16 << 20

    public init() {}

    public static let `default` = WireLimits()
}
