import RequestVocabulary
import Tensors

/// The per-layer KV entry counts a prefill will store, computed before it runs.
///
/// Budgets are deterministic functions of the prompt length and the knobs (spec §1.2, §1.4), and the
/// plan asks the policies' own budget code (`WindowBudgetSchedule`, `StreamingLLMPolicy.capacity`,
/// `GemFilterPolicy.keptCount`), so the prefill worker can send `KVBegin` — and the decode worker
/// can reserve exactly — before the first layer is computed. The prefill worker checks every produced layer against this plan; a mismatch
/// fails the request (`ClusterError.planMismatch`) rather than sending a layer the receiver would
/// reject.
///
/// Counts are layer totals over the KV heads: a per-head policy (AdaKV) decides each head's share
/// from the scores while prefill runs, but never the layer's total, so the reservation is exact for
/// ragged layers too. The per-head counts travel with each layer (`KVLayerHeader.headEntryCounts`).
public enum KVPlan {
    /// Entries each layer will store, summed over its `kvHeadCount` KV heads.
    ///
    /// HeadKV's counts come from the head scores: with them (the prefill worker, the engine) they are
    /// exact; without them (the coordinator, which has no model) every head gets the mean share,
    /// whose model-wide total is exact unless heads clamp at n − w, and then an upper bound.
    public static func entryCounts(config c: CompressionConfig, promptLength N: Int, layerCount L: Int,
                                   kvHeadCount: Int, headImportance: HeadImportance? = nil) -> [Int] {
        if c.method == .headKV, let headImportance {
            return HeadKVPolicy.storedCounts(config: c, importance: headImportance, promptLength: N).map { $0.reduce(0, +) }
        }
        return perHeadEntryCounts(config: c, promptLength: N, layerCount: L).map { $0 * kvHeadCount }
    }

    /// The most entries any one head will store (the cache's per-head capacity before decode).
    static func largestHeadEntryCount(config c: CompressionConfig, promptLength N: Int, layerCount L: Int,
                                      headImportance: HeadImportance?) -> Int? {
        if c.method == .headKV, let headImportance {
            return HeadKVPolicy.storedCounts(config: c, importance: headImportance, promptLength: N).joined().max()
        }
        return perHeadEntryCounts(config: c, promptLength: N, layerCount: L).max()
    }

    /// Entries per KV head for the methods whose heads all keep the same count (every method but the
    /// per-head ones, for which this is the mean share).
    static func perHeadEntryCounts(config c: CompressionConfig, promptLength N: Int, layerCount L: Int) -> [Int] {
        switch c.method {
        case .full:
            return Array(repeating: N, count: L)
        case .streamingLLM:
            return Array(repeating: min(StreamingLLMPolicy.capacity(config: c, tokenCount: N), N), count: L)
        case .gemFilter:
            return Array(repeating: GemFilterPolicy.keptCount(config: c, promptLength: N), count: L)
        case .h2o, .adaKV, .headKV:
            // One uniform budget on the full context (AdaKV: the mean share, its layer total is exact;
            // HeadKV without scores: the mean share, see `entryCounts`).
            return Array(repeating: LayerBudget(enteringTokens: N, rate: c.retainRate, constantBudget: c.kvBudget,
                                                windowSize: c.windowSize)
                .storedEntries(enteringTokens: N, windowSize: c.windowSize), count: L)
        case .pyramidInfer:
            return (0..<L).map { layer in
                PyramidPolicy.layerBudget(config: c, layer: layer, layerCount: L, enteringTokens: N)
                    .map { $0 + c.windowSize } ?? N
            }
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
        case .full, .streamingLLM, .adaKV, .headKV, .h2o, .pyramidInfer:
            return Array(repeating: N, count: L)   // they choose what to store; every layer sees all N
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
    public static func nextPosition(method: CompressionMethod, promptLength: Int, entryCounts: [Int],
                                    kvHeadCount: Int) -> Int {
        method == .gemFilter ? (entryCounts.first.map { $0 / max(kvHeadCount, 1) } ?? promptLength) : promptLength
    }

    /// Bytes a decode worker holds for a sequence whose cache stores `kvDType` (4 bytes per element
    /// for f32, 2 for f16): every layer's entries (totals over the KV heads) plus `decodeSteps` per KV
    /// head — exactly what `LayerKV` allocates, no padding.
    public static func installBytes(entryCounts: [Int], decodeSteps: Int, kvHeads: Int, headDim: Int,
                                    kvDType: KVDType = .f32) -> Int {
        entryCounts.reduce(0) { $0 + 2 * ($1 + kvHeads * decodeSteps) * headDim * kvDType.bytesPerElement }
    }
}
