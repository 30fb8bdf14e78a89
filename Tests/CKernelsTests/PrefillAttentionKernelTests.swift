import CKernels
import Foundation
import Testing
import Tensors

/// Flash-style causal prefill attention (fkv_prefill_attention) against a naive Double reference on
/// every kernel path: token counts around the block size (one block, one short of it, one past it)
/// and long enough for many key blocks (so the online softmax rescales and the diagonal skip
/// matters), d = 64 and 128 (the unrolled kernels) and d that is not a multiple of 16, G = 1, 3, 4,
/// several KV heads, Q, K and V in separate buffers with their own row strides.
struct PrefillAttentionKernelTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let n, d, group, kvHeads: Int
        /// Keys grow along the sequence, so the running max moves at almost every key block.
        let rising: Bool
        var testDescription: String { "n \(n) d \(d) G \(group) Hk \(kvHeads)\(rising ? " rising" : "")" }
    }

    static let block = Int(FKV_PREFILL_BLOCK)
    static let cases: [Case] = [
        Case(n: 1, d: 64, group: 3, kvHeads: 3, rising: false),
        Case(n: block - 1, d: 64, group: 1, kvHeads: 2, rising: false),
        Case(n: block, d: 64, group: 4, kvHeads: 1, rising: false),
        Case(n: block + 1, d: 64, group: 3, kvHeads: 3, rising: true),
        Case(n: 1030, d: 64, group: 3, kvHeads: 1, rising: true),
        Case(n: 2 * block + 1, d: 128, group: 4, kvHeads: 2, rising: false),
        Case(n: 700, d: 128, group: 1, kvHeads: 1, rising: true),
        Case(n: block + 1, d: 80, group: 3, kvHeads: 2, rising: false),
        Case(n: 300, d: 96, group: 4, kvHeads: 1, rising: true),
        Case(n: 77, d: 13, group: 3, kvHeads: 1, rising: false),
    ]

    /// Q [n][H·d + 5] (5 floats of padding per row), K [n][Hk·d], V [n][Hk·d + 3].
    struct Inputs {
        let q, k, v: [Float]
        let ldq, ldk, ldv: Int
    }

    static func inputs(_ c: Case) -> Inputs {
        let heads = c.group * c.kvHeads
        let ldq = heads * c.d + 5, ldk = c.kvHeads * c.d, ldv = c.kvHeads * c.d + 3
        var rng = KernelRandom(UInt64(c.n * 131 + c.d * 7 + c.group))
        let q = rng.floats(c.n * ldq, 2), v = rng.floats(c.n * ldv)
        var k = rng.floats(c.n * ldk, 2)
        if c.rising {
            for j in 0..<c.n { for i in 0..<ldk { k[j * ldk + i] *= 1 + 3 * Float(j) / Float(c.n) } }
        }
        return Inputs(q: q, k: k, v: v, ldq: ldq, ldk: ldk, ldv: ldv)
    }

    /// softmax(q·Kᵀ·scale)·V over keys 0…i, in Double: [n][H·d].
    static func reference(_ c: Case, _ x: Inputs, scale: Double) -> [Double] {
        let heads = c.group * c.kvHeads, d = c.d
        var out = [Double](repeating: 0, count: c.n * heads * d)
        var s = [Double](repeating: 0, count: c.n)
        for i in 0..<c.n {
            for h in 0..<heads {
                let kv = h / c.group
                var mx = -Double.infinity
                for j in 0...i {
                    var a = 0.0
                    for e in 0..<d { a += Double(x.q[i * x.ldq + h * d + e]) * Double(x.k[j * x.ldk + kv * d + e]) }
                    s[j] = a * scale
                    mx = max(mx, s[j])
                }
                var sum = 0.0
                for j in 0...i { s[j] = exp(s[j] - mx); sum += s[j] }
                for e in 0..<d {
                    var o = 0.0
                    for j in 0...i { o += s[j] * Double(x.v[j * x.ldv + kv * d + e]) }
                    out[(i * heads + h) * d + e] = o / sum
                }
            }
        }
        return out
    }

    static func run(_ c: Case, _ x: Inputs, path: KernelPath, scale: Float) -> [Float] {
        let heads = c.group * c.kvHeads
        var out = [Float](repeating: .nan, count: c.n * heads * c.d)
        let scratch = Tensor(shape: [ComputePool.threadCount * fkv_prefill_attention_scratch_floats(c.group, c.d)])
        KernelPath.withPath(path) {
            scratch.withUnsafeMutablePointer { s in
                fkv_prefill_attention(c.n, heads, c.kvHeads, c.d, x.q, x.ldq, x.k, x.ldk, x.v, x.ldv, scale, &out,
                                      heads * c.d, s)
            }
        }
        return out
    }

    @Test(arguments: 0..<cases.count)
    func matchesReferenceOnEveryPath(index: Int) {
        let c = Self.cases[index]
        let x = Self.inputs(c)
        let scale = 1 / Double(c.d).squareRoot()
        let ref = Self.reference(c, x, scale: scale)
        for path in KernelPath.supported {
            let got = Self.run(c, x, path: path, scale: Float(scale))
            let (diff, at) = KernelReference.worst(got, ref)
            let heads = c.group * c.kvHeads
            #expect(diff <= 1e-5, """
                path \(path), \(c.testDescription): max |Δ| \(diff) at token \(at / (heads * c.d)), \
                head \(at / c.d % heads) > tolerance 1e-5
                """)
        }
    }

    /// The output rows of token i depend only on tokens 0…i: changing the last token's K and V
    /// leaves every earlier row bit for bit unchanged (the causal skip and mask are right).
    @Test(arguments: KernelPath.supported)
    func laterTokensDoNotLeakIntoEarlierRows(path: KernelPath) {
        let c = Case(n: 3 * Self.block + 10, d: 64, group: 3, kvHeads: 2, rising: false)
        let x = Self.inputs(c)
        var k = x.k, v = x.v
        for i in 0..<x.ldk { k[(c.n - 1) * x.ldk + i] = 50 }
        for i in 0..<x.ldv { v[(c.n - 1) * x.ldv + i] = -50 }
        let before = Self.run(c, x, path: path, scale: 0.125)
        let after = Self.run(c, Inputs(q: x.q, k: k, v: v, ldq: x.ldq, ldk: x.ldk, ldv: x.ldv), path: path, scale: 0.125)
        let row = c.group * c.kvHeads * c.d
        #expect(before[0..<((c.n - 1) * row)] == after[0..<((c.n - 1) * row)], "path \(path): an earlier row changed")
        #expect(before[((c.n - 1) * row)...] != after[((c.n - 1) * row)...], "path \(path): the last row ignored its own key")
    }

    /// Scratch is a few blocks per worker, whatever the token count.
    @Test func scratchIsIndependentOfTokenCount() {
        let floats = fkv_prefill_attention_scratch_floats(3, 64)
        #expect(floats > 0 && floats * 4 < 512 * 1024, "scratch for G 3, d 64 is \(floats * 4) bytes")
        #expect(fkv_prefill_attention_scratch_floats(4, 128) * 4 < 1024 * 1024)
    }
}
