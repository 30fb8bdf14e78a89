import RequestVocabulary
import Llama
import Tensors

/// GemFilter's first pass (spec §3): run layers 0…f on the full context, score every position by
/// the last token's post-RoPE query against the keys (raw dot product, summed over all H heads),
/// average-pool with kernel 5 (zero padding, divisor 5), and keep the top k = min(⌊N·r⌋, N)
/// positions ([port]: at least 1), ascending. Nothing is cached in this pass.
public struct GemFilterPolicy: KVSelectionPolicy {
    public static let poolKernel = 5
    public let config: CompressionConfig
    public let filterLayer: Int
    /// The pooled scores of every position at the filter layer (nil before it ran).
    public private(set) var pooledScores: [Float]?

    public init(config: CompressionConfig, layerCount: Int) {
        self.config = config
        filterLayer = config.resolvedTSPLayer(layerCount: layerCount)
    }

    /// k = min(budget or ⌊N·r⌋, N), at least 1 ([port]): the tokens the second pass runs on.
    public static func keptCount(config: CompressionConfig, promptLength n: Int) -> Int {
        max(1, min(config.kvBudget ?? Int((Double(n) * config.retainRate).rounded(.towardZero)), n))
    }

    public mutating func select(_ a: LayerActivations) -> LayerSelection {
        let none = LayerSelection(keptRows: Array(repeating: [], count: a.kvHeadCount))
        guard a.layer == filterLayer else { return none }
        let n = a.tokenCount, d = a.headDim, group = a.headCount / a.kvHeadCount
        var scores = Array(repeating: Float(0), count: n)
        a.qkv.withUnsafeMutablePointer { qkv in
            let last = qkv + (n - 1) * a.rowStride
            for h in 0..<a.headCount {
                let q = last + h * d
                let k = qkv + a.keyColumn + (h / group) * d
                for j in 0..<n {
                    let kj = k + j * a.rowStride
                    var dot: Float = 0
                    for c in 0..<d { dot += q[c] * kj[c] }
                    scores[j] += dot
                }
            }
        }
        var pooled: [Float] = []
        Pooling.apply(scores, kernelSize: Self.poolKernel, mode: .avg, into: &pooled)
        pooledScores = pooled
        // The rows the second pass runs on at this policy's own budget.
        return LayerSelection(keptRows: none.keptRows, propagatedRows: TopK.select(pooled, count: Self.keptCount(config: config, promptLength: n)),
                              stop: true)
    }

    /// The top `count` positions by the pooled scores, ascending (what a budget keeping `count`
    /// tokens runs its second pass on); nil before the filter layer ran.
    public func selectedRows(count: Int) -> [Int]? {
        pooledScores.map { TopK.select($0, count: count) }
    }
}
