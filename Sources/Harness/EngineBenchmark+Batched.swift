import Engine
import Foundation
import Llama

/// Batched decode throughput: B sequences decoding together, one weight pass per step for all of
/// them (`LlamaModel.decode(tokens:caches:)`, what the decode worker's continuous batch runs).
///
/// Every sequence starts from the same prompt of `context` tokens, prefilled once and copied into
/// B caches, as `llama-batched-bench -pps` shares its prompt: the prefill is not what is measured,
/// and B prefills of 64 sequences would take longer than the decode. The figure is the total
/// tokens per second over all sequences (llama-batched-bench's S_TG).
extension EngineBenchmark {
    public struct BatchedDecodeSpeed: Sendable, Equatable {
        public var sequences: Int
        public var context: Int
        /// Median over runs of (sequences × decode steps) / time of the steps.
        public var medianTokensPerSecond: Double
        public init(sequences: Int, context: Int, medianTokensPerSecond: Double) {
            self.sequences = sequences
            self.context = context
            self.medianTokensPerSecond = medianTokensPerSecond
        }

        /// Milliseconds per decode step of the whole batch.
        public var msPerStep: Double {
            medianTokensPerSecond > 0 ? 1000 * Double(sequences) / medianTokensPerSecond : 0
        }

        public static let tableHeader =
            "| batched decode sequences | context | ms/step (median) | tok/s (all sequences) |\n|---:|---:|---:|---:|"
        public var tableLine: String {
            String(format: "| %d | %d | %.2f | %.1f |", sequences, context, msPerStep, medianTokensPerSecond)
        }
    }

    /// `sequences` sequences after a `context`-token prompt, `decodeTokens` steps per run.
    public mutating func batchedDecode(sequences: Int, context: Int) throws -> BatchedDecodeSpeed {
        guard sequences >= 1 else { throw HarnessError.invalid(.batchSequences, "must be ≥ 1") }
        let contextLength = model.config.contextLength
        guard context + decodeTokens <= contextLength else {
            throw HarnessError.exceedsContext(length: context, extra: decodeTokens, extraSetting: .decodeTokens,
                                              contextLength: contextLength)
        }
        var policy = FullKVPolicy()
        let shared = model.makeCache(capacity: context)
        let first = try model.prefill(tokens: prompt(context), cache: shared, policy: &policy)
        let firstToken = Sampler.argmax(first.logits!)
        var rates: [Double] = []
        for _ in 0..<runs {
            let caches = (0..<sequences).map { _ in shared.copy(extraCapacity: decodeTokens) }
            var tokens = Array(repeating: firstToken, count: sequences)
            let t0 = ContinuousClock.now
            for _ in 0..<decodeTokens {
                tokens = try model.decode(tokens: tokens, caches: caches).map(Sampler.argmax)
            }
            rates.append(Double(sequences * decodeTokens) / (ContinuousClock.now - t0).seconds)
        }
        return BatchedDecodeSpeed(sequences: sequences, context: context,
                                  medianTokensPerSecond: Statistics.median(rates) ?? 0)
    }
}
