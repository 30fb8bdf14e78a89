import RequestVocabulary
import Llama

/// The pyramid budget schedule the FastKV repository runs as its PyramidInfer-style baseline
/// (`pyram_mode` of the SnapKV/AdaKV clusters in `baseline/adakv/`): per-layer budgets that shrink
/// linearly with depth and keep the same total, with SnapKV's window selection inside each layer.
///
/// With B = clamp(C − w, 0, n − w) the uniform per-head budget (C = ⌊n·r⌋ or the constant budget)
/// and β = 20: min = ⌊B/β⌋, max = 2B − min; if max ≥ n − w then max = n − w and min = 2B − max;
/// steps = ⌊(max − min)/(L − 1)⌋; layer ℓ keeps B_ℓ = max − ℓ·steps non-window entries per KV head
/// (top B_ℓ by the GQA-summed pooled window scores, as SnapKV) plus the window. (max + min)/2 = B, so
/// the total is L·B up to the floor in `steps` (which only adds entries to the lower layers).
///
/// [port] PyramidInfer itself (arXiv 2405.12532) also prunes the hidden states layer by layer and
/// re-compresses during decode; this is the budget schedule only, on the full context, dense per
/// layer, no decode eviction. It is what the repo's v1/v2 scripts ran under "pyram".
public struct PyramidPolicy: KVSelectionPolicy {
    public static let beta = 20
    public let config: CompressionConfig
    public let layerCount: Int

    public init(config: CompressionConfig, layerCount: Int) {
        self.config = config
        self.layerCount = layerCount
    }

    /// Non-window entries per KV head at `layer` for n entering tokens; nil keeps everything.
    public static func layerBudget(config: CompressionConfig, layer: Int, layerCount L: Int,
                                   enteringTokens n: Int) -> Int? {
        let w = config.windowSize
        let uniform = LayerBudget(enteringTokens: n, rate: config.retainRate, constantBudget: config.kvBudget,
                                  windowSize: w)
        guard !uniform.storesAll else { return nil }
        let b = uniform.selectCount
        var low = b / beta, high = 2 * b - low
        if high >= n - w {
            high = n - w
            low = 2 * b - high
        }
        let steps = L > 1 ? (high - low) / (L - 1) : 0
        return min(max(high - layer * steps, 0), n - w)
    }

    public func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        guard let b = Self.layerBudget(config: config, layer: a.layer, layerCount: layerCount, enteringTokens: n)
        else { return .keepAll }
        let scores = WindowScorer.scores(a, windowSize: w, kernelSize: config.kernelSize, pooling: config.pooling)
        let window = Array((n - w)..<n)
        return LayerSelection(keptRows: scores.map { TopK.select($0, count: b) + window })
    }
}
