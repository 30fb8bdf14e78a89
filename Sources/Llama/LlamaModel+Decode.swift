import Tensors

/// Reusable activations for decode steps of up to `rows` sequences (allocated once, grown on demand).
final class DecodeBuffers {
    let rows: Int
    let x, xn, qkv, attn, gateUp, act, logits: Tensor
    /// Per-worker score scratch and the per-task partial attention results (grown on demand).
    var scores = Tensor(shape: [1])
    var partialOut = Tensor(shape: [1])
    var partialStats = Tensor(shape: [1])

    func reservePartials(tasks: Int, group: Int, headDim: Int, scratchPerWorker: Int, workers: Int) {
        if scores.count < scratchPerWorker * workers { scores = Tensor(shape: [scratchPerWorker * workers * 2]) }
        if partialOut.count < tasks * group * headDim { partialOut = Tensor(shape: [tasks * group * headDim]) }
        if partialStats.count < 2 * tasks * group { partialStats = Tensor(shape: [2 * tasks * group]) }
    }

    init(rows: Int, config c: ModelConfigView) {
        self.rows = rows
        x = Tensor(shape: [rows, c.hidden])
        xn = Tensor(shape: [rows, c.hidden])
        qkv = Tensor(shape: [rows, c.qkvWidth])
        attn = Tensor(shape: [rows, c.heads * c.headDim])
        gateUp = Tensor(shape: [rows, 2 * c.ffn])
        act = Tensor(shape: [rows, c.ffn])
        logits = Tensor(shape: [rows, c.vocab])
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
        let qkvWidth = v.qkvWidth
        weights.embeddings.gatherRows(tokens, into: buffers.x)
        for (l, layer) in weights.layers.enumerated() {
            Ops.rmsNorm(buffers.x, rows: m, weight: layer.attentionNorm, epsilon: c.rmsNormEpsilon, into: buffers.xn)
            layer.qkv.apply(buffers.xn, rows: m, into: buffers.qkv)
            Ops.applyRoPE(buffers.qkv, rows: m, rowStride: qkvWidth, column: 0, headCount: c.headCount,
                          headDim: d, positions: positions, table: rope)
            Ops.applyRoPE(buffers.qkv, rows: m, rowStride: qkvWidth, column: c.headCount * d,
                          headCount: c.kvHeadCount, headDim: d, positions: positions, table: rope)
            buffers.qkv.withUnsafeMutablePointer { src in
                for i in 0..<m {
                    caches[i].layers[l].appendToken(fromQKV: src, row: i, rowStride: qkvWidth, kColumn: c.headCount * d,
                                                    vColumn: (c.headCount + c.kvHeadCount) * d, position: positions[i])
                }
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

    /// Attention of each sequence's new token over its cache. Tasks are (sequence, KV head, key
    /// chunk) triples: a long cache is split into chunks so every thread gets an equal share even
    /// when there are fewer KV heads than threads (3 heads on 2 threads would leave one idle a third
    /// of the time); the chunks' partial softmax results are merged exactly afterwards.
    private func attendDecode(layer l: Int, rows m: Int, caches: [KVCache], buffers: DecodeBuffers) {
        let c = config, d = c.headDim, kvHeads = c.kvHeadCount, group = c.headCount / kvHeads
        let qkvWidth = view.qkvWidth
        let scale = 1 / Float(d).squareRoot()
        let threads = ComputePool.threadCount
        // Heads may hold different counts (ragged layers): chunks are sized by the longest head, and a
        // shorter head's surplus chunks are empty (max −∞, sum 0), which the merge ignores.
        let longest = caches.map { $0.layers[l].maxCount }.max() ?? 0
        // Chunks per (sequence, head): enough tasks for ~4 per thread, never chunks under 128 keys.
        let wanted = (4 * threads + m * kvHeads - 1) / (m * kvHeads)
        let chunks = max(1, min(wanted, longest / Self.minimumKeysPerChunk))
        let chunkLength = (longest + chunks - 1) / chunks
        let tasks = m * kvHeads * chunks
        buffers.reservePartials(tasks: tasks, group: group, headDim: d,
                                scratchPerWorker: group * max(chunkLength, 1), workers: threads)
        let scratchPerWorker = buffers.scores.count / threads
        buffers.qkv.withUnsafeMutablePointer { qkv in
        buffers.attn.withUnsafeMutablePointer { out in
        buffers.scores.withUnsafeMutablePointer { scores in
        buffers.partialOut.withUnsafeMutablePointer { pOut in
        buffers.partialStats.withUnsafeMutablePointer { pStats in
            let pMax = pStats, pSum = pStats + tasks * group
            ComputePool.run(tasks: tasks) { task, worker in
                let chunk = task % chunks, h = (task / chunks) % kvHeads, i = task / (chunks * kvHeads)
                let cacheLayer = caches[i].layers[l]
                let count = cacheLayer.count(head: h)
                let j0 = min(chunk * chunkLength, count)
                let length = min(chunkLength, count - j0)
                let offset = j0 * d * cacheLayer.dtype.bytesPerElement
                cacheLayer.withHead(h) { k, v in
                    Attention.attendPartial(query: qkv + i * qkvWidth + h * group * d, group: group,
                                            keys: k + offset, values: v + offset, dtype: cacheLayer.dtype,
                                            length: length, headDim: d, scale: scale,
                                            out: pOut + task * group * d, maxima: pMax + task * group,
                                            sums: pSum + task * group, scratch: scores + worker * scratchPerWorker)
                }
            }
            for pair in 0..<(m * kvHeads) {
                let i = pair / kvHeads, h = pair % kvHeads, first = pair * chunks
                Attention.mergePartials(chunks: chunks, group: group, headDim: d, outs: pOut + first * group * d,
                                        maxima: pMax + first * group, sums: pSum + first * group,
                                        into: out + i * c.headCount * d + h * group * d)
            }
        }
        }
        }
        }
        }
    }

    /// Decode attention never splits a cache into chunks shorter than this.
    static var minimumKeysPerChunk: Int { 128 }

    private func decodeBuffersFor(rows: Int) -> DecodeBuffers {
        if let b = decodeBuffers, b.rows >= rows { return b }
        let b = DecodeBuffers(rows: max(rows, decodeBuffers?.rows ?? 0), config: view)
        decodeBuffers = b
        return b
    }
}
