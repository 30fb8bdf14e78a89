import FastKV
import Foundation
import RequestVocabulary

extension Generator {
    /// Generates a continuation of `promptTokens` under each of `compressions`, all sharing one
    /// prefill forward (`SharedPrefill`); results in `compressions` order.
    ///
    /// Each result's prefill time is the shared forward's time minus the other policies' selection
    /// time: what this method's own prefill would have cost, less the difference in cache capacity
    /// planning (an estimate, not a separate measurement).
    /// - Throws: `FastKVError.changesPrefill` for GemFilter, `FastKVError.policiesDisagree` when the
    ///   compressions do not keep the same forward (full with FastKV, say): run those with `generate`.
    public func generateShared(promptTokens: [Int32], sampling: SamplingParameters,
                               compressions: [CompressionConfig]) throws -> [GenerationResult] {
        let limit = loaded.model.config.contextLength
        guard !promptTokens.isEmpty else { throw EngineError.invalidRequest("the prompt is empty") }
        guard promptTokens.count + sampling.maxTokens - 1 <= limit else {
            throw EngineError.invalidRequest(
                "prompt (\(promptTokens.count) tokens) + max tokens (\(sampling.maxTokens)) exceeds the context of \(limit)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        // Scores only when a headkv config is among them (a model without scores serves the rest).
        var scores: HeadImportance?
        for c in compressions where scores == nil { scores = try loaded.headImportance(for: c) }
        let shared = try SharedPrefill.run(model: loaded.model, tokens: promptTokens, configs: compressions,
                                           decodeReserve: sampling.maxTokens, headImportance: scores)
        let total = clock.now - start
        let allSelection = shared.selectionDurations.reduce(Duration.zero, +)
        return try compressions.indices.map { i in
            try decode(after: shared.results[i], prefillDuration: total - allSelection + shared.selectionDurations[i],
                       promptTokens: promptTokens, sampling: sampling, method: compressions[i].method)
        }
    }
}
