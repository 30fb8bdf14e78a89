import FastKV
import Llama
import RequestVocabulary
import TestSupport
import Testing

/// Spec §7 edge cases on the real model with short prompts.
@Suite(.serialized) struct EdgeCaseTests {
    static func prompt(_ n: Int) throws -> [Int32] {
        let ids = (try Fixtures.json("fastkv/pub_para300_r0.2_rho0.2.json")["ids"] as! [Any]).int32s
        return Array(ids.prefix(n))
    }

    @Test func promptShorterThanWindowKeepsEverything() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(5)
        let full = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .full))
        let fast = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .fastKV))
        #expect(fast.record.tsp_positions == nil)
        #expect(fast.record.layers.allSatisfy { $0.entering_tokens == 5 && $0.kept.allSatisfy { $0 == [0, 1, 2, 3, 4] } })
        #expect(fast.logits == full.logits)
    }

    @Test func budgetBelowWindowKeepsOnlyTheWindow() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(12)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .fastKV))
        #expect(r.record.tsp_positions == nil, "n_T = 2 ≤ w: no TSP")
        #expect(r.record.layers.allSatisfy { $0.entering_tokens == 12 && $0.kept.allSatisfy { $0 == Array(4..<12) } })
    }

    /// Spec §1.1/§1.2 step 1: the per-layer rates are fixed before the run, so when the prompt is too
    /// short for TSP (n_T = ⌊40·0.2⌋ = 8 = w, §7.2) the layers after ℓ_T still budget with
    /// r' = r/ρ = 0.5 on the 40 tokens that enter them: C' = 20 (12 picks + the window), while the
    /// layers up to ℓ_T keep ⌊40·0.1⌋ = 4 < w, i.e. the window only.
    @Test(arguments: [40, 44])
    func layersAfterTheTSPLayerUseTheRescaledRateWhenTSPIsSkipped(n: Int) throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(n)
        let config = try CompressionConfig(method: .fastKV, retainRate: 0.1, tspRate: 0.2)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: config)
        #expect(r.record.tsp_positions == nil, "n_T = \(n / 5) ≤ w: no TSP")
        let after = n / 2   // ⌊n·0.5⌋
        for layer in r.record.layers {
            #expect(layer.entering_tokens == n)
            let expected = layer.layer <= 14 ? 8 : after
            #expect(layer.kept.allSatisfy { $0.count == expected && Array($0.suffix(8)) == Array((n - 8)..<n) },
                    "layer \(layer.layer): kept \(layer.kept.map(\.count)), expected \(expected) per head")
        }
        #expect(KVPlan.entryCounts(config: config, promptLength: n, layerCount: 30, kvHeadCount: 3) == r.cache.entryCounts)
    }

    @Test func retainRateAboveTSPRateKeepsAllPropagatedTokens() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(100)
        let config = try CompressionConfig(method: .fastKV, retainRate: 0.5, tspRate: 0.2)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: config)
        let tsp = try #require(r.record.tsp_positions)
        #expect(tsp.count == 20 && Array(tsp.suffix(8)) == Array(92..<100))
        for layer in r.record.layers {
            if layer.layer <= 14 {
                #expect(layer.entering_tokens == 100 && layer.kept.allSatisfy { $0.count == 50 })
            } else {
                #expect(layer.entering_tokens == 20 && layer.kept.allSatisfy { $0 == tsp })
            }
        }
        #expect(r.skippedFlopShare > 0.3)
    }

    @Test func constantBudgetAboveNDisablesCompressionAndTSP() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(100)
        let config = try CompressionConfig(method: .fastKV, kvBudget: 512, tspLength: 50)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: config)
        #expect(r.record.tsp_positions == nil)
        #expect(r.record.layers.allSatisfy { $0.entering_tokens == 100 && $0.kept.allSatisfy { $0.count == 100 } })
    }

    @Test func baselinesKeepTheirBudgets() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(100)
        let snap = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .snapKV))
        #expect(snap.record.layers.allSatisfy { $0.entering_tokens == 100 && $0.kept.allSatisfy { $0.count == 10 && $0.suffix(8) == Array(92..<100)[...] } })
        #expect(snap.skippedFlopShare == 0)

        let stream = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .streamingLLM))
        #expect(stream.record.layers.allSatisfy { $0.kept.allSatisfy { $0 == [0, 1, 2, 3, 94, 95, 96, 97, 98, 99] } })

        let gem = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .gemFilter),
                                            decodeReserve: 1)
        let chosen = try #require(gem.record.tsp_positions)
        #expect(chosen.count == 10 && chosen == chosen.sorted())
        #expect(gem.record.layers.allSatisfy { $0.entering_tokens == 10 && $0.kept.allSatisfy { $0 == chosen } })
        #expect(gem.cache.nextPosition == 10, "GemFilter renumbers: decode continues at k")
        #expect(gem.skippedFlopShare > 0.3)
    }
}
