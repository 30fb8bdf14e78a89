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
        let scratch = Attention.Scratch(groupSize: heads / kvHeads, headDim: d)
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

    @Test(arguments: [(1, 3, 64), (7, 3, 64), (300, 3, 64), (16, 5, 64), (33, 1, 128), (97, 4, 128), (50, 2, 32)])
    func decodeAttentionMatchesReference(length: Int, group: Int, d: Int) {
        var rng = TestRandom(UInt64(9 + length))
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

    /// A cache split into chunks and merged gives the one-pass result (what threaded decode does).
    @Test(arguments: [(300, [100, 0, 150, 50]), (64, [1, 63]), (1000, [512, 488])])
    func chunkedDecodeAttentionMerges(length: Int, chunks: [Int]) {
        let group = 3, d = 64
        var rng = TestRandom(UInt64(length))
        let q = rng.floats(group * d), k = rng.floats(length * d, 4), v = rng.floats(length * d)
        var whole = [Float](repeating: 0, count: group * d), merged = whole
        var scratch = [Float](repeating: 0, count: group * length)
        var outs = [Float](repeating: 0, count: chunks.count * group * d)
        var maxima = [Float](repeating: 0, count: chunks.count * group), sums = maxima
        Attention.attendOne(query: q, group: group, keys: k, values: v, length: length, headDim: d, scale: 0.125,
                            out: &whole, scratch: &scratch)
        var start = 0
        for (c, n) in chunks.enumerated() {
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    outs.withUnsafeMutableBufferPointer { o in
                        maxima.withUnsafeMutableBufferPointer { mx in
                            sums.withUnsafeMutableBufferPointer { sm in
                                Attention.attendPartial(query: q, group: group, keys: kp.baseAddress! + start * d,
                                                        values: vp.baseAddress! + start * d, length: n, headDim: d,
                                                        scale: 0.125, out: o.baseAddress! + c * group * d,
                                                        maxima: mx.baseAddress! + c * group,
                                                        sums: sm.baseAddress! + c * group, scratch: &scratch)
                            }
                        }
                    }
                }
            }
            start += n
        }
        Attention.mergePartials(chunks: chunks.count, group: group, headDim: d, outs: outs, maxima: maxima,
                                sums: sums, into: &merged)
        let diff = Reference.maxAbsDiff(whole, merged)
        #expect(diff < 1e-5, "chunks \(chunks): max |Δ| \(diff)")
        #expect(sums.enumerated().allSatisfy { i, s in chunks[i / group] == 0 ? s == 0 : s >= 1 })
    }
}
