import RequestVocabulary
import Llama

/// Ada-KV (arXiv 2407.11550) on SnapKV's window scores: one budget per layer, split between the
/// layer's KV heads by the scores themselves, so a head whose attention is spread out keeps more
/// entries than one whose attention is concentrated. Heads keep different counts (a ragged layer);
/// the layer total is fixed, which is what lets `KVPlan` announce it before prefill.
///
/// Per layer, with B = clamp(C − w, 0, n − w) non-window entries per head (C = ⌊n·r⌋ or the constant
/// budget, the clamps of `LayerBudget`) and S[kv] the GQA-summed pooled window scores of FastKV:
/// 1. floor: every head keeps its own top f = ⌊α·B⌋ entries (α = `ada_alpha`, default 0.2 as in
///    the authors' runs);
/// 2. the remaining Hk·(B − f) entries are the top scores pooled across all heads' not-yet-kept
///    entries (ties: higher score, then lower head, then lower index);
/// 3. each head keeps its picks plus the whole window, so head h stores f + r_h + w entries and the
///    layer Hk·(B + w), as SnapKV would.
///
/// [port] The reference code (`AdaptiveSnapKVCluster` in the FastKV repo's `baseline/adakv/`) counts
/// each head's share in the top Hk·B of the pooled scores, then sets it to round(share·(1 − α) + ⌊α·B⌋);
/// that rounding can move the layer total by a few entries, so the total would depend on the scores.
/// Steps 1–2 are the paper's definition of the floor (guaranteed α share, the rest by pooled top-k)
/// and keep the total exact.
///
/// [port] GQA: shares are per KV head on the group-summed scores (pooled per query head, then summed
/// over the G query heads, as FastKV does). The authors' runs compress per query head (K/V repeated
/// to H heads, each query head its own share of H·B), which caches G times more entries for the same
/// budget; the reference's `gqa_support` mode averages the group's scores before pooling instead.
public struct AdaKVPolicy: KVSelectionPolicy {
    public let config: CompressionConfig

    public init(config: CompressionConfig) { self.config = config }

    public func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        let budget = LayerBudget(enteringTokens: n, rate: config.retainRate, constantBudget: config.kvBudget,
                                 windowSize: w)
        guard !budget.storesAll else { return .keepAll }
        let scores = WindowScorer.scores(a, windowSize: w, kernelSize: config.kernelSize, pooling: config.pooling)
        let counts = Self.headShares(scores, perHeadBudget: budget.selectCount, floorAlpha: config.adaAlpha)
        let window = Array((n - w)..<n)
        return LayerSelection(keptRows: zip(scores, counts).map { TopK.select($0, count: $1) + window })
    }

    /// Non-window entries per head: the floor ⌊α·B⌋ plus each head's part of the pooled top
    /// Hk·(B − ⌊α·B⌋) over the entries past its floor. scores: [Hk][n − w]; B ≤ n − w.
    public static func headShares(_ scores: [[Float]], perHeadBudget b: Int, floorAlpha: Double) -> [Int] {
        let heads = scores.count
        let floor = Int((Double(b) * floorAlpha).rounded(.towardZero))
        // Each head's scores in its own selection order (higher score, then lower index).
        let ranked = scores.map { s in s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.map { s[$0] } }
        var next = Array(repeating: floor, count: heads)   // rank of each head's best entry not yet kept
        for _ in 0..<(heads * (b - floor)) {
            var best = -1
            for h in 0..<heads where next[h] < ranked[h].count {
                if best < 0 || ranked[h][next[h]] > ranked[best][next[best]] { best = h }
            }
            guard best >= 0 else { break }
            next[best] += 1
        }
        return next
    }
}
