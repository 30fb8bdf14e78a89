import Checkpoints
import Tensors

/// A Llama-family decoder (Llama 2/3, SmolLM, Mistral without sliding window): RMSNorm, RoPE
/// (HF rotate-half), causal GQA attention, SwiGLU MLP, tied or separate LM head.
///
/// Prefill runs whole prompts with sgemm and asks an injected `KVSelectionPolicy` what each
/// layer stores and which tokens go on (FastKV's TSP really skips the later layers' work).
/// Decode runs one token per sequence for a batch of sequences with one matrix product per
/// projection. An instance is not thread-safe: one thread drives it at a time.
public final class LlamaModel: @unchecked Sendable {
    public let weights: LlamaWeights
    public let config: ModelConfig
    let rope: RoPETable
    var decodeBuffers: DecodeBuffers?
    /// How caches made by `makeCache` store K and V (`--kv-dtype`); not part of the model's
    /// fingerprint, which is a property of the weights.
    public let kvDType: KVDType

    public init(weights: LlamaWeights, kvDType: KVDType = .f32) {
        self.weights = weights
        self.kvDType = kvDType
        config = weights.config
        rope = RoPETable(headDim: config.headDim, theta: config.ropeTheta, positionCount: config.contextLength,
                         scaling: config.ropeScaling.map {
                             .init(factor: $0.factor, lowFrequencyFactor: $0.lowFrequencyFactor,
                                   highFrequencyFactor: $0.highFrequencyFactor, originalContextLength: $0.originalContextLength)
                         }, frequencyFactors: weights.ropeFrequencyFactors)
    }

    public convenience init(checkpoint: any Checkpoint, prefill: PrefillWeights? = .auto, contextLimit: Int? = nil,
                            kvDType: KVDType = .f32) throws {
        self.init(weights: try LlamaWeights(checkpoint: checkpoint, prefill: prefill, contextLimit: contextLimit),
                  kvDType: kvDType)
    }

