import Tensors

/// Reusable activations for decode steps of up to `rows` sequences (allocated once, grown on demand).
final class DecodeBuffers {
    let rows: Int
    let x, xn, qkv, attn, gateUp, act, logits: Tensor
    var scores: Tensor

    init(rows: Int, config c: ModelConfigView) {
        self.rows = rows
        x = Tensor(shape: [rows, c.hidden])
        xn = Tensor(shape: [rows, c.hidden])
        qkv = Tensor(shape: [rows, c.qkvWidth])
        attn = Tensor(shape: [rows, c.heads * c.headDim])
        gateUp = Tensor(shape: [rows, 2 * c.ffn])
        act = Tensor(shape: [rows, c.ffn])
        logits = Tensor(shape: [rows, c.vocab])
        scores = Tensor(shape: [1])
    }
}

struct ModelConfigView {
    let hidden, heads, kvHeads, headDim, ffn, vocab: Int
    var qkvWidth: Int { (heads + 2 * kvHeads) * headDim }
}

extension LlamaModel {
    var view: ModelConfigView {
        ModelConfigView(hidden: config.hiddenSize, heads: config.headCount, kvHeads: config.kvHeadCount,
                        headDim: config.headDim, ffn: config.intermediateSize, vocab: config.vocabularySize)
    }

    /// One decode step for a batch of sequences: tokens[i] is fed to sequence i at position
    /// caches[i].nextPosition, its K/V are appended to caches[i], and the next-token logits are
    /// returned as [m, vocab] (row i for sequence i). Every projection is one matrix product over
    /// the whole batch (continuous batching); attention runs per sequence over its own cache.
    public func decode(tokens: [Int32], caches: [KVCache]) throws -> [[Float]] {
        let m = tokens.count
        precondition(caches.count == m, "one cache per token")
        if m == 0 { return [] }
        let c = config, v = view, d = c.headDim
        for t in tokens where t < 0 || Int(t) >= c.vocabularySize {
            throw LlamaError.tokenOutOfRange(token: t, vocabularySize: c.vocabularySize)
        }
        let positions = caches.map(\.nextPosition)
        for p in positions where Int(p) >= c.contextLength {
            throw LlamaError.contextOverflow(needed: Int(p) + 1, limit: c.contextLength)
        }
        let buffers = decodeBuffersFor(rows: m)
        let maxLength = caches.map { cache in cache.layers.map(\.count).max() ?? 0 }.max()! + 1
        let scoreFloats = ComputePool.threadCount * c.headCount * maxLength
        if buffers.scores.count < scoreFloats { buffers.scores = Tensor(shape: [scoreFloats * 2]) }
        let qkvWidth = v.qkvWidth
        weights.embeddings.gatherRows(tokens, into: buffers.x)
        for (l, layer) in weights.layers.enumerated() {
            Ops.rmsNorm(buffers.x, rows: m, weight: layer.attentionNorm, epsilon: c.rmsNormEpsilon, into: buffers.xn)
            layer.qkv.apply(buffers.xn, rows: m, into: buffers.qkv)
            Ops.applyRoPE(buffers.qkv, rows: m, rowStride: qkvWidth, column: 0, headCount: c.headCount,
                          headDim: d, positions: positions, table: rope)
            Ops.applyRoPE(buffers.qkv, rows: m, rowStride: qkvWidth, column: c.headCount * d,
                          headCount: c.kvHeadCount, headDim: d, positions: positions, table: rope)
            for i in 0..<m {
                caches[i].layers[l].append(fromQKV: buffers.qkv, rowStride: qkvWidth, kColumn: c.headCount * d,
                                           vColumn: (c.headCount + c.kvHeadCount) * d,
                                           rows: Array(repeating: [i], count: c.kvHeadCount), positions: positions)
            }
            attendDecode(layer: l, rows: m, caches: caches, buffers: buffers)
            layer.output.apply(buffers.attn, rows: m, into: buffers.x, accumulate: true)
            Ops.rmsNorm(buffers.x, rows: m, weight: layer.mlpNorm, epsilon: c.rmsNormEpsilon, into: buffers.xn)
            layer.gateUp.apply(buffers.xn, rows: m, into: buffers.gateUp)
            Ops.siluMultiply(buffers.gateUp, rows: m, width: c.intermediateSize, into: buffers.act)
            layer.down.apply(buffers.act, rows: m, into: buffers.x, accumulate: true)
        }
        for cache in caches { cache.nextPosition += 1 }
        Ops.rmsNorm(buffers.x, rows: m, weight: weights.finalNorm, epsilon: c.rmsNormEpsilon, into: buffers.xn)
        weights.lmHead.apply(buffers.xn, rows: m, into: buffers.logits)
        return (0..<m).map { buffers.logits.row($0) }
    }

    /// Attention of each sequence's new token over its cache; tasks are (sequence, KV head) pairs.
    private func attendDecode(layer l: Int, rows m: Int, caches: [KVCache], buffers: DecodeBuffers) {
        let c = config, d = c.headDim, kvHeads = c.kvHeadCount, group = c.headCount / kvHeads
        let qkvWidth = view.qkvWidth
        let scale = 1 / Float(d).squareRoot()
        let scoresPerWorker = buffers.scores.count / ComputePool.threadCount
        buffers.qkv.withUnsafeMutablePointer { qkv in
            buffers.attn.withUnsafeMutablePointer { out in
                buffers.scores.withUnsafeMutablePointer { scores in
                    ComputePool.run(tasks: m * kvHeads) { task, worker in
                        let i = task / kvHeads, h = task % kvHeads
                        let cacheLayer = caches[i].layers[l]
                        cacheLayer.withHeadPointers { k, v, headStride in
                            Attention.attendOne(query: qkv + i * qkvWidth + h * group * d, group: group,
                                                keys: k + h * headStride, values: v + h * headStride,
                                                length: cacheLayer.count, headDim: d, scale: scale,
                                                out: out + i * c.headCount * d + h * group * d,
                                                scratch: scores + worker * scoresPerWorker)
                        }
                    }
                }
            }
        }
    }

    private func decodeBuffersFor(rows: Int) -> DecodeBuffers {
        if let b = decodeBuffers, b.rows >= rows { return b }
        let b = DecodeBuffers(rows: max(rows, decodeBuffers?.rows ?? 0), config: view)
        decodeBuffers = b
        return b
    }
}
