import Llama
import Tensors

/// The per-head score of HeadKV's retrieval-reasoning head detection for one needle trial
/// (`retrieval_calculate` in FYYFU/HeadKV's `retrieval_head_detection_r2.py`), as a KV policy that
/// keeps everything and only reads the attention.
///
/// Run as a prefill over the prompt plus the answer tokens the model generated, all but the last:
/// the queries at rows `firstStepRow ..< firstStepRow + steps` are exactly the decode steps that
/// produced the answer (causal attention is the same in prefill and decode). For every step, layer
/// and query head: the k = |span| most-attended positions of that step's attention row (softmax of
/// q·Kᵀ/√d over every earlier position, the answer's own included); each that lies in the needle
/// span adds 10·a/(|span|·answerTokens), a its attention weight. Ties in the top-k go to the lower
/// position. The retrieval-reasoning rule (r2) drops the original retrieval-head condition that the
/// attended token equals the generated one, and weights by attention instead of counting hits.
public struct AnswerAttentionScorer: KVSelectionPolicy {
    public let span: Range<Int>
    public let firstStepRow: Int
    public let steps: Int
    public let answerTokens: Int
    /// [layer][query head], accumulated as layers run.
    public private(set) var scores: [[Double]]

    /// - Parameters: span: the needle's rows; firstStepRow: the last prompt row (the first decode
    ///   step's query); steps: answer tokens generated; answerTokens: tokens of the true answer.
    public init(span: Range<Int>, firstStepRow: Int, steps: Int, answerTokens: Int, layerCount: Int, headCount: Int) {
        self.span = span
        self.firstStepRow = firstStepRow
        self.steps = steps
        self.answerTokens = max(1, answerTokens)
        scores = Array(repeating: Array(repeating: 0, count: headCount), count: layerCount)
    }

    public mutating func select(_ a: LayerActivations) -> LayerSelection {
        let n = a.tokenCount, d = a.headDim, group = a.headCount / a.kvHeadCount
        let rows = min(steps, n - firstStepRow)
        guard rows > 0, !span.isEmpty else { return .keepAll }
        let k = span.count
        let weight = 10 / Double(span.count * answerTokens)
        let logits = Tensor(shape: [rows, n])
        let scale = 1 / Float(d).squareRoot()
        var layerScores = scores[a.layer]
        a.qkv.withUnsafeMutablePointer { qkv in
            logits.withUnsafeMutablePointer { A in
                for h in 0..<a.headCount {
                    Gemm.multiply(m: rows, n: n, k: d, alpha: scale,
                                  a: qkv + firstStepRow * a.rowStride + h * d, lda: a.rowStride,
                                  b: qkv + a.keyColumn + (h / group) * d, ldb: a.rowStride, transposeB: true,
                                  c: A, ldc: n)
                    for t in 0..<rows {
                        let row = A + t * n
                        let valid = firstStepRow + t + 1
                        Gemm.softmax(row, valid: valid, count: n)
                        let attention = Array(UnsafeBufferPointer(start: row, count: valid))
                        for j in Self.topPositions(attention, count: k) where span.contains(j) {
                            layerScores[h] += weight * Double(attention[j])
                        }
                    }
                }
            }
        }
        scores[a.layer] = layerScores
        return .keepAll
    }

    /// The k largest entries' positions (higher weight first, then lower position).
    static func topPositions(_ x: [Float], count k: Int) -> [Int] {
        if k >= x.count { return Array(x.indices) }
        return Array(x.indices.sorted { x[$0] > x[$1] || (x[$0] == x[$1] && $0 < $1) }.prefix(k))
    }
}
