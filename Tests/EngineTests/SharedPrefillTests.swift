import Engine
import FastKV
import Llama
import RequestVocabulary
import TestSupport
import Testing

extension EngineTests {
    /// One full prefill serving several policies must store, per policy, exactly what that policy's
    /// own prefill stores: the same positions, the same K and V bits, the same logits and the same
    /// greedy continuation.
    @Suite struct SharedPrefillTests {
        static func configs() throws -> [CompressionConfig] {
            [.full,
             try CompressionConfig(method: .snapKV, retainRate: 0.1),
             try CompressionConfig(method: .streamingLLM, kvBudget: 40),
             try CompressionConfig(method: .adaKV, retainRate: 0.15),
             try CompressionConfig(method: .h2o, retainRate: 0.2),
             try CompressionConfig(method: .pyramidInfer, kvBudget: 64)]
        }

        @Test func eachPolicyKeepsExactlyWhatItsOwnPrefillKeeps() throws {
            let loaded = try SharedEngine.get()
            let text = String(repeating: "The grass is green. The sky is blue. ", count: 20)
                + "The pass key is 48213. Remember it. " + String(repeating: "Here we go. There and back again. ", count: 12)
                + "What is the pass key? The pass key is"
            let ids = try loaded.encodePrompt(text, chat: false)
            #expect(ids.count > 200)
            let configs = try Self.configs()
            let shared = try SharedPrefill.run(model: loaded.model, tokens: ids, configs: configs, decodeReserve: 4)
            #expect(shared.results.count == configs.count && shared.selectionDurations.count == configs.count)
            for (i, config) in configs.enumerated() {
                let alone = try CompressedPrefill.run(model: loaded.model, tokens: ids, config: config, decodeReserve: 4)
                Self.expectSame(shared.results[i], alone, config.method.rawValue, layerCount: loaded.config.layerCount)
            }
            // The compressing policies really kept less than full, so the comparison is not vacuous.
            #expect(shared.results[1].record.keptEntries < shared.results[0].record.keptEntries / 5)
            #expect(shared.results[3].record.layers.contains { Set($0.kept.map(\.count)).count > 1 }, "AdaKV is ragged")
        }

        /// FastKV at several r with one ρ and ℓ_T propagates the same TSP rows, so the budgets share one forward.
        @Test func fastKVBudgetsAtOneRhoShareOneForward() throws {
            let loaded = try SharedEngine.get()
            let ids = try loaded.encodePrompt(String(repeating: "The grass is green. The sky is blue. Here we go. ", count: 25)
                + "What is the colour of the sky?", chat: false)
            let configs = try [0.05, 0.1, 0.25].map { try CompressionConfig(method: .fastKV, retainRate: $0, tspRate: 0.3) }
                + [try CompressionConfig(method: .fastKV, kvBudget: 48, tspRate: 0.3)]
            let shared = try SharedPrefill.run(model: loaded.model, tokens: ids, configs: configs, decodeReserve: 2)
            for (i, config) in configs.enumerated() {
                let alone = try CompressedPrefill.run(model: loaded.model, tokens: ids, config: config, decodeReserve: 2)
                #expect(alone.record.tsp_positions != nil, "TSP ran, so the shared forward really dropped tokens")
                Self.expectSame(shared.results[i], alone, "fastkv r=\(config.retainRate) C=\(config.kvBudget ?? 0)",
                                layerCount: loaded.config.layerCount)
                #expect(shared.results[i].flops == alone.flops && shared.results[i].fullFlops == alone.fullFlops)
            }
            // Full keeps the whole forward, FastKV does not: they cannot share one.
            #expect {
                _ = try SharedPrefill.run(model: loaded.model, tokens: ids, configs: [.full, configs[0]])
            } throws: { error in
                guard case let .policiesDisagree(a, b, layer) = error as? FastKVError else { return false }
                return a == .full && b == .fastKV && layer == configs[0].resolvedTSPLayer(layerCount: loaded.config.layerCount)
            }
        }

        /// Several H2O budgets in one forward score each layer once (the memo) and still keep exactly
        /// what each keeps alone; each is charged the scoring it reused.
        @Test func h2oBudgetsShareTheirScores() throws {
            let loaded = try SharedEngine.get()
            let ids = try loaded.encodePrompt(String(repeating: "The grass is green. The sky is blue. Here we go. ", count: 20)
                + "What is the colour of the grass?", chat: false)
            let configs = [try CompressionConfig(method: .h2o, retainRate: 0.1), try CompressionConfig(method: .snapKV, retainRate: 0.1),
                           try CompressionConfig(method: .h2o, retainRate: 0.3), try CompressionConfig(method: .h2o, kvBudget: 48)]
            let shared = try SharedPrefill.run(model: loaded.model, tokens: ids, configs: configs, decodeReserve: 2)
            for (i, config) in configs.enumerated() {
                let alone = try CompressedPrefill.run(model: loaded.model, tokens: ids, config: config, decodeReserve: 2)
                Self.expectSame(shared.results[i], alone, "\(config.method.rawValue) #\(i)", layerCount: loaded.config.layerCount)
            }
            #expect(Set([0, 2, 3].map { shared.results[$0].record.keptEntries }).count == 3, "the budgets keep different amounts")
            // The second and third H2O budgets take every layer's scores from the first...
            #expect(shared.h2oScoreReuses == 2 * loaded.config.layerCount, "\(shared.h2oScoreReuses)")
            // ...and are charged that scoring, which the run spent once: what the policies charge exceeds what they spent.
            #expect(shared.spentSelection < shared.selectionDurations.reduce(.zero, +))
            let result = try Generator(loaded).prefillShared(promptTokens: ids, sampling: try SamplingParameters(maxTokens: 2), compressions: configs)
            #expect(result.allSatisfy { $0.prefillDuration > .zero }, "\(result.map(\.prefillDuration))")
        }

