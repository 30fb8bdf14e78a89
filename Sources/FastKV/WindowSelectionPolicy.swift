import RequestVocabulary
import Llama

/// FastKV (spec §1) and GQA-aware SnapKV (same scoring at every layer, no TSP) as one policy:
/// they differ only in whether the TSP layer propagates a subset and rescales later budgets.
///
/// Per layer: C = ⌊n·r_ℓ⌋ (or the constant budget); the KV cache keeps, per KV head, the top
/// clamp(C − w, 0, n − w) non-window tokens by S[kv] plus the whole window. At ℓ_T (FastKV only)
/// the top n_T − w tokens by Σ_kv S[kv] plus the window propagate, and layers after ℓ_T use
/// r' = r/ρ, so every layer ends with ≈ r·N entries.
public struct WindowSelectionPolicy: KVSelectionPolicy {
    public let config: CompressionConfig
    public let layerCount: Int

    /// - Parameter config: method `.fastKV` or `.snapKV` (`CompressedPrefill` dispatches on it).
    public init(config: CompressionConfig, layerCount: Int) {
        self.config = config
        self.layerCount = layerCount
    }

    public mutating func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        let schedule = WindowBudgetSchedule(config: config, promptLength: a.promptLength, layerCount: layerCount)
        let budget = schedule.budget(layer: a.layer, enteringTokens: n)
        let propagated = schedule.propagatedSelectCount(layer: a.layer, budget: budget, enteringTokens: n)
        guard budget.compresses, !budget.storesAll || propagated != nil else { return .keepAll }
        let scores = WindowScorer.scores(a, windowSize: w, kernelSize: config.kernelSize, pooling: config.pooling)
        let window = Array((n - w)..<n)
        var selection = LayerSelection()
        if !budget.storesAll {
            selection.keptRows = scores.map { TopK.select($0, count: budget.selectCount) + window }
        }
        if let k = propagated {
            var tokenScores = scores[0]
            for kv in 1..<scores.count {
                for j in tokenScores.indices { tokenScores[j] += scores[kv][j] }
            }
            selection.propagatedRows = TopK.select(tokenScores, count: k) + window
        }
        return selection
    }
}

/// StreamingLLM: 4 attention sinks plus the most recent C − 4 tokens, the same for every KV head.
public struct StreamingLLMPolicy: KVSelectionPolicy {
    public static let sinkCount = 4
    public let config: CompressionConfig

    public init(config: CompressionConfig) { self.config = config }

    /// C = max(1, budget or ⌊n·r⌋): the entries kept of n (all of them when C ≥ n).
    public static func capacity(config: CompressionConfig, tokenCount n: Int) -> Int {
        max(1, config.kvBudget ?? Int((Double(n) * config.retainRate).rounded(.towardZero)))
    }

    public func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount
        let capacity = Self.capacity(config: config, tokenCount: n)
        guard capacity < n else { return .keepAll }
        let sinks = min(Self.sinkCount, capacity)
        let rows = Array(0..<sinks) + Array((n - (capacity - sinks))..<n)
        return LayerSelection(keptRows: Array(repeating: rows, count: a.kvHeadCount))
    }
}
