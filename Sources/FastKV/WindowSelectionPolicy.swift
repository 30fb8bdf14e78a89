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
    public let tspLayer: Int?
    private var tspApplied = false

    /// - Parameter config: method `.fastkv` or `.snapkv`.
    public init(config: CompressionConfig, layerCount: Int) {
        precondition(config.method == .fastkv || config.method == .snapkv)
        self.config = config
        tspLayer = config.method == .fastkv ? config.resolvedTSPLayer(layerCount: layerCount) : nil
    }

    /// r_ℓ: r up to and including ℓ_T; r/ρ after it once TSP has dropped tokens (computed in double).
    func rate(layer: Int, promptLength: Int) -> Double {
        guard let tspLayer, layer > tspLayer, tspApplied else { return config.retainRate }
        let rho = config.tspLength.map { Double($0) / Double(promptLength) } ?? config.tspRate
        return config.retainRate / rho
    }

    public mutating func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        let budget = LayerBudget(enteringTokens: n, rate: rate(layer: a.layer, promptLength: a.promptLength),
                                 constantBudget: config.kvBudget, windowSize: w)
        guard budget.compresses else { return .keepAll }
        let isTSPLayer = a.layer == tspLayer
        let tsp = TSPBudget(promptLength: a.promptLength, rate: config.tspRate, constantLength: config.tspLength,
                            windowSize: w)
        let needsTSP = isTSPLayer && tsp.applies && n == a.promptLength
        if budget.storesAll && !needsTSP { return .keepAll }
        let scores = WindowScorer.scores(a, windowSize: w, kernelSize: config.kernelSize, pooling: config.pooling)
        let window = Array((n - w)..<n)
        var selection = LayerSelection()
        if !budget.storesAll {
            selection.keptRows = scores.map { TopK.select($0, count: budget.selectCount) + window }
        }
        if needsTSP {
            var tokenScores = scores[0]
            for kv in 1..<scores.count {
                for j in tokenScores.indices { tokenScores[j] += scores[kv][j] }
            }
            let k = min(max(tsp.propagatedCount - w, 0), n - w)
            selection.propagatedRows = TopK.select(tokenScores, count: k) + window
            tspApplied = true
        }
        return selection
    }
}

/// StreamingLLM: 4 attention sinks plus the most recent C − 4 tokens, the same for every KV head.
public struct StreamingLLMPolicy: KVSelectionPolicy {
    public static let sinkCount = 4
    public let config: CompressionConfig

    public init(config: CompressionConfig) { self.config = config }

    public func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount
        let capacity = max(1, config.kvBudget ?? Int((Double(n) * config.retainRate).rounded(.towardZero)))
        guard capacity < n else { return .keepAll }
        let sinks = min(Self.sinkCount, capacity)
        let rows = Array(0..<sinks) + Array((n - (capacity - sinks))..<n)
        return LayerSelection(keptRows: Array(repeating: rows, count: a.kvHeadCount))
    }
}
