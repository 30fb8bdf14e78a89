import FastKV
import RequestVocabulary
import Testing

struct BudgetTests {
    /// Spec §1.4 (r = 0.1, ρ = 0.2, w = 8; Python int truncation).
    @Test(arguments: [(4096, 409, 819, 409), (8192, 819, 1638, 819), (32768, 3276, 6553, 3276), (131072, 13107, 26214, 13107)])
    func proportionalBudgetTable(row: (Int, Int, Int, Int)) {
        let (n, c, nT, cAfter) = row
        #expect(LayerBudget(enteringTokens: n, rate: 0.1, constantBudget: nil, windowSize: 8).capacity == c)
        #expect(TSPBudget(promptLength: n, rate: 0.2, constantLength: nil, windowSize: 8).propagatedCount == nT)
        #expect(LayerBudget(enteringTokens: nT, rate: 0.1 / 0.2, constantBudget: nil, windowSize: 8).capacity == cAfter)
    }

    /// Spec §7.2 clamps.
    @Test func shortPromptClamps() {
        // N ≤ w: keep everything, nothing to score.
        let tiny = LayerBudget(enteringTokens: 5, rate: 0.1, constantBudget: nil, windowSize: 8)
        #expect(!tiny.compresses && tiny.storesAll)
        // C < w (N in [9, 79] at r = 0.1): only the window is kept.
        let small = LayerBudget(enteringTokens: 50, rate: 0.1, constantBudget: nil, windowSize: 8)
        #expect(small.compresses && small.selectCount == 0 && small.storedEntries(enteringTokens: 50, windowSize: 8) == 8)
        // N in [80, 89]: C = 8, window only.
        #expect(LayerBudget(enteringTokens: 85, rate: 0.1, constantBudget: nil, windowSize: 8).selectCount == 0)
        // Constant budget above N: the reference's no-compression branch (and so no TSP).
        let big = LayerBudget(enteringTokens: 100, rate: 0.1, constantBudget: 512, windowSize: 8)
        #expect(!big.compresses && big.storesAll)
        // N == C goes through compression but keeps everything.
        let equal = LayerBudget(enteringTokens: 512, rate: 0.1, constantBudget: 512, windowSize: 8)
        #expect(equal.compresses && equal.storesAll)
        // TSP only if w < n_T < N.
        #expect(!TSPBudget(promptLength: 40, rate: 0.2, constantLength: nil, windowSize: 8).applies)
        #expect(TSPBudget(promptLength: 50, rate: 0.2, constantLength: nil, windowSize: 8).applies)
        #expect(!TSPBudget(promptLength: 100, rate: 0.2, constantLength: 100, windowSize: 8).applies)
    }

    @Test func topKBreaksTiesTowardLowerIndex() {
        #expect(TopK.select([1, 3, 3, 2, 3], count: 2) == [1, 2])
        #expect(TopK.select([0, 0, 0, 0], count: 3) == [0, 1, 2])
        #expect(TopK.select([5, 1], count: 5) == [0, 1])
        #expect(TopK.select([5, 1], count: 0) == [])
    }

    @Test func poolingEdges() {
        var out: [Float] = []
        Pooling.apply([1, 5, 2, 0, 0, 0, 9], kernelSize: 3, mode: .max, into: &out)
        #expect(out == [5, 5, 5, 2, 0, 9, 9])
        Pooling.apply([3, 3, 3], kernelSize: 3, mode: .avg, into: &out)
        #expect(out == [2, 3, 2])   // zero padding, divisor k_s
    }
}
