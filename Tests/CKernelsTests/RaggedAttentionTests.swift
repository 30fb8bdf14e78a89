import CKernels
import Foundation
import Testing
import Tensors

/// Decode attention over a ragged layer (KV heads with different entry counts, each in its own
/// storage, as `LayerKV` holds them): the way `LlamaModel.decode` splits it — chunks sized by the
/// longest head, so a short head's surplus chunks are empty — then merges, against the Double
/// reference per head, on every kernel path.
struct RaggedAttentionTests {
    static let layouts: [(d: Int, group: Int, counts: [Int], chunks: Int)] = [
        (64, 3, [300, 1, 129], 3),        // SmolLM2's geometry: one head far shorter than the chunk length
        (64, 3, [9, 1000, 256], 4),
        (128, 4, [5, 77, 2000, 64], 5),
        (13, 2, [40, 3], 2),
        (64, 1, [517, 517, 517], 2),      // dense: the special case of equal counts
    ]

    @Test(arguments: KernelPath.supported, 0..<layouts.count)
    func raggedLayerMatchesReference(path: KernelPath, layout: Int) {
        let (d, group, counts, chunks) = Self.layouts[layout]
        let longest = counts.max()!, chunkLength = (longest + chunks - 1) / chunks
        let scale = 1 / Float(d).squareRoot()
        var rng = KernelRandom(UInt64(7 + layout))
        for (h, count) in counts.enumerated() {
            let q = rng.floats(group * d)
            let k = rng.floats(count * d, 2), v = rng.floats(count * d)
            var outs = [Float](repeating: .nan, count: chunks * group * d)
            var maxima = [Float](repeating: .nan, count: chunks * group), sums = maxima
            var scratch = [Float](repeating: 0, count: max(group * chunkLength, 1))
            KernelPath.withPath(path) {
                for c in 0..<chunks {
                    let j0 = min(c * chunkLength, count), length = min(chunkLength, count - j0)
                    k.withUnsafeBufferPointer { kp in
                        v.withUnsafeBufferPointer { vp in
                            outs.withUnsafeMutableBufferPointer { o in
                                maxima.withUnsafeMutableBufferPointer { m in
                                    sums.withUnsafeMutableBufferPointer { s in
                                        fkv_attend_partial(q, group, kp.baseAddress! + j0 * d, vp.baseAddress! + j0 * d,
                                                           length, d, scale, o.baseAddress! + c * group * d,
                                                           m.baseAddress! + c * group, s.baseAddress! + c * group, &scratch)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            var out = [Float](repeating: .nan, count: group * d)
            fkv_attend_merge(chunks, group, d, outs, maxima, sums, &out)
            for g in 0..<group {
                let ref = KernelReference.attention(q: q[(g * d)..<((g + 1) * d)], k: k, v: v, len: count, d: d, scale: scale)
                let (diff, at) = KernelReference.worst(Array(out[(g * d)..<((g + 1) * d)]), ref.out)
                #expect(diff <= 1e-5, "path \(path), heads \(counts), head \(h) (\(count) entries), query \(g): max |Δ| \(diff) at \(at) > 1e-5")
            }
        }
    }
}
