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

/// A prefill whose decode has not run yet (`Generator.decodeTogether`).
public struct PrefilledSequence: Sendable {
    public var prefill: CompressedPrefillResult
    /// What the prefill cost this method (for a shared forward, its estimated own share).
    public var prefillDuration: Duration
    public var method: CompressionMethod
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
        let p = try prefill(promptTokens: promptTokens, sampling: sampling, compression: compression)
        return try decode(after: p.prefill, prefillDuration: p.prefillDuration, promptTokens: promptTokens,
                          sampling: sampling, method: compression.method, onText: onText)
    }

    /// The prefill of `generate` alone, its decode left for `decodeTogether`.
    public func prefill(promptTokens: [Int32], sampling: SamplingParameters,
                        compression: CompressionConfig) throws -> PrefilledSequence {
        try checkFits(promptTokens: promptTokens, sampling: sampling)
        let clock = ContinuousClock()
        let start = clock.now
        let prefill = try CompressedPrefill.run(model: loaded.model, tokens: promptTokens, config: compression,
                                                decodeReserve: sampling.maxTokens,
                                                headImportance: loaded.headImportance(for: compression))
        return PrefilledSequence(prefill: prefill, prefillDuration: clock.now - start, method: compression.method)
    }

    func checkFits(promptTokens: [Int32], sampling: SamplingParameters) throws {
        let limit = loaded.model.config.contextLength
        guard !promptTokens.isEmpty else { throw EngineError.invalidRequest("the prompt is empty") }
        guard promptTokens.count + sampling.maxTokens - 1 <= limit else {
            throw EngineError.invalidRequest(
                "prompt (\(promptTokens.count) tokens) + max tokens (\(sampling.maxTokens)) exceeds the context of \(limit)")
        }
    }

    /// Greedy (or sampled) continuations of several prefills of one prompt, decoded as one batch: each
    /// step is one weight pass for every sequence still running (`LlamaModel.decode` over their
    /// caches), at most `maxBatch` rows at a time. Results in `sequences` order.
    ///
    /// Each sequence's tokens are what decoding it alone gives up to float rounding: a batch of m rows
    /// may run another matrix kernel than one row (`WeightMatrix.packedRowLimit`), so a near tie
    /// between two logits can break the other way. Decode time and tok/s are the whole batch's.
    public func decodeTogether(_ sequences: [PrefilledSequence], promptTokens: [Int32], sampling: SamplingParameters,
                               maxBatch: Int = 64) throws -> [GenerationResult] {
        precondition(maxBatch >= 1)
        let clock = ContinuousClock()
        var decoders: [SequenceDecoder] = [], next: [Int32] = [], firstTokenTimes: [Duration] = []
        for s in sequences {
            let sampleStart = clock.now
            var decoder = SequenceDecoder(tokenizer: loaded.tokenizer, parameters: sampling)
            let token = decoder.sample(s.prefill.logits)
            firstTokenTimes.append(s.prefillDuration + (clock.now - sampleStart))
            _ = decoder.accept(token)
            decoders.append(decoder)
            next.append(token)
        }
        let decodeStart = clock.now
        while true {
            let running = decoders.indices.filter { !decoders[$0].isFinished }
            if running.isEmpty { break }
            for chunkStart in stride(from: 0, to: running.count, by: maxBatch) {
                let rows = Array(running[chunkStart..<min(running.count, chunkStart + maxBatch)])
                let logits = try loaded.model.decode(tokens: rows.map { next[$0] }, caches: rows.map { sequences[$0].prefill.cache })
                for (k, i) in rows.enumerated() {
                    next[i] = decoders[i].sample(logits[k])
                    _ = decoders[i].accept(next[i])
                }
            }
        }
        let decodeDuration = clock.now - decodeStart
        return sequences.indices.map { i in
            result(of: decoders[i], prefill: sequences[i].prefill, prefillDuration: sequences[i].prefillDuration,
                   firstTokenTime: firstTokenTimes[i], decodeDuration: decodeDuration, promptTokens: promptTokens,
                   method: sequences[i].method)
        }
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
        return result(of: sequence, prefill: prefill, prefillDuration: prefillDuration, firstTokenTime: firstTokenTime,
                      decodeDuration: clock.now - decodeStart, promptTokens: promptTokens, method: method)
    }

    private func result(of sequence: SequenceDecoder, prefill: CompressedPrefillResult, prefillDuration: Duration,
                        firstTokenTime: Duration, decodeDuration: Duration, promptTokens: [Int32],
                        method: CompressionMethod) -> GenerationResult {
        let model = loaded.model, logits = prefill.logits
        let decodeSteps = sequence.tokens.count - 1
        let decodeMs = decodeDuration.milliseconds
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
