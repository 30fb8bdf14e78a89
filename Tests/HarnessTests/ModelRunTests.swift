import Engine
import Harness
import RequestVocabulary
import Testing

extension ModelTests {
    @Suite struct PrefillBenchmarkRunTests {
        @Test func measuresFullFirstAndEveryMethodOnce() throws {
            let loaded = try ModelTests.model()
            let knobs = try CompressionConfig(retainRate: 0.25, tspRate: 0.5)
            let bench = try PrefillBenchmark(model: loaded, methods: [.fastKV], knobs: knobs, rounds: 1, decodeTokens: 2)
            #expect(bench.methods == [.full, .fastKV], "full is added for the ratios")
            let rows = try bench.measure(length: 128)
            #expect(rows.map(\.method) == ["full", "fastkv"] && rows.allSatisfy { $0.prompt_tokens == 128 })
            let full = rows[0], fast = rows[1]
            #expect(full.ttft_ratio_full_over_method == 1 && full.decode_ratio_method_over_full == 1)
            #expect(full.kv_kept_share == 1 && full.prefill_flops_skipped_share == 0)
            #expect(fast.kv_kept_share > 0.2 && fast.kv_kept_share < 0.4, "kept \(fast.kv_kept_share) at r = 0.25")
            #expect(fast.prefill_flops_skipped_share > 0.1, "TSP at ρ = 0.5 skips part of the later layers")
            #expect(fast.ttft_ms > 0 && fast.decode_tokens_per_s > 0 && fast.ttft_cpu_s > 0)
        }

        @Test func theModelBoundsTheLengthAndTheKnobs() throws {
            let loaded = try ModelTests.model()
            let context = loaded.config.contextLength
            let bench = try PrefillBenchmark(model: loaded, methods: [.full], knobs: .full, rounds: 1, decodeTokens: 4)
            #expect(throws: HarnessError.exceedsContext(length: context, extra: 4, extraSetting: .decodeTokens, contextLength: context)) {
                _ = try bench.measure(length: context)
            }
            let layers = loaded.config.layerCount
            let deep = try CompressionConfig(tspLayer: layers)
            #expect {
                _ = try PrefillBenchmark(model: loaded, methods: [.fastKV], knobs: deep, rounds: 1, decodeTokens: 0)
            } throws: { error in
                guard case let .unsupportedKnobs(method, knob) = error as? HarnessError else { return false }
                return method == .full && knob.knob == .tspLayer
            }
        }
    }

    @Suite struct EngineBenchmarkRunTests {
        @Test func measuresPrefillAndDecode() throws {
            let model = try ModelTests.model().model
            var bench = try EngineBenchmark(model: model, runs: 2, decodeTokens: 3, seed: 7)
            try bench.warmUp()
            let p = try bench.prefill(tokens: 32)
            #expect(p.tokens == 32 && p.medianMs > 0 && p.medianCPUSeconds > 0 && p.tokensPerSecond > 0)
            let d = try bench.decode(context: 16)
            #expect(d.context == 16 && d.medianTokensPerSecond > 0 && d.fastestStepMs > 0)
            #expect(d.fastestStepMs <= d.msPerToken * 1.0001, "the fastest step is no slower than the median's mean step")
            let context = model.config.contextLength
            #expect(throws: HarnessError.exceedsContext(length: context + 1, extra: 0, extraSetting: nil, contextLength: context)) {
                _ = try bench.prefill(tokens: context + 1)
            }
            #expect(throws: HarnessError.exceedsContext(length: context - 2, extra: 3, extraSetting: .decodeTokens, contextLength: context)) {
                _ = try bench.decode(context: context - 2)
            }
            let b = try bench.batchedDecode(sequences: 3, context: 16)
            #expect(b.sequences == 3 && b.context == 16 && b.medianTokensPerSecond > 0 && b.msPerStep > 0)
            #expect(throws: HarnessError.invalid(.batchSequences, "must be ≥ 1")) { _ = try bench.batchedDecode(sequences: 0, context: 16) }
            #expect(throws: HarnessError.exceedsContext(length: context - 2, extra: 3, extraSetting: .decodeTokens, contextLength: context)) {
                _ = try bench.batchedDecode(sequences: 2, context: context - 2)
            }
        }
    }

    @Suite struct RetrievalEvalRunTests {
        @Test func fullKVFindsThePasskey() throws {
            let loaded = try ModelTests.model()
            let cases = try RetrievalEval.passkeyCases(lengths: [150], depthCount: 1, seed: 1) { loaded.tokenizer.encode($0).count }
            var seen: [RetrievalEval.CaseResult] = []
            let results = try RetrievalEval(model: loaded, maxTokens: 8).run(cases: cases, methods: [.full], knobs: .full) {
                seen.append($0)
            }
            #expect(results == seen && results.count == 1)
            let r = try #require(results.first)
            #expect(r.method == "full" && r.length == 150 && r.expected == cases[150]![0].expected)
            #expect(r.hit && r.answer.contains(r.expected) && r.prompt_tokens <= 150, "answer \(r.answer.debugDescription)")
        }

        @Test func maxTokensIsChecked() throws {
            let loaded = try ModelTests.model()
            #expect(throws: HarnessError.invalid(.maxTokens, "must be ≥ 1")) { _ = try RetrievalEval(model: loaded, maxTokens: 0) }
        }
    }
}
