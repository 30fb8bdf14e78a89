import CKernels

/// Causal grouped-query attention.
///
/// Prefill runs the flash-style kernel of `CKernels/prefill_attention.c`: query blocks against key
/// blocks with an online softmax, so no N×N score matrix exists; the G query heads of a KV head
/// share every K/V block load; blocks above the diagonal are skipped; (KV head, query block) tasks
/// go over the compute pool largest first. Scratch is a few blocks per worker, whatever N is.
/// Every prefill pass uses it: full, FastKV before and after the TSP layer (where the rows are the
/// kept tokens in position order), SnapKV, GemFilter's two passes. The window scores of the
/// selection policies (`FastKV/WindowScorer.swift`) are computed separately.
public enum Attention {
    /// Tokens per query block and per key block of the prefill kernel.
    public static let blockTokens = Int(FKV_PREFILL_BLOCK)

    /// Floats of `Scratch` for G query heads per KV head and head size d, all workers together
    /// (the memory plan sums it before anything is allocated).
    public static func scratchFloats(groupSize: Int, headDim: Int, threads: Int) -> Int {
        threads * fkv_prefill_attention_scratch_floats(groupSize, headDim)
    }

    /// Per-worker scratch for `causalPrefill` (independent of the token count).
    public final class Scratch: @unchecked Sendable {
        let buffer: Tensor
        public let groupSize: Int, headDim: Int, threads: Int
        public init(groupSize: Int, headDim: Int, threads: Int = ComputePool.threadCount) {
            precondition(groupSize >= 1 && headDim >= 1 && threads >= 1)
            self.groupSize = groupSize
            self.headDim = headDim
            self.threads = threads
            buffer = Tensor(shape: [Attention.scratchFloats(groupSize: groupSize, headDim: headDim, threads: threads)])
        }
    }

    /// Causal attention over `tokenCount` tokens whose Q, K, V sit side by side in each row of `qkv`:
    /// qkv: [tokenCount, (H + 2·Hk)·d] = [Q heads | K heads | V heads], post-RoPE.
    /// out: [tokenCount, H·d]. Token i attends to tokens 0...i (row order = position order).
    public static func causalPrefill(qkv: Tensor, tokenCount n: Int, headCount: Int, kvHeadCount: Int,
                                     headDim d: Int, into out: Tensor, scratch: Scratch) {
        precondition(kvHeadCount >= 1 && headCount % kvHeadCount == 0, "heads \(headCount), KV heads \(kvHeadCount)")
        precondition(scratch.groupSize == headCount / kvHeadCount && scratch.headDim == d
                     && scratch.threads >= ComputePool.threadCount, "attention scratch is for another shape")
        let stride = (headCount + 2 * kvHeadCount) * d
        let outStride = headCount * d
        precondition(qkv.count >= n * stride && out.count >= n * outStride)
        guard n > 0 else { return }
        let scale = 1 / Float(d).squareRoot()
        qkv.withUnsafeMutablePointer { base in
            out.withUnsafeMutablePointer { o in
                scratch.buffer.withUnsafeMutablePointer { s in
                    fkv_prefill_attention(n, headCount, kvHeadCount, d, base, stride, base + headCount * d, stride,
                                          base + (headCount + kvHeadCount) * d, stride, scale, o, outStride, s)
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

    /// `attendPartial` over a cache stored as `dtype`: keys and values point at [length, d] elements
    /// of that type (f32, or IEEE binary16 bits for `.f16`, which the kernel widens as it loads).
    public static func attendPartial(query q: UnsafePointer<Float>, group: Int, keys: UnsafeRawPointer,
                                     values: UnsafeRawPointer, dtype: KVDType, length: Int, headDim d: Int,
                                     scale: Float, out: UnsafeMutablePointer<Float>,
                                     maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>,
                                     scratch: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32:
            fkv_attend_partial(q, group, keys.assumingMemoryBound(to: Float.self),
                               values.assumingMemoryBound(to: Float.self), length, d, scale, out, maxima, sums, scratch)
        case .f16:
            fkv_attend_partial_f16(q, group, keys.assumingMemoryBound(to: UInt16.self),
                                   values.assumingMemoryBound(to: UInt16.self), length, d, scale, out, maxima, sums,
                                   scratch)
        }
    }

    /// `attendOne` over an f16 cache (keys, values: [length, d] IEEE binary16 bits).
    public static func attendOne(query q: UnsafePointer<Float>, group: Int, keys: UnsafePointer<UInt16>,
                                 values: UnsafePointer<UInt16>, length: Int, headDim d: Int, scale: Float,
                                 out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        fkv_attend_one_f16(q, group, keys, values, length, d, scale, out, scratch)
    }

    /// Merges `chunks` results of `attendPartial` for the same heads (outs [chunks][G][d], maxima and
    /// sums [chunks][G]) into the normalised output [G][d].
    public static func mergePartials(chunks: Int, group: Int, headDim d: Int, outs: UnsafePointer<Float>,
                                     maxima: UnsafePointer<Float>, sums: UnsafePointer<Float>,
                                     into out: UnsafeMutablePointer<Float>) {
        fkv_attend_merge(chunks, group, d, outs, maxima, sums, out)
    }
}
