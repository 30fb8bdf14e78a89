import CKernels
import COpenBLAS

/// Causal grouped-query attention.
///
/// Prefill never materialises an N×N matrix for all heads: queries are processed in tiles of
/// `tileRows` tokens per KV head, with the G query heads of that KV head stacked into one
/// [G·T, d] block (so the sgemm is G times taller and every K/V row is reused G times).
/// Scratch per thread is G·T × N floats (N = keys), e.g. 3·64·8192·4 B = 6 MiB.
public enum Attention {
    public static let tileRows = 64

    /// Per-thread scratch for `causalPrefill`, sized for up to `maxKeys` keys.
    public final class Scratch: @unchecked Sendable {
        let scores: [Tensor]    // per worker [G·T, maxKeys]
        let queries: [Tensor]   // per worker [G·T, d]
        let outputs: [Tensor]   // per worker [G·T, d]
        public let maxKeys: Int
        public init(groupSize: Int, headDim: Int, maxKeys: Int, threads: Int = ComputePool.threadCount) {
            let rows = groupSize * Attention.tileRows
            self.maxKeys = maxKeys
            scores = (0..<threads).map { _ in Tensor(shape: [rows, maxKeys]) }
            queries = (0..<threads).map { _ in Tensor(shape: [rows, headDim]) }
            outputs = (0..<threads).map { _ in Tensor(shape: [rows, headDim]) }
        }
    }

    /// Causal attention over `tokenCount` tokens whose Q, K, V sit side by side in each row of `qkv`:
    /// qkv: [tokenCount, (H + 2·Hk)·d] = [Q heads | K heads | V heads], post-RoPE.
    /// out: [tokenCount, H·d]. Token i attends to tokens 0...i (row order = position order).
    public static func causalPrefill(qkv: Tensor, tokenCount n: Int, headCount: Int, kvHeadCount: Int,
                                     headDim d: Int, into out: Tensor, scratch: Scratch) {
        precondition(n <= scratch.maxKeys, "attention scratch holds \(scratch.maxKeys) keys, need \(n)")
        let group = headCount / kvHeadCount
        let stride = (headCount + 2 * kvHeadCount) * d
        let outStride = headCount * d
        let tiles = (n + tileRows - 1) / tileRows
        let scale = 1 / Float(d).squareRoot()
        precondition(qkv.count >= n * stride && out.count >= n * outStride)
        // Each task is one (KV head, query tile) pair and runs single-threaded BLAS; the pool spreads
        // tasks over cores. Later tiles see more keys, so hand them out first for balance.
        BLAS.ensureSingleThreaded()
        qkv.withUnsafeMutablePointer { base in
            out.withUnsafeMutablePointer { outBase in
                ComputePool.run(tasks: tiles * kvHeadCount) { task, worker in
                    let tile = tiles - 1 - task / kvHeadCount
                    let kvHead = task % kvHeadCount
                    let i0 = tile * tileRows, rows = min(tileRows, n - i0), keys = i0 + rows
                    let gRows = group * rows
                    scratch.queries[worker].withUnsafeMutablePointer { q in
                    scratch.scores[worker].withUnsafeMutablePointer { s in
                    scratch.outputs[worker].withUnsafeMutablePointer { o in
                        // Stack the group's queries: row g·rows + t = query head (kvHead·G + g), token i0 + t.
                        for g in 0..<group {
                            let col = (kvHead * group + g) * d
                            for t in 0..<rows {
                                (q + (g * rows + t) * d).update(from: base + (i0 + t) * stride + col, count: d)
                            }
                        }
                        let k = base + (headCount + kvHead) * d
                        let v = base + (headCount + kvHeadCount + kvHead) * d
                        // S = scale · Q Kᵀ over keys 0..<keys; ld = keys.
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(gRows), Int32(keys), Int32(d),
                                    scale, q, Int32(d), k, Int32(stride), 0, s, Int32(keys))
                        for r in 0..<gRows {
                            let t = r % rows
                            softmaxInPlace(s + r * keys, i0 + t + 1, total: keys)
                        }
                        // O = P V.
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(gRows), Int32(d), Int32(keys),
                                    1, s, Int32(keys), v, Int32(stride), 0, o, Int32(d))
                        for g in 0..<group {
                            let col = (kvHead * group + g) * d
                            for t in 0..<rows {
                                (outBase + (i0 + t) * outStride + col).update(from: o + (g * rows + t) * d, count: d)
                            }
                        }
                    }
                    }
                    }
                }
            }
        }
    }

    /// Attention of one new token's `group` query heads (q: [group, d]) over one KV head's dense
    /// cache (keys, values: [length, d]); out: [group, d]; scratch: ≥ group·length floats.
    public static func attendOne(query q: UnsafePointer<Float>, group: Int, keys: UnsafePointer<Float>,
                                 values: UnsafePointer<Float>, length: Int, headDim d: Int, scale: Float,
                                 out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        fkv_attend_one(q, group, keys, values, length, d, scale, out, scratch)
    }

    /// `attendOne` over one chunk of the keys, unnormalised, for splitting a long cache across
    /// threads: out[g] = Σ_j e^{s_j − maxima[g]}·v_j, sums[g] = Σ_j e^{s_j − maxima[g]}.
    public static func attendPartial(query q: UnsafePointer<Float>, group: Int, keys: UnsafePointer<Float>,
                                     values: UnsafePointer<Float>, length: Int, headDim d: Int, scale: Float,
                                     out: UnsafeMutablePointer<Float>, maxima: UnsafeMutablePointer<Float>,
                                     sums: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        fkv_attend_partial(q, group, keys, values, length, d, scale, out, maxima, sums, scratch)
    }

    /// Merges `chunks` results of `attendPartial` for the same heads (outs [chunks][G][d], maxima and
    /// sums [chunks][G]) into the normalised output [G][d].
    public static func mergePartials(chunks: Int, group: Int, headDim d: Int, outs: UnsafePointer<Float>,
                                     maxima: UnsafePointer<Float>, sums: UnsafePointer<Float>,
                                     into out: UnsafeMutablePointer<Float>) {
        fkv_attend_merge(chunks, group, d, outs, maxima, sums, out)
    }
}
