import Tensors

/// One layer's KV cache for one sequence: dense per KV head, K and V each [Hk, capacity, d]
/// (post-RoPE), plus every entry's original position [Hk, capacity].
///
/// Every KV head holds the same number of entries (`count`), so the layer is a dense tensor even
/// when FastKV keeps different tokens per head. Decode appends one entry per head per step; there
/// is no eviction after prefill (spec §2).
public final class LayerKV: @unchecked Sendable {
    public let kvHeadCount: Int
    public let headDim: Int
    public private(set) var capacity: Int
    public private(set) var count: Int = 0
    public private(set) var keys: Tensor
    public private(set) var values: Tensor
    private var positionStore: [Int32]

    public init(kvHeadCount: Int, headDim: Int, capacity: Int) {
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.capacity = max(capacity, 1)
        keys = Tensor(shape: [kvHeadCount, self.capacity, headDim])
        values = Tensor(shape: [kvHeadCount, self.capacity, headDim])
        positionStore = Array(repeating: 0, count: kvHeadCount * self.capacity)
    }

    /// Grows the capacity (keeping the contents) to at least `minimum` entries per head.
    public func reserve(_ minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = minimum
        let k = Tensor(shape: [kvHeadCount, newCapacity, headDim])
        let v = Tensor(shape: [kvHeadCount, newCapacity, headDim])
        var p = Array(repeating: Int32(0), count: kvHeadCount * newCapacity)
        keys.withUnsafeMutablePointer { ok in
            values.withUnsafeMutablePointer { ov in
                k.withUnsafeMutablePointer { nk in
                    v.withUnsafeMutablePointer { nv in
                        for h in 0..<kvHeadCount {
                            (nk + h * newCapacity * headDim).update(from: ok + h * capacity * headDim, count: count * headDim)
                            (nv + h * newCapacity * headDim).update(from: ov + h * capacity * headDim, count: count * headDim)
                            for i in 0..<count { p[h * newCapacity + i] = positionStore[h * capacity + i] }
                        }
                    }
                }
            }
        }
        keys = k
        values = v
        positionStore = p
        capacity = newCapacity
    }

    /// Original positions of head `head`'s entries, in cache order.
    public func positions(head: Int) -> [Int32] {
        Array(positionStore[(head * capacity)..<(head * capacity + count)])
    }

    /// Bytes of K and V held for the current entries at f32.
    public var entryBytes: Int { 2 * kvHeadCount * count * headDim * 4 }

    /// Empties the layer (keeps the storage).
    public func removeAll() { count = 0 }

    /// Appends, for every head h, rows[h] of the entering tokens: K/V are read from `qkv`
    /// ([tokens, rowStride]; K of head h at column kColumn + h·d, V at vColumn + h·d).
    /// `rows[h]` must have the same length for every head; `positions[r]` is row r's original position.
    public func append(fromQKV qkv: Tensor, rowStride: Int, kColumn: Int, vColumn: Int,
                       rows: [[Int]], positions: [Int32]) {
        let added = rows.first?.count ?? 0
        precondition(rows.count == kvHeadCount && rows.allSatisfy { $0.count == added }, "uneven KV selection")
        reserve(count + added)
        let d = headDim
        qkv.withUnsafeMutablePointer { src in
            keys.withUnsafeMutablePointer { kp in
                values.withUnsafeMutablePointer { vp in
                    for h in 0..<kvHeadCount {
                        var slot = h * capacity + count
                        for r in rows[h] {
                            (kp + slot * d).update(from: src + r * rowStride + kColumn + h * d, count: d)
                            (vp + slot * d).update(from: src + r * rowStride + vColumn + h * d, count: d)
                            positionStore[slot] = positions[r]
                            slot += 1
                        }
                    }
                }
            }
        }
        count += added
    }

    /// Appends one entry per head from raw K and V laid out [Hk, entries, d] (wire order), with
    /// per-head positions [Hk, entries].
    public func append(keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>,
                       entries: Int, positions newPositions: [Int32]) {
        precondition(newPositions.count == kvHeadCount * entries)
        reserve(count + entries)
        let d = headDim
        keys.withUnsafeMutablePointer { kp in
            values.withUnsafeMutablePointer { vp in
                for h in 0..<kvHeadCount {
                    (kp + (h * capacity + count) * d).update(from: newKeys + h * entries * d, count: entries * d)
                    (vp + (h * capacity + count) * d).update(from: newValues + h * entries * d, count: entries * d)
                    for i in 0..<entries { positionStore[h * capacity + count + i] = newPositions[h * entries + i] }
                }
            }
        }
        count += entries
    }

    /// Copies head-major K and V of the current entries into [Hk, count, d] buffers (wire order).
    public func copyEntries(keys outK: UnsafeMutablePointer<Float>, values outV: UnsafeMutablePointer<Float>) {
        let d = headDim
        keys.withUnsafeMutablePointer { kp in
            values.withUnsafeMutablePointer { vp in
                for h in 0..<kvHeadCount {
                    (outK + h * count * d).update(from: kp + h * capacity * d, count: count * d)
                    (outV + h * count * d).update(from: vp + h * capacity * d, count: count * d)
                }
            }
        }
    }

    func withHeadPointers<R>(_ body: (_ keys: UnsafeMutablePointer<Float>, _ values: UnsafeMutablePointer<Float>,
                                      _ headStride: Int) -> R) -> R {
        keys.withUnsafeMutablePointer { k in values.withUnsafeMutablePointer { v in body(k, v, capacity * headDim) } }
    }
}

/// A sequence's KV cache: one `LayerKV` per layer, and the next position to decode at.
///
/// Positions continue from the prompt length N (spec §2, [port]): the t-th generated token sits at
/// N + t, never at the cache length, which differs once entries were dropped.
public final class KVCache: @unchecked Sendable {
    public let layers: [LayerKV]
    /// Position of the next token to be fed (N after prefill; N + t during decode).
    public var nextPosition: Int32 = 0

    public init(layerCount: Int, kvHeadCount: Int, headDim: Int, capacity: Int) {
        layers = (0..<layerCount).map { _ in LayerKV(kvHeadCount: kvHeadCount, headDim: headDim, capacity: capacity) }
    }

    /// Entries per layer.
    public var entryCounts: [Int] { layers.map(\.count) }

    /// Bytes of all K/V entries at f32.
    public var entryBytes: Int { layers.reduce(0) { $0 + $1.entryBytes } }

    /// Makes room for `tokens` more decode steps in every layer, so decode never reallocates.
    public func reserveDecode(_ tokens: Int) {
        for layer in layers { layer.reserve(layer.count + tokens) }
    }
}
