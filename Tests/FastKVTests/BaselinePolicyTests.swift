import Checkpoints
import FastKV
import Foundation
import Llama
import RequestVocabulary
import TestSupport
import Testing

/// AdaKV, H2O and the pyramid schedule: every layer's kept rows equal the naive references of
/// `BaselineReference` (written from the definitions), on the tiny random model and on SmolLM2.
@Suite(.serialized) struct BaselinePolicyTests {
    static let tiny: Result<LlamaModel, Error> = Result {
        let dir = try TemporaryDirectory()
        try TinyLlama(seed: 3).writeHF(to: dir.file("hf"))
        return try LlamaModel(checkpoint: openCheckpoint(at: dir.file("hf")))
    }

    enum Model: String, CaseIterable, Sendable { case tiny, smolLM }

    static func model(_ m: Model) throws -> LlamaModel {
        switch m {
        case .tiny: try tiny.get()
        case .smolLM: try SharedModel.get()
        }
    }

    static func tokens(_ m: Model) -> [Int32] {
        switch m {
        case .tiny: (0..<120).map { Int32(1 + ($0 * 29) % 63) }
        case .smolLM: (0..<260).map { Int32(100 + ($0 * 37) % 5000) }
        }
    }

    static func run<P: KVSelectionPolicy>(_ m: Model, _ policy: P) throws -> [CapturedLayer] {
        let model = try Self.model(m)
        var capture = CapturingPolicy(inner: policy)
        let cache = model.makeCache(capacity: 1)
        _ = try model.prefill(tokens: tokens(m), cache: cache, policy: &capture)
        return capture.layers
    }

    @Test(arguments: Model.allCases)
    func adaKVMatchesReference(model m: Model) throws {
        let config = try CompressionConfig(method: .adaKV, retainRate: 0.15)
        let w = config.windowSize
        var ragged = false
        for L in try Self.run(m, AdaKVPolicy(config: config)) {
            let b = min(max(Int(Double(L.n) * 0.15) - w, 0), L.n - w)
            let scores = BaselineReference.windowScores(L, w: w, kernel: config.kernelSize)
            let want = BaselineReference.adaKV(scores, budget: b, alpha: 0.2)
            let got = L.kept.map { Array($0.filter { $0 < L.n - w }) }
            #expect(L.kept.allSatisfy { Array($0.suffix(w)) == Array((L.n - w)..<L.n) }, "layer \(L.layer): window not kept")
            #expect(L.kept.reduce(0) { $0 + $1.count } == L.kvHeads * (b + w), "layer \(L.layer): total is not Hk·C")
            // The boundary: the lowest score the pooled selection took.
            let taken = want.enumerated().flatMap { h, rows in rows.map { scores[h][$0] } }
            let poolBoundary = taken.min() ?? 0
            if let problem = BaselineReference.compare(got: got, want: want, scores: scores, boundary: { _ in poolBoundary }) {
                Issue.record("\(m) layer \(L.layer): \(problem)")
            }
            ragged = ragged || Set(L.kept.map(\.count)).count > 1
        }
        #expect(ragged, "\(m): AdaKV never gave two heads different counts (the test would not exercise ragged layers)")
    }

    /// α = 1 leaves nothing to the pooled top-k: every head keeps its own top B, which is SnapKV. α = 0
    /// pools the whole budget, so the layer keeps the top Hk·B scores over all heads. Both on the real
    /// selection path (scores from the model's own activations), not on hand-made scores.
    @Test(arguments: Model.allCases)
    func adaKVAtItsAlphaLimits(model m: Model) throws {
        let snap = try Self.run(m, WindowSelectionPolicy(config: CompressionConfig(method: .snapKV, retainRate: 0.15),
                                                              layerCount: try Self.model(m).config.layerCount))
        let ada1 = try Self.run(m, AdaKVPolicy(config: CompressionConfig(method: .adaKV, retainRate: 0.15, adaAlpha: 1)))
        #expect(snap.count == ada1.count && !snap.isEmpty)
        for (s, a) in zip(snap, ada1) {
            #expect(s.kept.map { Set($0) } == a.kept.map { Set($0) }, "\(m) layer \(s.layer): AdaKV α = 1 differs from SnapKV")
        }
        let config0 = try CompressionConfig(method: .adaKV, retainRate: 0.15, adaAlpha: 0)
        let w = config0.windowSize
        for L in try Self.run(m, AdaKVPolicy(config: config0)) {
            let b = min(max(Int(Double(L.n) * 0.15) - w, 0), L.n - w)
            let scores = BaselineReference.windowScores(L, w: w, kernel: config0.kernelSize)
            let got = L.kept.map { $0.filter { $0 < L.n - w } }
            #expect(got.reduce(0) { $0 + $1.count } == L.kvHeads * b, "\(m) layer \(L.layer)")
            // Every kept score is at least every dropped score, across heads (up to float rounding).
            let keptMin = got.enumerated().flatMap { h, rows in rows.map { scores[h][$0] } }.min() ?? .infinity
            let droppedMax = scores.enumerated().flatMap { h, row in
                row.indices.filter { !Set(got[h]).contains($0) }.map { row[$0] }
            }.max() ?? -.infinity
            #expect(keptMin >= droppedMax - 1e-5 * max(1, abs(droppedMax)), "\(m) layer \(L.layer): α = 0 is not a pooled top-k")
        }
    }

