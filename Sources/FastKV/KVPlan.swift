/// The per-layer KV entry counts a prefill will store, computed before it runs.
///
/// Budgets are deterministic functions of the prompt length and the knobs (spec §1.2, §1.4; the
/// same arithmetic as `WindowSelectionPolicy`, `StreamingLLMPolicy` and `GemFilterPolicy`), so the
/// prefill worker can send `KVBegin` — and the decode worker can reserve exactly — before the first
/// layer is computed. The prefill worker checks every produced layer against this plan; a mismatch
/// fails the request (`ClusterError.planMismatch`) rather than sending a layer the receiver would
/// reject.
public enum KVPlan {
    public static func entryCounts(config c: CompressionConfig, promptLength N: Int, layerCount L: Int) -> [Int] {
        let w = c.windowSize
        switch c.method {
        case .full:
            return Array(repeating: N, count: L)
        case .streamingllm:
            let capacity = max(1, c.kvBudget ?? Int((Double(N) * c.retainRate).rounded(.towardZero)))
            return Array(repeating: min(capacity, N), count: L)
        case .gemfilter:
            let k = max(1, min(c.kvBudget ?? Int((Double(N) * c.retainRate).rounded(.towardZero)), N))
            return Array(repeating: k, count: L)
        case .fastkv, .snapkv:
            let tspLayer = c.method == .fastkv ? c.resolvedTSPLayer(layerCount: L) : nil
            let rho = c.tspLength.map { Double($0) / Double(N) } ?? c.tspRate
            var n = N
            var tspApplied = false
            var counts: [Int] = []
            for layer in 0..<L {
                let rate = (tspLayer != nil && layer > tspLayer! && tspApplied) ? c.retainRate / rho : c.retainRate
                let budget = LayerBudget(enteringTokens: n, rate: rate, constantBudget: c.kvBudget, windowSize: w)
                counts.append(budget.storedEntries(enteringTokens: n, windowSize: w))
                if budget.compresses && layer == tspLayer {
                    let tsp = TSPBudget(promptLength: N, rate: c.tspRate, constantLength: c.tspLength, windowSize: w)
                    if tsp.applies && n == N {
                        n = min(max(tsp.propagatedCount - w, 0), n - w) + w
                        tspApplied = true
                    }
                }
            }
            return counts
        }
    }

    /// The first token's position after install: N, except GemFilter, whose second pass renumbers the
    /// k kept tokens 0..<k (spec §3).
    public static func nextPosition(method: CompressionConfig.Method, promptLength: Int, entryCounts: [Int]) -> Int {
        method == .gemfilter ? (entryCounts.first ?? promptLength) : promptLength
    }

    /// Bytes a decode worker holds for a sequence at f32: every layer's entries plus `decodeSteps`.
    public static func installBytes(entryCounts: [Int], decodeSteps: Int, kvHeads: Int, headDim: Int) -> Int {
        entryCounts.reduce(0) { $0 + 2 * kvHeads * ($1 + decodeSteps) * headDim * 4 }
    }
}
