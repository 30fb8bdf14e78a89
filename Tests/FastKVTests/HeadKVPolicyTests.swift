import FastKV
import Foundation
import Llama
import RequestVocabulary
import TestSupport
import Testing

/// HeadKV: budgets and kept rows against a naive reference written from the paper's definition
/// (arXiv 2410.19258 §3.2: pool ⌊B/β⌋·L·H shared by normalized scores^τ, minimum B − ⌊B/β⌋ per
/// head, SnapKV selection inside each head), on the tiny model and on SmolLM2.
@Suite(.serialized) struct HeadKVPolicyTests {
    typealias Model = BaselinePolicyTests.Model

    /// Seeded query-head scores with some zeros, so shares differ and a few heads get the minimum.
    static func importance(for model: LlamaModel, seed: UInt64 = 7) -> HeadImportance {
        let c = model.config
        var x = seed
        let scores = (0..<c.layerCount).map { _ in
            (0..<c.headCount).map { _ -> Double in
                x = x &* 6364136223846793005 &+ 1442695040888963407
                let u = Double(x >> 11) / Double(1 << 53)
                return u < 0.3 ? 0 : u * u
            }
        }
        return HeadImportance(fingerprint: "test", model: "test", layerCount: c.layerCount, headCount: c.headCount,
                              kvHeadCount: c.kvHeadCount, scores: scores,
                              trials: .init(lengths: [64], depths: [0.5], seed: seed, attempted: 1, accepted: 1, rule: "test"))
    }

    /// The paper's allocation, in the plainest loops: fold each KV head's query heads by their mean,
    /// normalize over the whole model, raise to τ, normalize, give every head B − ⌊B/β⌋ plus its
    /// quota of the pool, the pool's whole entries first and the leftovers to the largest fractions.
    static func referenceBudgets(_ h: HeadImportance, b: Int, beta: Double, temperature: Double) -> [[Int]] {
        let g = h.headCount / h.kvHeadCount
        var folded: [Double] = []
        for l in 0..<h.layerCount {
            for kv in 0..<h.kvHeadCount {
                var s = 0.0
                for q in 0..<g { s += h.scores[l][kv * g + q] }
                folded.append(s / Double(g))
            }
        }
        let total = folded.reduce(0, +)
        var p = folded.map { Foundation.pow($0 / total, temperature) }
        let t2 = p.reduce(0, +)
        p = p.map { $0 / t2 }
        let pooledPerHead = Int(floor(Double(b) / beta))
        let pool = pooledPerHead * folded.count
        let quota = p.map { $0 * Double(pool) }
        var whole = quota.map { Int(floor($0)) }
        let order = quota.indices.sorted {
            let a = quota[$0] - floor(quota[$0]), c = quota[$1] - floor(quota[$1])
            return a > c || (a == c && $0 < $1)
        }
        var left = pool - whole.reduce(0, +)
        for i in order where left > 0 { whole[i] += 1; left -= 1 }
        return (0..<h.layerCount).map { l in
            (0..<h.kvHeadCount).map { kv in b - pooledPerHead + whole[l * h.kvHeadCount + kv] }
        }
    }