    @Test(arguments: Model.allCases)
    func h2oMatchesReference(model m: Model) throws {
        let config = try CompressionConfig(method: .h2o, retainRate: 0.15)
        let w = config.windowSize
        for L in try Self.run(m, H2OPolicy(config: config)) {
            let b = min(max(Int(Double(L.n) * 0.15) - w, 0), L.n - w)
            let scores = BaselineReference.accumulatedAttention(L, w: w)
            let want = scores.map { BaselineReference.topK($0, b) }
            let got = L.kept.map { Array($0.filter { $0 < L.n - w }) }
            #expect(L.kept.allSatisfy { $0.count == b + w && Array($0.suffix(w)) == Array((L.n - w)..<L.n) },
                    "layer \(L.layer): kept \(L.kept.map(\.count)), want \(b + w) per head with the window")
            let boundary: (Int) -> Double = { h in want[h].map { scores[h][$0] }.min() ?? 0 }
            if let problem = BaselineReference.compare(got: got, want: want, scores: scores, boundary: boundary) {
                Issue.record("\(m) layer \(L.layer): \(problem)")
            }
        }
    }

    @Test(arguments: Model.allCases)
    func pyramidMatchesReference(model m: Model) throws {
        let config = try CompressionConfig(method: .pyramidInfer, retainRate: 0.15)
        let w = config.windowSize
        let layers = try Self.run(m, PyramidPolicy(config: config, layerCount: try Self.model(m).config.layerCount))
        var budgets: [Int] = []
        for L in layers {
            let base = min(max(Int(Double(L.n) * 0.15) - w, 0), L.n - w)
            let b = BaselineReference.pyramidBudget(base: base, layer: L.layer, layers: layers.count, available: L.n - w)
            budgets.append(b)
            let scores = BaselineReference.windowScores(L, w: w, kernel: config.kernelSize)
            let want = scores.map { BaselineReference.topK($0, b) }
            let got = L.kept.map { Array($0.filter { $0 < L.n - w }) }
            #expect(L.kept.allSatisfy { $0.count == b + w }, "layer \(L.layer): kept \(L.kept.map(\.count)), want \(b + w)")
            let boundary: (Int) -> Double = { h in want[h].map { scores[h][$0] }.min() ?? 0 }
            if let problem = BaselineReference.compare(got: got, want: want, scores: scores, boundary: boundary) {
                Issue.record("\(m) layer \(L.layer): \(problem)")
            }
        }
        // Budgets shrink with depth and keep (about) the uniform total: L·B ≤ Σ B_ℓ < L·B + L².
        let base = min(max(Int(Double(layers[0].n) * 0.15) - w, 0), layers[0].n - w)
        #expect(zip(budgets, budgets.dropFirst()).allSatisfy { $0 >= $1 } && budgets.first! > budgets.last!)
        let total = budgets.reduce(0, +)
        #expect(total >= layers.count * base && total < layers.count * base + layers.count * layers.count,
                "pyramid total \(total) vs uniform \(layers.count * base)")
    }

    /// The share arithmetic on its own: floor, pooled remainder, exact total, head order on ties.
    @Test func adaKVSharesByHand() {
        // Head 0 is concentrated, head 1 spread out: B = 5, floor ⌊0.2·5⌋ = 1, 2·4 = 8 pooled picks.
        let scores: [[Float]] = [[9, 0, 0, 0, 0, 0, 0, 0], [5, 5, 5, 5, 5, 5, 5, 5]]
        #expect(AdaKVPolicy.headShares(scores, perHeadBudget: 5, floorAlpha: 0.2) == [2, 8])
        // Ties across heads go to the lower head, and no head exceeds its n − w entries.
        #expect(AdaKVPolicy.headShares([[1, 1], [1, 1]], perHeadBudget: 1, floorAlpha: 0.2) == [2, 0])
        #expect(AdaKVPolicy.headShares([[1, 1, 1], [0, 0, 0]], perHeadBudget: 3, floorAlpha: 0) == [3, 3])
    }
}
