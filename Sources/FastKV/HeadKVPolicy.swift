import Foundation
import RequestVocabulary
import Llama

/// HeadKV, retrieval-reasoning variant (arXiv 2410.19258; `ReasonSnapKVCluster` in FYYFU/HeadKV):
/// every head's budget is fixed before prefill from offline head-importance scores, then SnapKV's
/// window selection runs inside each head. Heads keep different counts (ragged layers).
///
/// With B = clamp(C − w, 0, n − w) the uniform non-window budget per head (C = ⌊n·r⌋ or the
/// constant budget, the clamps of `LayerBudget`), β (default 1.2) and temperature τ (default 1):
/// 1. s = the head scores (`HeadImportance.kvHeadScores`), over all L·Hk heads of the model,
///    normalized to sum 1, raised to τ, normalized again;
/// 2. pool P = ⌊B/β⌋·L·Hk entries, shared by importance; every head keeps at least B − ⌊B/β⌋;
/// 3. head i keeps b_i = B − ⌊B/β⌋ + share_i of the pool, share_i ≈ s_i·P — at most n − w of them
///    (a head cannot keep more than exist), chosen as SnapKV does: top b_i by the GQA-summed pooled
///    window scores; plus the whole window.
/// The model's total is L·Hk·B before that clamp, as SnapKV's; a layer's total depends on its heads.
///
/// [port] Rounding: the reference rounds each head separately (round(s_i·P + min)), so the model's
/// total moves by up to L·Hk/2 with the scores. Shares here are the largest-remainder apportionment
/// of P (floors first, then the largest fractions; ties to the lower layer, then head), which keeps
/// the total exact, so the coordinator's reservation — computed without the scores — is exact, or
/// an upper bound when heads clamp.
/// [port] GQA: per KV head (see `HeadImportance.kvHeadScores`); the reference budgets per query head.
/// [port] ⌊B/β⌋ is the floor of the double quotient, as Python's `B // beta` on the defaults.
public struct HeadKVPolicy: KVSelectionPolicy {
    public let config: CompressionConfig
    public let importance: HeadImportance
    private var budgetsFor: (tokens: Int, budgets: [[Int]])?

    public init(config: CompressionConfig, importance: HeadImportance) {
        self.config = config
        self.importance = importance
    }

    public mutating func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, w = config.windowSize
        let budget = LayerBudget(enteringTokens: n, rate: config.retainRate, constantBudget: config.kvBudget,
                                 windowSize: w)
        guard !budget.storesAll else { return .keepAll }
        if budgetsFor?.tokens != n {
            budgetsFor = (n, Self.headBudgets(importance.kvHeadScores, perHeadBudget: budget.selectCount,
                                              beta: config.headKVBeta, temperature: config.headKVTemperature))
        }
        let scores = WindowScorer.scores(a, windowSize: w, kernelSize: config.kernelSize, pooling: config.pooling)
        let window = Array((n - w)..<n)
        let perHead = budgetsFor!.budgets[a.layer]
        return LayerSelection(keptRows: zip(scores, perHead).map { TopK.select($0, count: min($1, n - w)) + window })
    }

    /// Non-window budget b_i of every head, [layer][KV head], before the n − w clamp. scores ≥ 0.
    public static func headBudgets(_ scores: [[Double]], perHeadBudget b: Int, beta: Double,
                                   temperature: Double) -> [[Int]] {
        let flat = scores.flatMap { $0 }
        let count = flat.count
        guard count > 0 else { return scores.map { _ in [] } }
        let pooledPerHead = Int((Double(b) / beta).rounded(.down))
        let minimum = b - pooledPerHead
        let pool = pooledPerHead * count
        let weights = normalized(normalized(flat).map { Foundation.pow($0, temperature) })
        let quotas = weights.map { $0 * Double(pool) }
        var shares = quotas.map { Int($0.rounded(.down)) }
        let left = max(0, min(count, pool - shares.reduce(0, +)))
        let byRemainder = (0..<count).sorted { i, j in
            let fi = quotas[i] - Double(shares[i]), fj = quotas[j] - Double(shares[j])
            return fi > fj || (fi == fj && i < j)
        }
        for i in byRemainder.prefix(left) { shares[i] += 1 }
        var result: [[Int]] = []
        var k = 0
        for row in scores {
            result.append(row.indices.map { _ in defer { k += 1 }; return minimum + shares[k] })
        }
        return result
    }

    /// x / Σx, or uniform when Σx is 0 (a file of zeros spreads the pool evenly).
    static func normalized(_ x: [Double]) -> [Double] {
        let s = x.reduce(0, +)
        return s > 0 ? x.map { $0 / s } : x.map { _ in 1 / Double(x.count) }
    }

    /// Entries each layer's heads store for an n-token prompt ([layer][KV head]): b_i clamped to
    /// n − w, plus the window; n everywhere when the budget stores everything.
    public static func storedCounts(config c: CompressionConfig, importance: HeadImportance,
                                    promptLength n: Int) -> [[Int]] {
        let w = c.windowSize
        let budget = LayerBudget(enteringTokens: n, rate: c.retainRate, constantBudget: c.kvBudget, windowSize: w)
        let kv = importance.kvHeadScores
        guard !budget.storesAll else { return kv.map { $0.map { _ in n } } }
        return headBudgets(kv, perHeadBudget: budget.selectCount, beta: c.headKVBeta, temperature: c.headKVTemperature)
            .map { $0.map { min($0, n - w) + w } }
    }
}