    @Test(arguments: Model.allCases)
    func keptRowsMatchReference(model m: Model) throws {
        let model = try BaselinePolicyTests.model(m)
        let importance = Self.importance(for: model)
        let config = try CompressionConfig(method: .headKV, retainRate: 0.2)
        let w = config.windowSize
        let layers = try BaselinePolicyTests.run(m, HeadKVPolicy(config: config, importance: importance))
        let n = layers[0].n
        let b = min(max(Int(Double(n) * 0.2) - w, 0), n - w)
        let budgets = Self.referenceBudgets(importance, b: b, beta: 1.2, temperature: 1)
        #expect(budgets.joined().reduce(0, +) == model.config.layerCount * model.config.kvHeadCount * b,
                "the model total is L·Hk·B")
        #expect(HeadKVPolicy.headBudgets(importance.kvHeadScores, perHeadBudget: b, beta: 1.2, temperature: 1) == budgets)
        var ragged = false
        for L in layers {
            let scores = BaselineReference.windowScores(L, w: w, kernel: config.kernelSize)
            let want = scores.indices.map { BaselineReference.topK(scores[$0], min(budgets[L.layer][$0], n - w)) }
            let got = L.kept.map { Array($0.filter { $0 < n - w }) }
            #expect(L.kept.map(\.count) == want.map { $0.count + w }, "layer \(L.layer): kept counts")
            #expect(L.kept.allSatisfy { Array($0.suffix(w)) == Array((n - w)..<n) }, "layer \(L.layer): window not kept")
            let boundary: (Int) -> Double = { h in want[h].map { scores[h][$0] }.min() ?? 0 }
            if let problem = BaselineReference.compare(got: got, want: want, scores: scores, boundary: boundary) {
                Issue.record("\(m) layer \(L.layer): \(problem)")
            }
            ragged = ragged || Set(L.kept.map(\.count)).count > 1
        }
        #expect(ragged, "\(m): HeadKV never gave two heads different counts")
        // The plan the prefill worker announces is what the policy stores.
        let planned = KVPlan.entryCounts(config: config, promptLength: n, layerCount: model.config.layerCount,
                                         kvHeadCount: model.config.kvHeadCount, headImportance: importance)
        #expect(planned == layers.map { $0.kept.reduce(0) { $0 + $1.count } })
    }

    @Test func budgetsByHand() {
        // One layer, two heads, B = 10, β = 1.2: ⌊10/1.2⌋ = 8 per head pooled (16), minimum 2.
        #expect(HeadKVPolicy.headBudgets([[1, 3]], perHeadBudget: 10, beta: 1.2, temperature: 1) == [[6, 14]])
        // τ = 2: weights 1/10 and 9/10 → quotas 1.6 and 14.4; the leftover entry goes to 0.6.
        #expect(HeadKVPolicy.headBudgets([[1, 3]], perHeadBudget: 10, beta: 1.2, temperature: 2) == [[4, 16]])
        // All-zero scores share the pool evenly; β = 1 pools everything (minimum 0).
        #expect(HeadKVPolicy.headBudgets([[0, 0], [0, 0]], perHeadBudget: 5, beta: 1, temperature: 1) == [[5, 5], [5, 5]])
        // A head with score 0 keeps exactly the minimum.
        #expect(HeadKVPolicy.headBudgets([[0, 1]], perHeadBudget: 12, beta: 1.2, temperature: 1) == [[2, 22]])
    }

    @Test func missingScoresAreAClearError() throws {
        let model = try BaselinePolicyTests.model(.tiny)
        let config = try CompressionConfig(method: .headKV)
        #expect(throws: HeadScoresError.missing(fingerprint: nil)) {
            _ = try CompressedPrefill.run(model: model, tokens: BaselinePolicyTests.tokens(.tiny), config: config)
        }
    }

    @Test func scoresFileIsChecked() throws {
        let model = try BaselinePolicyTests.model(.tiny)
        var h = Self.importance(for: model)
        let good = try HeadImportance.decode(h.encoded(), source: "t")
        #expect(good == h)
        #expect(throws: HeadScoresError.self) { try good.check(fingerprint: "other", layerCount: 2, headCount: 4, kvHeadCount: 2, source: "t") }
        h.scores[0][0] = -1
        #expect(throws: HeadScoresError.self) { try HeadImportance.decode(h.encoded(), source: "t") }
        h.scores[0] = [1]
        #expect(throws: HeadScoresError.self) { try HeadImportance.decode(h.encoded(), source: "t") }
        #expect(throws: HeadScoresError.self) { try HeadImportance.decode(Data("{}".utf8), source: "t") }
    }
}
