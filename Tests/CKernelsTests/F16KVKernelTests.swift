import CKernels
import Foundation
import Testing
import Tensors

/// The f16 KV cache's kernels on every kernel path: f32 ⇄ binary16 conversion (half.c) against
/// Swift's own `Float16` conversions (IEEE round to nearest even, not our code), and the f16 decode
/// attention (fkv_attend_partial_f16 / _one_f16) against the Double reference over the same
/// f16-rounded K/V (tight: only the kernel's own rounding) and over the unrounded K/V (loose: what
/// storing binary16 costs).
struct F16KVKernelTests {
    /// Binary16 bits of x as Swift rounds it (the independent reference).
    static func half(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// Inputs that exercise every branch of the conversion: ties to even in the normal and subnormal
    /// ranges, the overflow threshold, the smallest subnormal and half of it, zeros, infinities.
    static let edgeValues: [Float] = {
        var v: [Float] = [0, -0, 1, -1, .infinity, -.infinity, 65504, 65519, 65519.996, 65520, 65536, 1e10, -65520,
                          Float.leastNormalMagnitude, Float.leastNonzeroMagnitude, 6.1035156e-5 /* 2^-14 */,
                          5.9604645e-8 /* 2^-24 */, 2.9802322e-8 /* 2^-25 */, 2.9802326e-8, 2.9802319e-8,
                          8.940697e-8 /* 1.5 · 2^-24: tie to 2 units */, 1.4901161e-7 /* 2.5 · 2^-24: tie to 2 */,
                          1 + 1.0 / 2048 /* tie, rounds down to even */, 1 + 3.0 / 2048 /* tie, rounds up */,
                          1 + 1.0 / 2048 + 1e-7, 2047.5, 2048.5, 3.0e-5, -4.5e-6, 0.1, -0.3333]
        for e in -30...16 { let p = Float(sign: .plus, exponent: e, significand: 1); v += [p, p * 1.0004883, -p * 1.5] }
        return v
    }()

    @Test(arguments: KernelPath.supported)
    func toHalfRoundsToNearestEven(path: KernelPath) {
        var rng = KernelRandom(11)
        var xs = Self.edgeValues
        for scale: Float in [1e-6, 1e-3, 1, 8, 300, 7e4] { xs += rng.floats(1000, scale) }
        xs += (0..<37).map { Float($0) * 0.37 }   // odd length: the vector loops' scalar tails run too
        var out = [UInt16](repeating: 0xdead, count: xs.count)
        KernelPath.withPath(path) { fkv_f32_to_f16(xs, &out, xs.count) }
        for (i, x) in xs.enumerated() {
            #expect(out[i] == Self.half(x), "path \(path): \(x) (bits \(String(x.bitPattern, radix: 16))) → \(String(out[i], radix: 16)), want \(String(Self.half(x), radix: 16))")
        }
    }

    /// NaNs stay NaNs with the same bits on every path (the scalar converter mirrors vcvtps2ph).
    @Test func nanBitsAgreeAcrossPaths() {
        let nans: [Float] = [.nan, -.nan, .signalingNaN, Float(bitPattern: 0x7f80_0001), Float(bitPattern: 0xffc1_2345),
                             Float(bitPattern: 0x7fbf_ffff)] + (0..<20).map { Float($0) }   // 26: vector body + tail
        var byPath: [[UInt16]] = []
        for path in KernelPath.supported {
            var out = [UInt16](repeating: 0, count: nans.count)
            KernelPath.withPath(path) { fkv_f32_to_f16(nans, &out, nans.count) }
            byPath.append(out)
            for i in 0..<6 { #expect(Float16(bitPattern: out[i]).isNaN, "path \(path): NaN \(i) → \(String(out[i], radix: 16))") }
        }
        for (p, out) in byPath.enumerated() { #expect(out == byPath[0], "path \(KernelPath.supported[p]) differs from scalar") }
    }

    /// Every one of the 65536 binary16 values widens exactly (NaNs to NaNs).
    @Test(arguments: KernelPath.supported)
    func toFloatIsExactForEveryHalf(path: KernelPath) {
        let all = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 1234, count: all.count)
        KernelPath.withPath(path) { fkv_f16_to_f32(all, &out, all.count) }
        var wrong = 0
        for h in all {
            let want = Float(Float16(bitPattern: h))
            if want.isNaN ? !out[Int(h)].isNaN : out[Int(h)].bitPattern != want.bitPattern { wrong += 1 }
        }
        #expect(wrong == 0, "path \(path): \(wrong) of 65536 halves widen wrongly")
        // Round trip: widening then narrowing gives every non-NaN half back.
        var back = [UInt16](repeating: 0, count: all.count)
        KernelPath.withPath(path) { fkv_f32_to_f16(out, &back, out.count) }
        #expect(all.allSatisfy { Float16(bitPattern: $0).isNaN || back[Int($0)] == $0 }, "path \(path): f16 → f32 → f16 changed a value")
    }

    /// Largest |Δ| against unrounded f32 attention that storing K/V as binary16 may cost on these
    /// inputs (|q| ≤ 1, |k| ≤ 8, |v| ≤ 1, d ≤ 200): each element moves by ≤ 2^-11 relative, so a
    /// score moves by ≤ 2^-11 · Σ|q·k| · scale (≈ 0.01 at worst here) and the output by that times
    /// |v| plus 2^-11 · |v|. The observed worst is printed; it was 3.7e-4.
    static let roundingTolerance = 1e-2

    @Test(arguments: KernelPath.supported, AttentionKernelTests.cases)
    func f16PartialMatchesReference(path: KernelPath, c: AttentionKernelTests.Case) {
        let (q, k, v) = AttentionKernelTests.inputs(c, seed: UInt64(c.d * 7919 + c.len * 31 + c.group))
        let kh = k.map(Self.half), vh = v.map(Self.half)
        let kr = kh.map { Float(Float16(bitPattern: $0)) }, vr = vh.map { Float(Float16(bitPattern: $0)) }
        let scale: Float = 1 / Float(c.d).squareRoot()
        var out = [Float](repeating: .nan, count: c.group * c.d), one = out
        var mx = [Float](repeating: .nan, count: c.group), sum = mx
        var scratch = [Float](repeating: 0, count: max(c.group * c.len, 1))
        KernelPath.withPath(path) {
            fkv_attend_partial_f16(q, c.group, kh, vh, c.len, c.d, scale, &out, &mx, &sum, &scratch)
            fkv_attend_one_f16(q, c.group, kh, vh, c.len, c.d, scale, &one, &scratch)
        }
        var worstRounding = 0.0
        for g in 0..<c.group {
            let label = "path \(path), \(c.testDescription), head \(g)"
            let rows = (g * c.d)..<((g + 1) * c.d)
            if c.len == 0 {
                #expect(mx[g] == -.infinity && sum[g] == 0 && out[rows].allSatisfy { $0 == 0 }, "\(label): empty chunk")
                #expect(one[rows].allSatisfy { $0 == 0 }, "\(label): fkv_attend_one_f16 of no keys is not 0")
                continue
            }
            let ref = KernelReference.attention(q: q[rows], k: kr, v: vr, len: c.len, d: c.d, scale: scale)
            let maxDiff = abs(Double(mx[g]) - ref.max)
            #expect(maxDiff <= 1e-5 * max(1, abs(ref.max)), "\(label): max score off by \(maxDiff) (tolerance 1e-5)")
            let logSumDiff = abs(log(Double(sum[g])) + Double(mx[g]) - (log(ref.sum) + ref.max))
            #expect(logSumDiff <= 1e-5, "\(label): log Σe^s off by \(logSumDiff) (tolerance 1e-5)")
            let (diff, at) = KernelReference.worst(out[rows].map { $0 / sum[g] }, ref.out)
            #expect(diff <= 1e-5, "\(label): output max |Δ| \(diff) at \(at) against f16-rounded K/V > 1e-5")
            let (diffOne, atOne) = KernelReference.worst(Array(one[rows]), ref.out)
            #expect(diffOne <= 1e-5, "\(label): fkv_attend_one_f16 max |Δ| \(diffOne) at \(atOne) > 1e-5")
            let exact = KernelReference.attention(q: q[rows], k: k, v: v, len: c.len, d: c.d, scale: scale)
            let (rounding, _) = KernelReference.worst(Array(one[rows]), exact.out)
            #expect(rounding <= Self.roundingTolerance, "\(label): f16 K/V moved the output by \(rounding) > \(Self.roundingTolerance)")
            worstRounding = max(worstRounding, rounding)
        }
        print("f16 KV, path \(path), \(c.testDescription): max |Δ| against unrounded f32 attention \(worstRounding)")
    }

    /// Chunks of an f16 cache merge to the f16 one-pass result (threaded decode over an f16 cache).
    @Test(arguments: KernelPath.supported, [(64, [100, 0, 150, 50]), (128, [129, 7, 900]), (13, [5, 0, 40])])
    func f16ChunksMerge(path: KernelPath, split: (d: Int, chunks: [Int])) {
        let (d, chunks) = split
        let len = chunks.reduce(0, +), group = 3
        let c = AttentionKernelTests.Case(d: d, len: len, group: group, rising: true)
        let (q, k, v) = AttentionKernelTests.inputs(c, seed: UInt64(len + d))
        let (merged, whole) = AttentionKernelTests.mergedAndWhole(
            q: q, k: k.map(Self.half), v: v.map(Self.half), group: group, d: d, chunks: chunks, scale: 0.125, path: path,
            partial: { fkv_attend_partial_f16($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) },
            one: { fkv_attend_one_f16($0, $1, $2, $3, $4, $5, $6, $7, $8) })
        let (diff, at) = KernelReference.worst(merged, whole.map(Double.init))
        #expect(diff <= 1e-5, "path \(path), d \(d), chunks \(chunks): merged vs one-pass max |Δ| \(diff) at \(at)")
    }
}
