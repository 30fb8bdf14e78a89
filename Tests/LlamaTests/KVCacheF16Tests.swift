import Llama
import Tensors
import Testing

/// The f16 KV cache (`--kv-dtype f16`): every way entries enter (wire-order append, decode's
/// appendToken, prefill's selected rows from a QKV tensor) stores exactly the binary16 rounding of
/// the f32 values and nothing else, `copyEntries` widens it exactly, growth and `copy` keep the bits,
/// and the byte counts are half the f32 ones.
struct KVCacheF16Tests {
    static func rounded(_ x: [Float]) -> [Float] { x.map { Float(Float16($0)) } }

    static func entries(_ layer: LayerKV) -> (k: [Float], v: [Float]) {
        var k = [Float](repeating: .nan, count: max(layer.entryCount * layer.headDim, 1)), v = k
        layer.copyEntries(keys: &k, values: &v)
        return (Array(k[0..<(layer.entryCount * layer.headDim)]), Array(v[0..<(layer.entryCount * layer.headDim)]))
    }

    static func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(Double(g.next() >> 11) / Double(1 << 53) * 6 - 3) }
    }

    @Test func wireOrderAppendStoresTheBinary16Rounding() {
        let d = 64, counts = [5, 1, 9]
        let total = counts.reduce(0, +)
        let k = Self.randomFloats(total * d, seed: 1), v = Self.randomFloats(total * d, seed: 2)
        let f16 = LayerKV(kvHeadCount: 3, headDim: d, capacity: 2, dtype: .f16)   // grows on append
        let f32 = LayerKV(kvHeadCount: 3, headDim: d, capacity: 2)
        for layer in [f16, f32] {
            layer.append(keys: k, values: v, headCounts: counts, positions: (0..<total).map { Int32(3 * $0) })
        }
        let (k16, v16) = Self.entries(f16), (k32, v32) = Self.entries(f32)
        #expect(k32 == k && v32 == v, "f32 stays exact")
        #expect(k16 == Self.rounded(k) && v16 == Self.rounded(v), "f16 holds the binary16 rounding")
        #expect(k16 != k, "the inputs are not already binary16 values (else this test checks nothing)")
        #expect(f16.counts == counts && f16.wirePositions == f32.wirePositions)
        #expect(f16.entryBytes == 2 * total * d * 2 && f32.entryBytes == 2 * f16.entryBytes)
        // Reinstalling what an f16 cache (or an f16 wire) gave back stores the same bits again.
        let again = LayerKV(kvHeadCount: 3, headDim: d, capacity: 1, dtype: .f16)
        again.append(keys: k16, values: v16, headCounts: counts, positions: f16.wirePositions)
        #expect(Self.entries(again).k == k16 && Self.entries(again).v == v16)
        // withHead lends binary16 bits: head 2's first key element is the rounding of its f32 value.
        let first = f16.withHead(2) { keys, _ in keys.load(as: UInt16.self) }
        #expect(first == Float16(k[6 * d]).bitPattern)
    }

    @Test func decodeAppendsAndGrowthKeepTheBits() {
        let d = 64, heads = 3, stride = (9 + 2 * heads) * d, kColumn = 9 * d, vColumn = (9 + heads) * d
        let layer = LayerKV(kvHeadCount: heads, headDim: d, capacity: 1, dtype: .f16)
        var wantK = [[Float]](repeating: [], count: heads), wantV = wantK
        for t in 0..<40 {   // capacity 1 → several reallocations, each copying binary16 rows
            let row = Self.randomFloats(stride, seed: UInt64(100 + t))
            row.withUnsafeBufferPointer {
                layer.appendToken(fromQKV: $0.baseAddress!, row: 0, rowStride: stride, kColumn: kColumn, vColumn: vColumn,
                                  position: Int32(1000 + t))
            }
            for h in 0..<heads {
                wantK[h] += Self.rounded(Array(row[(kColumn + h * d)..<(kColumn + (h + 1) * d)]))
                wantV[h] += Self.rounded(Array(row[(vColumn + h * d)..<(vColumn + (h + 1) * d)]))
            }
        }
        let (k, v) = Self.entries(layer)
        #expect(k == wantK.flatMap { $0 } && v == wantV.flatMap { $0 })
        #expect(layer.positions(head: 1) == (0..<40).map { Int32(1000 + $0) })
    }

    /// Prefill's path: a policy's per-head rows (ragged) picked out of the QKV tensor.
    @Test func selectedRowsFromQKVAreRounded() {
        let d = 64, heads = 2, tokens = 12, stride = (4 + 2 * heads) * d, kColumn = 4 * d, vColumn = (4 + heads) * d
        let values = Self.randomFloats(tokens * stride, seed: 9)
        let qkv = Tensor(shape: [tokens, stride], values: values)
        let rows = [[0, 3, 4, 11], [2, 7]]
        let positions = (0..<tokens).map { Int32(5 * $0) }
        let layer = LayerKV(kvHeadCount: heads, headDim: d, capacity: 3, dtype: .f16)
        layer.append(fromQKV: qkv, rowStride: stride, kColumn: kColumn, vColumn: vColumn, rows: rows, positions: positions)
        var wantK: [Float] = [], wantV: [Float] = []
        for h in 0..<heads {
            for r in rows[h] {
                wantK += Self.rounded(Array(values[(r * stride + kColumn + h * d)..<(r * stride + kColumn + (h + 1) * d)]))
                wantV += Self.rounded(Array(values[(r * stride + vColumn + h * d)..<(r * stride + vColumn + (h + 1) * d)]))
            }
        }
        let (k, v) = Self.entries(layer)
        #expect(k == wantK && v == wantV)
        #expect(layer.counts == [4, 2] && layer.positions(head: 0) == [0, 15, 20, 55] && layer.positions(head: 1) == [10, 35])
    }

    @Test func copyKeepsTheDTypeAndTheBits() {
        let d = 64
        let cache = KVCache(layerCount: 2, kvHeadCount: 2, headDim: d, capacity: 1, dtype: .f16)
        for (l, counts) in [[3, 1], [2, 2]].enumerated() {
            let n = counts.reduce(0, +)
            cache.layers[l].append(keys: Self.randomFloats(n * d, seed: UInt64(l)), values: Self.randomFloats(n * d, seed: UInt64(l + 7)),
                                   headCounts: counts, positions: (0..<n).map { Int32($0) })
        }
        let copy = cache.copy(extraCapacity: 3)
        #expect(copy.dtype == .f16 && cache.dtype == .f16)
        #expect(copy.entryBytes == cache.entryBytes && cache.entryBytes == 2 * 8 * d * 2)
        for (a, b) in zip(cache.layers, copy.layers) {
            #expect(Self.entries(a).k == Self.entries(b).k && Self.entries(a).v == Self.entries(b).v && a.counts == b.counts)
        }
        #expect(KVCache(layerCount: 1, kvHeadCount: 1, headDim: d, capacity: 1).dtype == .f32, "f32 is the default")
    }
}
