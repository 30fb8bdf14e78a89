import RequestVocabulary

/// The per-layer KV entry counts a prefill will store, computed before it runs.
///
/// Budgets are deterministic functions of the prompt length and the knobs (spec §1.2, §1.4), and the
/// plan asks the policies' own budget code (`WindowBudgetSchedule`, `StreamingLLMPolicy.capacity`,
/// `GemFilterPolicy.keptCount`), so the prefill worker can send `KVBegin` — and the decode worker
/// can reserve exactly — before the first layer is computed. The prefill worker checks every produced layer against this plan; a mismatch
/// fails the request (`ClusterError.planMismatch`) rather than sending a layer the receiver would
/// reject.
public enum KVPlan {
    public static func entryCounts(config c: CompressionConfig, promptLength N: Int, layerCount L: Int) -> [Int] {
        switch c.method {
        case .full:
            return Array(repeating: N, count: L)
        case .streamingLLM:
            return Array(repeating: min(StreamingLLMPolicy.capacity(config: c, tokenCount: N), N), count: L)
        case .gemFilter:
            return Array(repeating: GemFilterPolicy.keptCount(config: c, promptLength: N), count: L)
        case .fastKV, .snapKV:
            let schedule = WindowBudgetSchedule(config: c, promptLength: N, layerCount: L)
            var n = N
            var counts: [Int] = []
            for layer in 0..<L {
                let budget = schedule.budget(layer: layer, enteringTokens: n)
                counts.append(budget.storedEntries(enteringTokens: n, windowSize: c.windowSize))
                if let k = schedule.propagatedSelectCount(layer: layer, budget: budget, enteringTokens: n) {
                    n = k + c.windowSize
                }
            }
            return counts
        }
    }

    /// Tokens entering each layer's forward pass (what `PrefillFlops.estimate` takes), from the same
    /// budget code as `entryCounts`: N up to the TSP layer, the propagated n_T after it (FastKV); N
    /// everywhere for the methods that only evict. nil for GemFilter, whose filter pass plus second
    /// pass over renumbered tokens is not one count per layer.
    public static func enteringTokenCounts(config c: CompressionConfig, promptLength N: Int, layerCount L: Int) -> [Int]? {
        switch c.method {
        case .full, .streamingLLM:
            return Array(repeating: N, count: L)
        case .gemFilter:
            return nil
        case .fastKV, .snapKV:
            let schedule = WindowBudgetSchedule(config: c, promptLength: N, layerCount: L)
            var n = N
            var entering: [Int] = []
            for layer in 0..<L {
                entering.append(n)
                let budget = schedule.budget(layer: layer, enteringTokens: n)
                if let k = schedule.propagatedSelectCount(layer: layer, budget: budget, enteringTokens: n) {
                    n = k + c.windowSize
                }
            }
            return entering
        }
    }

    /// The first token's position after install: N, except GemFilter, whose second pass renumbers the
    /// k kept tokens 0..<k (spec §3).
    public static func nextPosition(method: CompressionMethod, promptLength: Int, entryCounts: [Int]) -> Int {
        method == .gemFilter ? (entryCounts.first ?? promptLength) : promptLength
    }

    /// Bytes a decode worker holds for a sequence at f32: every layer's entries plus `decodeSteps`.
    public static func installBytes(entryCounts: [Int], decodeSteps: Int, kvHeads: Int, headDim: Int) -> Int {
        entryCounts.reduce(0) { $0 + 2 * kvHeads * ($1 + decodeSteps) * headDim * 4 }
    }
}
