import FastKV
import Llama
import Testing
import TestSupport

/// Spec §7 edge cases on the real model with short prompts.
@Suite(.serialized) struct EdgeCaseTests {
    static func prompt(_ n: Int) throws -> [Int32] {
        let ids = (try Fixtures.json("fastkv/pub_para300_r0.2_rho0.2.json")["ids"] as! [Any]).int32s
        return Array(ids.prefix(n))
    }

    @Test func promptShorterThanWindowKeepsEverything() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(5)
        let full = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .full))
        let fast = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .fastkv))
        #expect(fast.record.tsp_positions == nil)
        #expect(fast.record.layers.allSatisfy { $0.entering_tokens == 5 && $0.kept.allSatisfy { $0 == [0, 1, 2, 3, 4] } })
        #expect(fast.logits == full.logits)
    }

    @Test func budgetBelowWindowKeepsOnlyTheWindow() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(12)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .fastkv))
        #expect(r.record.tsp_positions == nil, "n_T = 2 ≤ w: no TSP")
        #expect(r.record.layers.allSatisfy { $0.entering_tokens == 12 && $0.kept.allSatisfy { $0 == Array(4..<12) } })
    }

    @Test func retainRateAboveTSPRateKeepsAllPropagatedTokens() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(100)
        let config = CompressionConfig(method: .fastkv, retainRate: 0.5, tspRate: 0.2)
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
        let config = CompressionConfig(method: .fastkv, kvBudget: 512, tspLength: 50)
        let r = try CompressedPrefill.run(model: model, tokens: ids, config: config)
        #expect(r.record.tsp_positions == nil)
        #expect(r.record.layers.allSatisfy { $0.entering_tokens == 100 && $0.kept.allSatisfy { $0.count == 100 } })
    }

    @Test func baselinesKeepTheirBudgets() throws {
        let model = try SharedModel.get()
        let ids = try Self.prompt(100)
        let snap = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .snapkv))
        #expect(snap.record.layers.allSatisfy { $0.entering_tokens == 100 && $0.kept.allSatisfy { $0.count == 10 && $0.suffix(8) == Array(92..<100)[...] } })
        #expect(snap.skippedFlopShare == 0)

        let stream = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .streamingllm))
        #expect(stream.record.layers.allSatisfy { $0.kept.allSatisfy { $0 == [0, 1, 2, 3, 94, 95, 96, 97, 98, 99] } })

        let gem = try CompressedPrefill.run(model: model, tokens: ids, config: CompressionConfig(method: .gemfilter),
                                            decodeReserve: 1)
        let chosen = try #require(gem.record.tsp_positions)
        #expect(chosen.count == 10 && chosen == chosen.sorted())
        #expect(gem.record.layers.allSatisfy { $0.entering_tokens == 10 && $0.kept.allSatisfy { $0 == chosen } })
        #expect(gem.cache.nextPosition == 10, "GemFilter renumbers: decode continues at k")
        #expect(gem.skippedFlopShare > 0.3)
    }
}
