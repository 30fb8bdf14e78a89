import RequestVocabulary
import Llama
import Tensors

/// H2O (arXiv 2306.14048) as the FastKV repository's baselines use it for prefill-time compression:
/// heavy hitters by accumulated attention, plus the recent window.
///
/// Per layer, for the n entering tokens: every query head h's causal attention A_h = softmax(Q Kᵀ/√d)
/// over all n prompt queries (row i sees keys 0…i), accumulated over the queries,
/// s_h[j] = Σ_i A_h[i, j]; the G query heads of each KV head are summed (S[kv] = Σ_g s_{kv·G+g});
/// each KV head keeps its top clamp(C − w, 0, n − w) non-window keys by S[kv] plus the last w tokens
/// (C = ⌊n·r⌋ or the constant budget; ties: higher score, then lower index). No pooling. Every head
/// keeps the same count, so the layer is dense.
///
/// [port] Properly causal: the reference (KVCache-Factory's H2O in the FastKV repo) masks only the
/// bottom-right w×w block, so rows before the window also attend to later keys (spec §3 [quirk]).
/// [port] GQA-aware like FastKV: scores summed over the query group and one selection per KV head;
/// the reference repeats K/V to H heads and caches G times more entries for the same budget.
/// Cost: one extra n×n score pass per query head per layer (O(n²·d·H), as much as prefill attention
/// itself), in 64-row tiles so memory stays O(64·n) per thread.
public struct H2OPolicy: KVSelectionPolicy {
    public let config: CompressionConfig
    /// Shared by the H2O budgets of one shared prefill: the scores do not depend on the budget.
    let memo: H2OScoreMemo?

    public init(config: CompressionConfig, memo: H2OScoreMemo? = nil) {
        self.config = config
        self.memo = memo
    }

    public func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        let budget = LayerBudget(enteringTokens: n, rate: config.retainRate, constantBudget: config.kvBudget,
                                 windowSize: w)
        guard !budget.storesAll else { return .keepAll }
        let scores = memo?.scores(a, windowSize: w) ?? Self.scores(a, windowSize: w)
        let window = Array((n - w)..<n)
        return LayerSelection(keptRows: scores.map { TopK.select($0, count: budget.selectCount) + window })
    }

    /// S as [Hk][n − w]: accumulated causal attention of all n queries, summed over each KV head's
    /// query group. Requires n > w.
    public static func scores(_ a: LayerActivations, windowSize w: Int) -> [[Float]] {
        let n = a.tokenCount, d = a.headDim, group = a.headCount / a.kvHeadCount
        precondition(n > w, "H2O scoring needs more tokens than the window")
        let tile = 64, tiles = (n + tile - 1) / tile
        let scale = 1 / Float(d).squareRoot()
        let threads = ComputePool.threadCount
        let logits = (0..<threads).map { _ in Tensor(shape: [tile, n]) }
        let perHead = Tensor(shape: [a.headCount, n])   // column sums per query head
        a.qkv.withUnsafeMutablePointer { qkv in
            perHead.withUnsafeMutablePointer { sums in
                // One task per query head: it owns its row of `sums`, so no two tasks write the same floats.
                ComputePool.run(tasks: a.headCount) { h, worker in
                    logits[worker].withUnsafeMutablePointer { A in
                        let out = sums + h * n
                        for j in 0..<n { out[j] = 0 }
                        for t in 0..<tiles {
                            let i0 = t * tile, rows = min(tile, n - i0), keys = i0 + rows
                            Gemm.multiply(m: rows, n: keys, k: d, alpha: scale,
                                          a: qkv + i0 * a.rowStride + h * d, lda: a.rowStride,
                                          b: qkv + a.keyColumn + (h / group) * d, ldb: a.rowStride, transposeB: true,
                                          c: A, ldc: keys)
                            for r in 0..<rows {
                                let row = A + r * keys
                                Gemm.softmax(row, valid: i0 + r + 1, count: keys)
                                for j in 0..<keys { out[j] += row[j] }
                            }
                        }
                    }
                }
            }
        }
        var result = Array(repeating: Array(repeating: Float(0), count: n - w), count: a.kvHeadCount)
        perHead.withUnsafeMutablePointer { sums in
            for h in 0..<a.headCount {
                for j in 0..<(n - w) { result[h / group][j] += sums[h * n + j] }
            }
        }
        return result
    }
}

/// The last layer's H2O scores, so several H2O budgets over one forward score each layer once.
/// Holds one layer's [Hk][n − w] floats; a new layer or window replaces them. `hits` and
/// `lastComputeDuration` let the caller charge the scoring to every budget that used it.
public final class H2OScoreMemo {
    private var key: (layer: Int, tokens: Int, window: Int)?
    private var value: [[Float]] = []
    /// Calls answered from the memo, and what computing the held scores took.
    public private(set) var hits = 0
    public private(set) var lastComputeDuration: Duration = .zero

    public init() {}

    func scores(_ a: LayerActivations, windowSize w: Int) -> [[Float]] {
        if let key, key == (a.layer, a.tokenCount, w) {
            hits += 1
            return value
        }
        let clock = ContinuousClock()
        let start = clock.now
        value = H2OPolicy.scores(a, windowSize: w)
        lastComputeDuration = clock.now - start
        key = (a.layer, a.tokenCount, w)
        return value
    }
}
