import Engine
import Foundation
import RequestVocabulary

extension BenchSweep {
    /// The baseline: the same prompts through the `generate` path in this process (no KV transfer).
    /// Each config runs once on the warm-up prompt first.
    func runAggregated(texts: [Int: String], requestDone: (BenchMode, BenchConfig, Int) -> Void,
                       emit: (BenchRow) throws -> Void) throws {
        let generator = Generator(loaded)
        let sampling = try SamplingParameters(maxTokens: plan.maxTokens)
        func once(_ ids: [Int32], _ config: BenchConfig) throws -> BenchSample {
            let clock = ContinuousClock()
            let start = clock.now
            var pieces = 0
            var second: Double?
            let r = try generator.generate(promptTokens: ids, sampling: sampling, compression: config.compression) { _ in
                pieces += 1
                if pieces == 2 { second = (clock.now - start).milliseconds }
            }
            return BenchSample(promptTokens: r.promptTokens, ttftMs: r.timeToFirstTokenMilliseconds,
                               prefillMs: r.prefillMilliseconds, secondTokenMs: second,
                               decodeTokensPerSecond: r.decodeTokensPerSecond, endToEndMs: (clock.now - start).milliseconds)
        }
        let warm = try loaded.encodePrompt(texts[BenchPrompts.warmUpTokens]!, chat: false)
        for config in plan.configs { _ = try once(warm, config) }
        // Length-major: every config of one length runs back to back, so their ratios share the
        // machine's conditions even when a long sweep outlasts a quiet spell.
        for n in plan.lengths {
            let ids = try loaded.encodePrompt(texts[n]!, chat: false)
            for config in plan.configs {
                let clock = ContinuousClock(), t0 = clock.now
                var samples: [BenchSample] = []
                for _ in 0..<plan.requests {
                    samples.append(try once(ids, config))
                    requestDone(.aggregated, config, n)
                }
                try emit(BenchRow(mode: .aggregated, config: config, targetTokens: n, samples: samples, errors: 0,
                                  wallMs: (clock.now - t0).milliseconds))
            }
        }
    }
}
