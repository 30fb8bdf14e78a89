import FastKV
import Foundation
import RequestVocabulary

extension Generator {
    /// Generates a continuation of `promptTokens` under each of `compressions`, all sharing one
    /// prefill forward (`prefillShared`) and decoded as one batch (`decodeTogether`); results in
    /// `compressions` order.
    /// - Throws: `FastKVError.changesPrefill` for GemFilter among other methods, `FastKVError.policiesDisagree`
    ///   when the compressions do not keep the same forward (full with FastKV, say): run those with `generate`.
    public func generateShared(promptTokens: [Int32], sampling: SamplingParameters,
                               compressions: [CompressionConfig]) throws -> [GenerationResult] {
        try decodeTogether(prefillShared(promptTokens: promptTokens, sampling: sampling, compressions: compressions),
                           promptTokens: promptTokens, sampling: sampling)
    }

    /// One prefill forward (`SharedPrefill`) whose layers fill a cache per compression; or, when
    /// every compression is GemFilter, one filter pass for all of them and a second pass each
    /// (`CompressedPrefill.runGemFilter`).
    ///
    /// Each sequence's prefill time is the shared forward's time minus the time all policies spent
    /// selecting, plus this method's own selection time: what its own prefill would have cost, less the difference in cache capacity
    /// planning (an estimate, not a separate measurement). GemFilter's is the filter pass plus its own
    /// second pass.
    public func prefillShared(promptTokens: [Int32], sampling: SamplingParameters,
                              compressions: [CompressionConfig]) throws -> [PrefilledSequence] {
        try checkFits(promptTokens: promptTokens, sampling: sampling)
        if !compressions.isEmpty && compressions.allSatisfy({ $0.method == .gemFilter }) {
            let out = try CompressedPrefill.runGemFilter(model: loaded.model, tokens: promptTokens, configs: compressions,
                                                         decodeReserve: sampling.maxTokens)
            return compressions.indices.map {
                PrefilledSequence(prefill: out.results[$0], prefillDuration: out.durations[$0], method: .gemFilter)
            }
        }
        let clock = ContinuousClock()
        let start = clock.now
        // Scores only when a headkv config is among them (a model without scores serves the rest).
        var scores: HeadImportance?
        for c in compressions where scores == nil { scores = try loaded.headImportance(for: c) }
        let shared = try SharedPrefill.run(model: loaded.model, tokens: promptTokens, configs: compressions,
                                           decodeReserve: sampling.maxTokens, headImportance: scores)
        let total = clock.now - start
        return compressions.indices.map { i in
            PrefilledSequence(prefill: shared.results[i], prefillDuration: total - shared.spentSelection + shared.selectionDurations[i],
                              method: compressions[i].method)
        }
    }
}
