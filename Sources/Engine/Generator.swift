import FastKV
import RequestVocabulary
import Foundation
import Llama
import Tensors
import Tokenization

/// Timings and outputs of one generation.
public struct GenerationResult: Sendable {
    public var text: String
    public var tokens: [Int32]
    public var promptTokens: Int
    public var prefillMilliseconds: Double
    /// Time from the start of prefill to the first token (prefill + sampling).
    public var timeToFirstTokenMilliseconds: Double
    public var decodeMilliseconds: Double
    /// Generated tokens after the first, per second of decode time.
    public var decodeTokensPerSecond: Double
    public var finishReason: FinishReason
    /// Logits of the last prompt position, [vocab].
    public var lastPromptLogits: [Float]
    /// Every selection prefill made, and the FLOP accounting.
    public var prefill: CompressedPrefillResult
    /// KV entries (summed over layers and KV heads) kept after prefill, and what full KV keeps.
    public var keptEntries: Int
    public var fullEntries: Int
    /// The same in bytes (K and V) at the cache's dtype.
    public var keptBytes: Int
    public var fullBytes: Int
    public var method: String
    /// How the cache stored K and V (`--kv-dtype`).
    public var kvDType: KVDType
}

/// Runs prefill then decode for one request in this process (the aggregated path).
public struct Generator {
    public let loaded: LoadedModel

    public init(_ loaded: LoadedModel) { self.loaded = loaded }

    /// Generates a continuation of `promptTokens`. `onText` receives text as it becomes safe to
    /// show (never half a UTF-8 character, never part of a stop string).
    public func generate(promptTokens: [Int32], sampling: SamplingParameters,
                         compression: CompressionConfig = .full,
                         onText: (String) -> Void = { _ in }) throws -> GenerationResult
    {
        let model = loaded.model
        let limit = model.config.contextLength
        guard !promptTokens.isEmpty else { throw EngineError.invalidRequest("the prompt is empty") }
        guard promptTokens.count + sampling.maxTokens - 1 <= limit else {
            throw EngineError.invalidRequest(
                "prompt (\(promptTokens.count) tokens) + max tokens (\(sampling.maxTokens)) exceeds the context of \(limit)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let prefill = try CompressedPrefill.run(model: model, tokens: promptTokens, config: compression,
                                                decodeReserve: sampling.maxTokens,
                                                headImportance: loaded.headImportance(for: compression))
        return try decode(after: prefill, prefillDuration: clock.now - start, promptTokens: promptTokens,
                          sampling: sampling, method: compression.method, onText: onText)
    }

    /// Samples the first token from the prefill's logits, then decodes from its cache.
    /// - Parameter prefillDuration: what the prefill cost this method (TTFT adds the first sample).
    func decode(after prefill: CompressedPrefillResult, prefillDuration: Duration, promptTokens: [Int32],
                sampling: SamplingParameters, method: CompressionMethod,
                onText: (String) -> Void = { _ in }) throws -> GenerationResult {
        let model = loaded.model
        let clock = ContinuousClock()
        let cache = prefill.cache, logits = prefill.logits
        let sampleStart = clock.now
        var sequence = SequenceDecoder(tokenizer: loaded.tokenizer, parameters: sampling)
        var token = sequence.sample(logits)
        let firstTokenTime = prefillDuration + (clock.now - sampleStart)
        onText(sequence.accept(token))
        let decodeStart = clock.now
        while !sequence.isFinished {
            let next = try model.decode(tokens: [token], caches: [cache])[0]
            token = sequence.sample(next)
            onText(sequence.accept(token))
        }
        let decodeEnd = clock.now
        let decodeSteps = sequence.tokens.count - 1
        let decodeMs = (decodeEnd - decodeStart).milliseconds
        return GenerationResult(
            text: sequence.text, tokens: sequence.tokens, promptTokens: promptTokens.count,
            prefillMilliseconds: prefillDuration.milliseconds,
            timeToFirstTokenMilliseconds: firstTokenTime.milliseconds,
            decodeMilliseconds: decodeMs,
            decodeTokensPerSecond: decodeSteps > 0 && decodeMs > 0 ? Double(decodeSteps) / (decodeMs / 1000) : 0,
            finishReason: sequence.finishReason ?? .maxTokens, lastPromptLogits: logits, prefill: prefill,
            keptEntries: prefill.record.keptEntries,
            fullEntries: model.config.layerCount * model.config.kvHeadCount * promptTokens.count,
            keptBytes: prefill.record.keptEntries * 2 * model.config.headDim * model.kvDType.bytesPerElement,
            fullBytes: model.config.layerCount * model.config.kvHeadCount * promptTokens.count * 2 * model.config.headDim
                * model.kvDType.bytesPerElement,
            method: method.rawValue, kvDType: model.kvDType)
    }
}
