import RequestVocabulary
import Llama
import Tensors

/// The observation-window token score shared by FastKV, SnapKV and TSP (spec §1.2 step 3).
///
/// For every query head h: A = softmax(Q[n−w..<n] · Kᵀ / √d) over all n keys, with the causal mask
/// applied inside the window only (window query i sees keys j ≤ n−w+i); s_h[j] = Σ_i A[i, j] for the
/// non-window keys j < n−w; s_h is pooled (kernel k_s, stride 1, padding ⌊k_s/2⌋); the G query heads
/// of each KV head are summed: S[kv, j] = Σ_g pooled[kv·G + g, j]. All fp32 ([port]: no fp16 cast).
public enum WindowScorer {
    /// S as [Hk][n − w]. Requires n > w.
    public static func scores(_ a: LayerActivations, windowSize w: Int, kernelSize: Int,
                              pooling: Pooling) -> [[Float]] {
        let n = a.tokenCount, d = a.headDim, group = a.headCount / a.kvHeadCount
        precondition(n > w, "window scoring needs more tokens than the window")
        let width = n - w
        var result = Array(repeating: Array(repeating: Float(0), count: width), count: a.kvHeadCount)
        let logits = Tensor(shape: [w, n])
        var columnSums = Array(repeating: Float(0), count: width)
        var pooled = Array(repeating: Float(0), count: width)
        let scale = 1 / Float(d).squareRoot()
        a.qkv.withUnsafeMutablePointer { qkv in
            logits.withUnsafeMutablePointer { A in
                for h in 0..<a.headCount {
                    let kv = h / group
                    Gemm.multiply(m: w, n: n, k: d, alpha: scale,
                                  a: qkv + (n - w) * a.rowStride + h * d, lda: a.rowStride,
                                  b: qkv + a.keyColumn + kv * d, ldb: a.rowStride, transposeB: true,
                                  c: A, ldc: n)
                    // Window query i attends keys 0 ... n−w+i: the masked tail becomes exact zeros.
                    for i in 0..<w { Gemm.softmax(A + i * n, valid: n - w + i + 1, count: n) }
                    for j in 0..<width { columnSums[j] = 0 }
                    for i in 0..<w {
                        let row = A + i * n
                        for j in 0..<width { columnSums[j] += row[j] }
                    }
                    Pooling.apply(columnSums, kernelSize: kernelSize, mode: pooling, into: &pooled)
                    for j in 0..<width { result[kv][j] += pooled[j] }
                }
            }
        }
        return result
    }
}

extension Pooling {
    /// 1-D pooling along the token axis, stride 1, output length = input length.
    /// max: padding acts as −∞ (each output is the max over the positions that exist);
    /// avg: zero padding and a fixed divisor k_s (count_include_pad), so edges shrink.
    public static func apply(_ x: [Float], kernelSize k: Int, mode: Pooling, into out: inout [Float]) {
        let n = x.count, half = k / 2
        if out.count != n { out = Array(repeating: 0, count: n) }
        for j in 0..<n {
            let lo = Swift.max(0, j - half), hi = Swift.min(n - 1, j + half)
            switch mode {
            case .max:
                var m = x[lo]
                for t in lo...hi where x[t] > m { m = x[t] }
                out[j] = m
            case .avg:
                var s: Float = 0
                for t in lo...hi { s += x[t] }
                out[j] = s / Float(k)
            }
        }
    }
}

/// Deterministic top-k ([port] tie-break, spec §7.6): higher score first, then lower index.
public enum TopK {
    /// Indices of the k best scores, returned in ascending index order.
    public static func select(_ scores: [Float], count k: Int) -> [Int] {
        if k <= 0 { return [] }
        if k >= scores.count { return Array(scores.indices) }
        let order = scores.indices.sorted { a, b in
            scores[a] > scores[b] || (scores[a] == scores[b] && a < b)
        }
        return order[..<k].sorted()
    }
}
