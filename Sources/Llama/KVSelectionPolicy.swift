import Tensors

/// A layer's activations as the KV policy sees them during prefill, before attention.
///
/// `qkv` is [tokenCount, (H + 2·Hk)·d]: post-RoPE queries of the H heads, then post-RoPE keys of
/// the Hk KV heads, then values. Row i is the i-th entering token, at original position
/// `positions[i]` (ascending).
public struct LayerActivations {
    public let layer: Int
    public let layerCount: Int
    public let qkv: Tensor
    public let tokenCount: Int
    public let headCount: Int
    public let kvHeadCount: Int
    public let headDim: Int
    public let positions: [Int32]
    /// Tokens in the prompt (N), whatever has been dropped before this layer.
    public let promptLength: Int

    public var rowStride: Int { (headCount + 2 * kvHeadCount) * headDim }
    public var keyColumn: Int { headCount * headDim }
    public var valueColumn: Int { (headCount + kvHeadCount) * headDim }
}

/// What one layer keeps, decided by the KV policy.
public struct LayerSelection: Sendable, Equatable {
    /// Rows of the entering tokens stored in this layer's cache, per KV head, each ascending; heads
    /// may keep different numbers of rows (per-head budgets: AdaKV, HeadKV); nil keeps every row.
    public var keptRows: [[Int]]?
    /// Rows of the entering tokens that go on to the next layer (Token-Selective Propagation),
    /// ascending; nil keeps every row.
    public var propagatedRows: [Int]?
    /// Stop the forward pass after this layer's selection (GemFilter's filter pass).
    public var stop: Bool

    public init(keptRows: [[Int]]? = nil, propagatedRows: [Int]? = nil, stop: Bool = false) {
        self.keptRows = keptRows
        self.propagatedRows = propagatedRows
        self.stop = stop
    }

    public static let keepAll = LayerSelection()
}

/// Decides, layer by layer during prefill, which KV entries are stored and which tokens propagate.
/// The model never imports a concrete policy: FullKV, FastKV, SnapKV, ... are injected.
public protocol KVSelectionPolicy {
    mutating func select(_ activations: LayerActivations) -> LayerSelection
}

/// Keeps everything (the uncompressed baseline).
public struct FullKVPolicy: KVSelectionPolicy {
    public init() {}
    public func select(_ activations: LayerActivations) -> LayerSelection { .keepAll }
}
