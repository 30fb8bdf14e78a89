import Foundation
import Testing
import Tensors

struct AttentionTests {
    /// Prefill attention over several query tiles (n not a multiple of the tile) with GQA.
    @Test(arguments: [1, 5, 64, 150])
    func causalPrefillMatchesReference(n: Int) {
        let heads = 4, kvHeads = 2, d = 16
        let stride = (heads + 2 * kvHeads) * d
        var rng = TestRandom(UInt64(n))
        let qkv = Tensor(shape: [n, stride], values: rng.floats(n * stride, 2))
        let out = Tensor(shape: [n, heads * d])
        let scratch = Attention.Scratch(groupSize: heads / kvHeads, headDim: d, maxKeys: n)
        Attention.causalPrefill(qkv: qkv, tokenCount: n, headCount: heads, kvHeadCount: kvHeads, headDim: d,
                                into: out, scratch: scratch)
        let rows = (0..<n).map { qkv.row($0) }
        let ref = Reference.attention(q: rows.map { Array($0[0..<(heads * d)]) },
                                      k: rows.map { Array($0[(heads * d)..<((heads + kvHeads) * d)]) },
                                      v: rows.map { Array($0[((heads + kvHeads) * d)...]) },
                                      heads: heads, kvHeads: kvHeads, d: d)
        let diff = Reference.maxAbsDiff(ref.flatMap { $0 }, out.toArray())
        #expect(diff < 1e-5, "max |Δ| \(diff) for n = \(n)")
    }

    @Test(arguments: [1, 7, 300])
    func decodeAttentionMatchesReference(length: Int) {
        let group = 3, d = 64
        var rng = TestRandom(9)
        let q = rng.floats(group * d), k = rng.floats(length * d, 2), v = rng.floats(length * d)
        var out = [Float](repeating: 0, count: group * d)
        var scratch = [Float](repeating: 0, count: group * length)
        q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    Attention.attendOne(query: qp.baseAddress!, group: group, keys: kp.baseAddress!, values: vp.baseAddress!,
                                        length: length, headDim: d, scale: 1 / 8, out: &out, scratch: &scratch)
                }
            }
        }
        // The new token sees every cached entry: the last row of a causal reference over [cache].
        for g in 0..<group {
            let scores = (0..<length).map { j in (0..<d).reduce(Float(0)) { $0 + q[g * d + $1] * k[j * d + $1] } / 8 }
            let p = Reference.softmax(scores)
            let ref = (0..<d).map { c in (0..<length).reduce(Float(0)) { $0 + p[$1] * v[$1 * d + c] } }
            let diff = Reference.maxAbsDiff(ref, Array(out[(g * d)..<((g + 1) * d)]))
            #expect(diff < 1e-5, "head \(g): max |Δ| \(diff)")
        }
    }
}
