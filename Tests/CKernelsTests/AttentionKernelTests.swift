import CKernels
import Foundation
import Testing
import Tensors

/// Decode attention (fkv_attend_partial / _merge / _one) against a Double reference on every kernel
/// path: d = 64 and 128 (the register-blocked kernels) and odd d, empty, single-key and long caches
/// (many key blocks, so the AVX2 kernel's online softmax rescales), and group sizes 1 to 5.
struct AttentionKernelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let d, len, group: Int
        /// Scores grow along the cache, so the running max keeps moving (every block rescales).
        let rising: Bool
        var testDescription: String { "d \(d) len \(len) group \(group)\(rising ? " rising" : "")" }
    }

    static let cases: [Case] = [
        Case(d: 64, len: 0, group: 3, rising: false), Case(d: 64, len: 1, group: 3, rising: false),
        Case(d: 64, len: 7, group: 3, rising: false), Case(d: 64, len: 8, group: 1, rising: false),
        Case(d: 64, len: 65, group: 3, rising: true), Case(d: 64, len: 300, group: 5, rising: false),
        Case(d: 64, len: 3000, group: 3, rising: true), Case(d: 128, len: 1, group: 2, rising: false),
        Case(d: 128, len: 33, group: 4, rising: false), Case(d: 128, len: 257, group: 3, rising: true),
        Case(d: 128, len: 2000, group: 1, rising: false), Case(d: 13, len: 1, group: 3, rising: false),
        Case(d: 13, len: 50, group: 3, rising: true), Case(d: 80, len: 100, group: 2, rising: false),
        Case(d: 1, len: 20, group: 3, rising: false), Case(d: 200, len: 70, group: 2, rising: true),
        Case(d: 8, len: 9, group: 1, rising: false),
    ]

    /// Random q, K, V for a case; `rising` scales key j by 1 + 3j/len.
    static func inputs(_ c: Case, seed: UInt64) -> (q: [Float], k: [Float], v: [Float]) {
        var rng = KernelRandom(seed)
        let q = rng.floats(c.group * c.d)
        var k = rng.floats(c.len * c.d, 2)
        let v = rng.floats(c.len * c.d)
        if c.rising {
            for j in 0..<c.len { for i in 0..<c.d { k[j * c.d + i] *= 1 + 3 * Float(j) / Float(c.len) } }
        }
        return (q, k, v)
    }

    @Test(arguments: KernelPath.supported, cases)
    func partialMatchesReference(path: KernelPath, c: Case) {
        let (q, k, v) = Self.inputs(c, seed: UInt64(c.d * 7919 + c.len * 31 + c.group))
        let scale: Float = 1 / Float(c.d).squareRoot()
        var out = [Float](repeating: .nan, count: c.group * c.d)
        var mx = [Float](repeating: .nan, count: c.group), sum = mx
        var scratch = [Float](repeating: 0, count: max(c.group * c.len, 1))
        KernelPath.withPath(path) {
            fkv_attend_partial(q, c.group, k, v, c.len, c.d, scale, &out, &mx, &sum, &scratch)
        }
        for g in 0..<c.group {
            let ref = KernelReference.attention(q: q[(g * c.d)..<((g + 1) * c.d)], k: k, v: v, len: c.len, d: c.d,
                                                scale: scale)
            let label = "path \(path), \(c.testDescription), head \(g)"
            if c.len == 0 {
                #expect(mx[g] == -.infinity && sum[g] == 0, "\(label): empty chunk gives max \(mx[g]), sum \(sum[g])")
                #expect(out[(g * c.d)..<((g + 1) * c.d)].allSatisfy { $0 == 0 }, "\(label): empty chunk output not 0")
                continue
            }
            let maxDiff = abs(Double(mx[g]) - ref.max)
            #expect(maxDiff <= 1e-5 * max(1, abs(ref.max)), "\(label): max score off by \(maxDiff) (tolerance 1e-5)")
            // Σ e^{s − mx} is relative to the kernel's own max: compare log(sum) + max.
            let logSumDiff = abs(log(Double(sum[g])) + Double(mx[g]) - (log(ref.sum) + ref.max))
            #expect(logSumDiff <= 1e-5, "\(label): log Σe^s off by \(logSumDiff) (tolerance 1e-5)")
            let normalised = out[(g * c.d)..<((g + 1) * c.d)].map { $0 / sum[g] }
            let (diff, at) = KernelReference.worst(normalised, ref.out)
            #expect(diff <= 1e-5, "\(label): output max |Δ| \(diff) at \(at) > tolerance 1e-5")
        }
    }

    /// Chunks of one cache, attended separately and merged, give the reference (threaded decode).
    @Test(arguments: KernelPath.supported, [(64, [100, 0, 150, 50]), (64, [1, 63, 1000]), (128, [129, 7]), (13, [5, 0, 40])])
    func mergedChunksMatchReference(path: KernelPath, split: (d: Int, chunks: [Int])) {
        let (d, chunks) = split
        let len = chunks.reduce(0, +), group = 3
        let c = Case(d: d, len: len, group: group, rising: true)
        let (q, k, v) = Self.inputs(c, seed: UInt64(len + d))
        let scale: Float = 0.125
        let (merged, whole) = Self.mergedAndWhole(q: q, k: k, v: v, group: group, d: d, chunks: chunks, scale: scale,
                                                  path: path, partial: { fkv_attend_partial($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) },
                                                  one: { fkv_attend_one($0, $1, $2, $3, $4, $5, $6, $7, $8) })
        for g in 0..<group {
            let ref = KernelReference.attention(q: q[(g * d)..<((g + 1) * d)], k: k, v: v, len: len, d: d, scale: scale)
            let (diff, at) = KernelReference.worst(Array(merged[(g * d)..<((g + 1) * d)]), ref.out)
            #expect(diff <= 1e-5, "path \(path), d \(d), chunks \(chunks), head \(g): merged max |Δ| \(diff) at \(at) > 1e-5")
            let (diffOne, atOne) = KernelReference.worst(Array(whole[(g * d)..<((g + 1) * d)]), ref.out)
            #expect(diffOne <= 1e-5, "path \(path), d \(d), head \(g): fkv_attend_one max |Δ| \(diffOne) at \(atOne) > 1e-5")
        }
    }

    typealias Partial<E> = (UnsafePointer<Float>, Int, UnsafePointer<E>, UnsafePointer<E>, Int, Int, Float,
                            UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                            UnsafeMutablePointer<Float>) -> Void
    typealias OnePass<E> = (UnsafePointer<Float>, Int, UnsafePointer<E>, UnsafePointer<E>, Int, Int, Float,
                            UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void

    /// One cache [len][d] (len = Σ chunks) of element type E (f32, or f16 bits) attended chunk by
    /// chunk with `partial` and merged with `fkv_attend_merge`, as threaded decode does, and in one
    /// pass with `one`, both on `path`: (merged, whole), each [group][d].
    static func mergedAndWhole<E>(q: [Float], k: [E], v: [E], group: Int, d: Int, chunks: [Int], scale: Float,
                                  path: KernelPath, partial: Partial<E>, one: OnePass<E>) -> (merged: [Float], whole: [Float]) {
        let len = chunks.reduce(0, +)
        var outs = [Float](repeating: 0, count: chunks.count * group * d)
        var maxima = [Float](repeating: 0, count: chunks.count * group), sums = maxima
        var scratch = [Float](repeating: 0, count: max(group * len, 1))
        var merged = [Float](repeating: .nan, count: group * d), whole = merged
        KernelPath.withPath(path) {
            q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
            v.withUnsafeBufferPointer { vp in
            scratch.withUnsafeMutableBufferPointer { sp in
                var start = 0
                for (i, n) in chunks.enumerated() {
                    outs.withUnsafeMutableBufferPointer { o in
                    maxima.withUnsafeMutableBufferPointer { mx in
                    sums.withUnsafeMutableBufferPointer { sm in
                        partial(qp.baseAddress!, group, kp.baseAddress! + start * d, vp.baseAddress! + start * d, n, d, scale,
                                o.baseAddress! + i * group * d, mx.baseAddress! + i * group, sm.baseAddress! + i * group,
                                sp.baseAddress!)
                    }
                    }
                    }
                    start += n
                }
                fkv_attend_merge(chunks.count, group, d, outs, maxima, sums, &merged)
                whole.withUnsafeMutableBufferPointer { w in
                    one(qp.baseAddress!, group, kp.baseAddress!, vp.baseAddress!, len, d, scale, w.baseAddress!, sp.baseAddress!)
                }
            }
            }
            }
            }
        }
        return (merged, whole)
    }
}