    /// A new, empty cache sized for `capacity` entries per layer (it grows if needed), in `kvDType`.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(layerCount: config.layerCount, kvHeadCount: config.kvHeadCount, headDim: config.headDim, capacity: capacity,
                dtype: kvDType)
    }

    /// What prefill produced besides the cache.
    public struct PrefillOutput: Sendable {
        /// Logits of the last prompt token, [vocab]; nil when the policy stopped the pass early.
        public var logits: [Float]?
        /// Tokens that entered each layer (0 for layers not run).
        public var enteringTokenCounts: [Int]
        /// Original positions that propagated past the TSP layer, when a policy dropped tokens.
        public var propagatedPositions: [Int32]?
        /// Layer after which the policy stopped the pass, if it did.
        public var stoppedAfterLayer: Int?
    }

    /// Runs the prompt through the model, filling `cache` as `policy` decides.
    ///
    /// - Parameters:
    ///   - tokens: prompt ids, N ≥ 1.
    ///   - positions: original position of each token (ascending); default 0..<N.
    ///   - cache: receives each layer's kept entries (appended after any it already holds).
    ///   - onLayerStored: called as soon as layer ℓ's cache entries are final (before its attention
    ///     runs), so a disaggregated prefill can ship that layer while the next ones compute.
    /// After the call `cache.nextPosition` is last position + 1.
    public func prefill<P: KVSelectionPolicy>(tokens: [Int32], positions: [Int32]? = nil, cache: KVCache,
                                              policy: inout P,
                                              onLayerStored: ((Int, LayerKV) throws -> Void)? = nil) throws
        -> PrefillOutput {
        let c = config
        guard !tokens.isEmpty else { throw LlamaError.emptyPrompt }
        for t in tokens where t < 0 || Int(t) >= c.vocabularySize {
            throw LlamaError.tokenOutOfRange(token: t, vocabularySize: c.vocabularySize)
        }
        var pos = positions ?? (0..<tokens.count).map(Int32.init)
        precondition(pos.count == tokens.count, "one position per token")
        guard let last = pos.last, Int(last) < c.contextLength else {
            throw LlamaError.contextOverflow(needed: Int(pos.last ?? 0) + 1, limit: c.contextLength)
        }
        let promptLength = tokens.count
        let hidden = c.hiddenSize, d = c.headDim, heads = c.headCount, kvHeads = c.kvHeadCount
        let qkvWidth = (heads + 2 * kvHeads) * d
        var n = tokens.count

        var x = Tensor(shape: [n, hidden])
        weights.embeddings.gatherRows(tokens, into: x)
        let xn = Tensor(shape: [n, hidden])
        let qkv = Tensor(shape: [n, qkvWidth])
        let attn = Tensor(shape: [n, heads * d])
        let chunk = min(n, 1024)
        let gateUp = Tensor(shape: [chunk, 2 * c.intermediateSize])
        let act = Tensor(shape: [chunk, c.intermediateSize])
        let scratch = Attention.Scratch(groupSize: heads / kvHeads, headDim: d)

        var output = PrefillOutput(logits: nil, enteringTokenCounts: Array(repeating: 0, count: c.layerCount),
                                   propagatedPositions: nil, stoppedAfterLayer: nil)
        for (l, layer) in weights.layers.enumerated() {
            output.enteringTokenCounts[l] = n
            // Attention block: x += O(attn(RoPE(QKV(norm(x))))).
            Ops.rmsNorm(x, rows: n, weight: layer.attentionNorm, epsilon: c.rmsNormEpsilon, into: xn)
            layer.qkv.apply(xn, rows: n, into: qkv)
            Ops.applyRoPE(qkv, rows: n, rowStride: qkvWidth, column: 0, headCount: heads, headDim: d,
                          positions: pos, table: rope)
            Ops.applyRoPE(qkv, rows: n, rowStride: qkvWidth, column: heads * d, headCount: kvHeads, headDim: d,
                          positions: pos, table: rope)
            let selection = policy.select(LayerActivations(
                layer: l, layerCount: c.layerCount, qkv: qkv, tokenCount: n, headCount: heads,
                kvHeadCount: kvHeads, headDim: d, positions: pos, promptLength: promptLength))
            let kept = selection.keptRows ?? Array(repeating: Array(0..<n), count: kvHeads)
            cache.layers[l].append(fromQKV: qkv, rowStride: qkvWidth, kColumn: heads * d,
                                   vColumn: (heads + kvHeads) * d, rows: kept, positions: pos)
            try onLayerStored?(l, cache.layers[l])
            if selection.stop {
                output.stoppedAfterLayer = l
                output.propagatedPositions = selection.propagatedRows.map { $0.map { pos[$0] } }
                cache.nextPosition = pos[n - 1] + 1
                return output
            }
            Attention.causalPrefill(qkv: qkv, tokenCount: n, headCount: heads, kvHeadCount: kvHeads, headDim: d,
                                    into: attn, scratch: scratch)
            layer.output.apply(attn, rows: n, into: x, accumulate: true)
            // MLP block in row chunks (bounds the [rows, 2·ffn] buffer): x += down(silu(gate)·up).
            var r0 = 0
            while r0 < n {
                let rows = min(chunk, n - r0)
                Ops.copyRows(x, from: r0, count: rows, width: hidden, into: xn, at: 0)
                Ops.rmsNorm(xn, rows: rows, weight: layer.mlpNorm, epsilon: c.rmsNormEpsilon, into: xn)
                layer.gateUp.apply(xn, rows: rows, into: gateUp)
                Ops.siluMultiply(gateUp, rows: rows, width: c.intermediateSize, into: act)
                layer.down.apply(act, rows: rows, into: x, yRow: r0, accumulate: true)
                r0 += rows
            }
            // Token-Selective Propagation: later layers see only the chosen rows.
            if let rows = selection.propagatedRows, rows.count < n {
                let gathered = Tensor(shape: [rows.count, hidden])
                Ops.gatherRows(x, rows: rows, width: hidden, into: gathered)
                x = gathered
                pos = rows.map { pos[$0] }
                n = rows.count
                output.propagatedPositions = pos
            }
        }
        cache.nextPosition = pos[n - 1] + 1
        // LM head on the last position only.
        let lastRow = Tensor(shape: [1, hidden])
        Ops.copyRows(x, from: n - 1, count: 1, width: hidden, into: lastRow, at: 0)
        Ops.rmsNorm(lastRow, rows: 1, weight: weights.finalNorm, epsilon: c.rmsNormEpsilon, into: lastRow)
        let logits = Tensor(shape: [1, c.vocabularySize])
        weights.lmHead.apply(lastRow, rows: 1, into: logits)
        output.logits = logits.toArray()
        return output
    }
}
