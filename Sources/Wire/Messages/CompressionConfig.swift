/// Per-request KV compression knobs, named after the FastKV reference code's flags
/// (`--max_capacity_prompt`, `--tsp_idx`, `--tsp_len`, `--window_size`, `--kernel_size`, `--pooling`).
///
/// The wire carries them so that the coordinator can choose per request, the prefill worker can run
/// them, and the result can log exactly which budget produced which bytes and latency.
public struct CompressionConfig: Sendable, Hashable {
    public var method: CompressionMethod
    /// Retained fraction of the prompt's KV per layer, in (0, 1]; used when `kvBudget` is nil.
    public var kvRate: Float
    /// Retained entries per layer; overrides `kvRate`.
    public var kvBudget: Int?
    /// Fraction of tokens propagated after the TSP layer, in (0, 1]; used when `tspLength` is nil.
    public var tspRate: Float
    /// Tokens propagated after the TSP layer; overrides `tspRate`.
    public var tspLength: Int?
    /// The layer at which Token-Selective Propagation starts.
    public var tspLayer: Int
    /// Observation window: the most recent tokens, always kept, whose attention scores the rest.
    public var windowSize: Int
    /// Pooling kernel over the scores.
    public var kernelSize: Int
    public var pooling: Pooling

    public init(method: CompressionMethod, kvRate: Float = 1, kvBudget: Int? = nil, tspRate: Float = 1,
                tspLength: Int? = nil, tspLayer: Int = 0, windowSize: Int = 8, kernelSize: Int = 7,
                pooling: Pooling = .avg) {
        self.method = method
        self.kvRate = kvRate
        self.kvBudget = kvBudget
        self.tspRate = tspRate
        self.tspLength = tspLength
        self.tspLayer = tspLayer
        self.windowSize = windowSize
        self.kernelSize = kernelSize
        self.pooling = pooling
    }

    /// No compression: the whole prompt's KV.
    public static let full = CompressionConfig(method: .full)
}
