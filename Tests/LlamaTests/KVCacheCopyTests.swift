import Llama
import Tensors
import Testing

/// `KVCache.copy` (what the batched decode benchmark starts every sequence from).
struct KVCacheCopyTests {
    @Test func copyKeepsEveryEntryAndIsIndependent() {
        let d = 4, heads = 2
        let cache = KVCache(layerCount: 2, kvHeadCount: heads, headDim: d, capacity: 3)
        // Layer 0 ragged (3 and 1 entries), layer 1 dense (2 each).
        let counts = [[3, 1], [2, 2]]
        for (l, layerCounts) in counts.enumerated() {
            let total = layerCounts.reduce(0, +)
            let k = (0..<(total * d)).map { Float(100 * l + $0) }, v = k.map { -$0 }
            cache.layers[l].append(keys: k, values: v, headCounts: layerCounts,
                                   positions: (0..<total).map { Int32(10 * l + $0) })
        }
        cache.nextPosition = 42
        let copy = cache.copy(extraCapacity: 5)
        #expect(copy.nextPosition == 42)
        for l in 0..<2 {
            let a = cache.layers[l], b = copy.layers[l]
            #expect(b.counts == a.counts && b.wirePositions == a.wirePositions, "layer \(l)")
            #expect(b.capacities.allSatisfy { $0 >= a.maxCount + 5 }, "layer \(l): capacities \(b.capacities)")
            let n = a.entryCount * d
            var ka = [Float](repeating: 0, count: n), va = ka, kb = ka, vb = ka
            a.copyEntries(keys: &ka, values: &va)
            b.copyEntries(keys: &kb, values: &vb)
            #expect(ka == kb && va == vb, "layer \(l): entries differ")
        }
        // Appending to the copy leaves the original alone.
        copy.layers[1].append(keys: [Float](repeating: 7, count: heads * d), values: [Float](repeating: 7, count: heads * d),
                              headCounts: [1, 1], positions: [99, 99])
        #expect(copy.layers[1].counts == [3, 3] && cache.layers[1].counts == [2, 2])
    }
}
