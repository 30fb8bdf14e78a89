import Tensors

extension KVCache {
    /// An independent copy of every layer's entries (per-head counts and positions kept, so ragged
    /// layers stay ragged) and of `nextPosition`, with room for `extraCapacity` more entries per
    /// head, in the same dtype (an f16 copy goes through f32 and rounds back to the same bits). For
    /// benchmarks that decode many sequences from one prefilled prompt.
    public func copy(extraCapacity: Int = 0) -> KVCache {
        let first = layers[0]
        let out = KVCache(layerCount: layers.count, kvHeadCount: first.kvHeadCount, headDim: first.headDim,
                          capacity: (layers.map(\.maxCount).max() ?? 0) + max(extraCapacity, 0), dtype: dtype)
        let rows = max(layers.map(\.entryCount).max() ?? 0, 1)
        let k = Tensor(shape: [rows, first.headDim]), v = Tensor(shape: [rows, first.headDim])
        for (source, target) in zip(layers, out.layers) {
            k.withUnsafeMutablePointer { kp in
                v.withUnsafeMutablePointer { vp in
                    source.copyEntries(keys: kp, values: vp)
                    target.append(keys: kp, values: vp, headCounts: source.counts, positions: source.wirePositions)
                }
            }
        }
        out.nextPosition = nextPosition
        return out
    }
}
