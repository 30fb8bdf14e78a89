import Foundation
import Llama
import Tensors

/// One layer's post-RoPE Q and K as a policy saw them, and what the policy kept.
struct CapturedLayer {
    let layer: Int, n: Int, heads: Int, kvHeads: Int, d: Int
    /// q[h][i][c], k[kv][j][c] in Double.
    let q: [[[Double]]], k: [[[Double]]]
    /// Rows kept per KV head (every row when the policy kept everything).
    let kept: [[Int]]
}

/// Runs `inner` and records every layer's activations and selection.
struct CapturingPolicy<Inner: KVSelectionPolicy>: KVSelectionPolicy {
    var inner: Inner
    var layers: [CapturedLayer] = []

    mutating func select(_ a: LayerActivations) -> LayerSelection {
        let s = inner.select(a)
        let x = a.qkv.toArray(), stride = a.rowStride, d = a.headDim
        let q = (0..<a.headCount).map { h in
            (0..<a.tokenCount).map { i in (0..<d).map { Double(x[i * stride + h * d + $0]) } }
        }
        let k = (0..<a.kvHeadCount).map { h in
            (0..<a.tokenCount).map { j in (0..<d).map { Double(x[j * stride + a.keyColumn + h * d + $0]) } }
        }
        layers.append(CapturedLayer(layer: a.layer, n: a.tokenCount, heads: a.headCount, kvHeads: a.kvHeadCount, d: d,
                                    q: q, k: k, kept: s.keptRows ?? Array(repeating: Array(0..<a.tokenCount), count: a.kvHeadCount)))
        return s
    }
}

/// The baselines' definitions in plain loops and Double arithmetic, written from the papers and
/// spec §1.2/§3, sharing nothing with the code under test.
enum BaselineReference {
    static func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    /// softmax over x[0..<valid]; the rest 0.
    static func softmax(_ x: [Double], valid: Int) -> [Double] {
        let m = x[0..<valid].max()!
        let e = x.indices.map { $0 < valid ? exp(x[$0] - m) : 0 }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// SnapKV/FastKV window score, [Hk][n − w]: per query head, the last w queries' causal softmax,
    /// summed over the window rows for the non-window keys, max-pooled (kernel ks, edges by the
    /// positions that exist), summed over each KV head's G query heads.
    static func windowScores(_ L: CapturedLayer, w: Int, kernel ks: Int) -> [[Double]] {
        let n = L.n, g = L.heads / L.kvHeads, scale = 1 / Double(L.d).squareRoot()
        var out = Array(repeating: Array(repeating: 0.0, count: n - w), count: L.kvHeads)
        for h in 0..<L.heads {
            var col = Array(repeating: 0.0, count: n - w)
            for i in 0..<w {
                let qi = L.q[h][n - w + i]
                let logits = (0..<n).map { dot(qi, L.k[h / g][$0]) * scale }
                let p = softmax(logits, valid: n - w + i + 1)
                for j in 0..<(n - w) { col[j] += p[j] }
            }
            for j in 0..<(n - w) {
                let lo = max(0, j - ks / 2), hi = min(n - w - 1, j + ks / 2)
                out[h / g][j] += col[lo...hi].max()!
            }
        }
        return out
    }

    /// H2O's accumulated causal attention of all n queries, [Hk][n − w].
    static func accumulatedAttention(_ L: CapturedLayer, w: Int) -> [[Double]] {
        let n = L.n, g = L.heads / L.kvHeads, scale = 1 / Double(L.d).squareRoot()
        var out = Array(repeating: Array(repeating: 0.0, count: n - w), count: L.kvHeads)
        for h in 0..<L.heads {
            for i in 0..<n {
                let logits = (0..<n).map { $0 <= i ? dot(L.q[h][i], L.k[h / g][$0]) * scale : 0 }
                let p = softmax(logits, valid: i + 1)
                for j in 0..<(n - w) { out[h / g][j] += p[j] }
            }
        }
        return out
    }

    /// Indices of the k best scores (higher first, then lower index), ascending.
    static func topK(_ s: [Double], _ k: Int) -> [Int] {
        Array(s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }.prefix(k)).sorted()
    }

    /// Ada-KV (arXiv 2407.11550, Alg. 1 with the α safeguard): each head its top ⌊αB⌋, the rest of
    /// the layer's Hk·B chosen from all heads' remaining scores together.
    static func adaKV(_ s: [[Double]], budget b: Int, alpha: Double) -> [[Int]] {
        let f = Int(Double(b) * alpha)
        var kept = s.map { topK($0, f) }
        var pool: [(score: Double, head: Int, index: Int)] = []
        for (h, row) in s.enumerated() {
            let taken = Set(kept[h])
            for j in row.indices where !taken.contains(j) { pool.append((row[j], h, j)) }
        }
        pool.sort { $0.score > $1.score || ($0.score == $1.score && ($0.head < $1.head || ($0.head == $1.head && $0.index < $1.index))) }
        for e in pool.prefix(s.count * (b - f)) { kept[e.head].append(e.index) }
        return kept.map { $0.sorted() }
    }

    /// The pyramid schedule (written from its definition: budgets from 2B − ⌊B/β⌋ down to ⌊B/β⌋,
    /// linear in depth, capped at n − w with the same mean).
    static func pyramidBudget(base b: Int, layer: Int, layers: Int, available: Int, beta: Int = 20) -> Int {
        var lo = b / beta, hi = 2 * b - lo
        if hi >= available { hi = available; lo = 2 * b - hi }
        return hi - layer * ((hi - lo) / (layers - 1))
    }

    /// Checks `got` against `want` per head, allowing a difference only at a near tie: every row in
    /// one set and not the other must score within `tolerance` (relative) of the boundary score.
    static func compare(got: [[Int]], want: [[Int]], scores: [[Double]], boundary: (Int) -> Double,
                        tolerance: Double = 1e-5) -> String? {
        for h in want.indices where got[h] != want[h] {
            let diff = Set(got[h]).symmetricDifference(want[h]).filter { $0 < scores[h].count }
            let t = boundary(h)
            for j in diff where abs(scores[h][j] - t) > tolerance * max(abs(t), 1e-12) {
                return "head \(h): row \(j) (score \(scores[h][j]), boundary \(t)) kept differently; got \(got[h].count) rows, want \(want[h].count)"
            }
        }
        return nil
    }
}