        /// GemFilter at several budgets runs its filter pass once: each budget's cache, logits and flops
        /// are its own two-pass run's.
        @Test func gemFilterBudgetsShareTheFilterPass() throws {
            let loaded = try SharedEngine.get()
            let ids = try loaded.encodePrompt(String(repeating: "The grass is green. The sky is blue. Here we go. ", count: 20)
                + "The pass key is 48213. What is the pass key? The pass key is", chat: false)
            let configs = [try CompressionConfig(method: .gemFilter, retainRate: 0.05), try CompressionConfig(method: .gemFilter, retainRate: 0.2),
                           try CompressionConfig(method: .gemFilter, kvBudget: 40)]
            let shared = try CompressedPrefill.runGemFilter(model: loaded.model, tokens: ids, configs: configs, decodeReserve: 2)
            #expect(shared.results.count == 3 && shared.durations.count == 3)
            for (i, config) in configs.enumerated() {
                let alone = try CompressedPrefill.run(model: loaded.model, tokens: ids, config: config, decodeReserve: 2)
                Self.expectSame(shared.results[i], alone, "gemfilter #\(i)", layerCount: loaded.config.layerCount)
                #expect(shared.results[i].flops == alone.flops)
                #expect(alone.record.keptEntries == GemFilterPolicy.keptCount(config: config, promptLength: ids.count)
                        * loaded.config.layerCount * loaded.config.kvHeadCount)
            }
            #expect(throws: FastKVError.self) {
                _ = try CompressedPrefill.runGemFilter(model: loaded.model, tokens: ids, configs: [configs[0], .full])
            }
        }

        static func expectSame(_ s: CompressedPrefillResult, _ alone: CompressedPrefillResult, _ label: String, layerCount: Int) {
            #expect(s.record == alone.record, "\(label): kept positions differ")
            #expect(s.logits == alone.logits, "\(label): logits differ")
            #expect(s.cache.nextPosition == alone.cache.nextPosition)
            for l in 0..<layerCount {
                let a = s.cache.layers[l], b = alone.cache.layers[l]
                #expect(a.counts == b.counts, "\(label) layer \(l): counts \(a.counts) vs \(b.counts)")
                guard a.counts == b.counts else { continue }
                let n = a.entryCount * a.headDim
                var ka = [Float](repeating: 0, count: n), va = ka, kb = ka, vb = ka
                ka.withUnsafeMutableBufferPointer { k in va.withUnsafeMutableBufferPointer { v in a.copyEntries(keys: k.baseAddress!, values: v.baseAddress!) } }
                kb.withUnsafeMutableBufferPointer { k in vb.withUnsafeMutableBufferPointer { v in b.copyEntries(keys: k.baseAddress!, values: v.baseAddress!) } }
                let diff = zip(ka + va, kb + vb).map { abs($0 - $1) }.max() ?? 0
                #expect(diff == 0, "\(label) layer \(l): largest K/V difference \(diff), tolerance 0")
            }
        }

        @Test func sharedGenerationEqualsEachMethodsOwnGeneration() throws {
            let loaded = try SharedEngine.get()
            let ids = try loaded.encodePrompt(String(repeating: "The sun is yellow. ", count: 30)
                + "The special magic number for kavo-rimel is: 5190372. " + String(repeating: "The sky is blue. ", count: 10)
                + "What is the special magic number for kavo-rimel? The special magic number for kavo-rimel is", chat: false)
            let sampling = try SamplingParameters(maxTokens: 6)
            let configs = try Self.configs()
            let shared = try Generator(loaded).generateShared(promptTokens: ids, sampling: sampling, compressions: configs)
            for (i, config) in configs.enumerated() {
                let alone = try Generator(loaded).generate(promptTokens: ids, sampling: sampling, compression: config)
                #expect(shared[i].tokens == alone.tokens, "\(config.method.rawValue): \(shared[i].text) vs \(alone.text)")
                #expect(shared[i].method == config.method.rawValue && shared[i].keptEntries == alone.keptEntries)
                #expect(shared[i].timeToFirstTokenMilliseconds > 0)
            }
        }

        @Test func gemFilterIsRefused() throws {
            let loaded = try SharedEngine.get()
            #expect(throws: FastKVError.changesPrefill(.gemFilter)) {
                _ = try SharedPrefill.run(model: loaded.model, tokens: [1, 2, 3], configs: [.full, .full.with(method: .gemFilter)])
            }
        }
    }
}
