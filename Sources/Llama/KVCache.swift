import Tensors
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One KV head's K (or V) rows in the cache's element type: [capacity, d] elements in
/// 64-byte-aligned storage this object owns (f32, or IEEE binary16 bits under `--kv-dtype f16`).
final class KVRows {
    let raw: UnsafeMutableRawPointer

    init(rows: Int, width: Int, dtype: KVDType) {
        let bytes = max(64, (rows * width * dtype.bytesPerElement + 63) / 64 * 64)
        guard let p = aligned_alloc(64, bytes) else { fatalError("out of memory allocating \(bytes) bytes of KV") }
        raw = p
    }

    deinit { free(raw) }
}

/// One layer's KV cache for one sequence, ragged by KV head: head h holds `count(head: h)` entries,
/// K and V each [capacity_h, d] (post-RoPE) in their own 64-byte-aligned storage, plus every
/// entry's original position.
///
/// Heads keep different numbers of entries under per-head budgets (AdaKV, HeadKV); a dense layer
/// (FastKV, SnapKV, full KV) is the case where every head has the same count. Memory is exactly
/// Σ_h capacity_h rows, never padded to the longest head. Decode appends one entry per head per
/// step; there is no eviction after prefill (spec §2).
///
/// K and V are stored as `dtype`: f32 keeps what prefill and decode computed bit for bit; f16
/// rounds every entry to binary16 as it enters (every append converts, nothing f32 is kept per
/// entry) and `copyEntries` widens it back, so everything outside the cache sees f32.
public final class LayerKV: @unchecked Sendable {
    public let kvHeadCount: Int
    public let headDim: Int
    /// How K and V are stored.
    public let dtype: KVDType
    /// Entries per KV head.
    public private(set) var counts: [Int]
    /// Rows allocated per KV head (≥ counts).
    public private(set) var capacities: [Int]
    private var keyStore: [KVRows]     // per head [capacity_h, d]
    private var valueStore: [KVRows]   // per head [capacity_h, d]
    private var positionStore: [[Int32]]   // per head [capacity_h]

    /// Every head starts with room for `capacity` entries.
    public init(kvHeadCount: Int, headDim: Int, capacity: Int, dtype: KVDType = .f32) {
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.dtype = dtype
        let c = max(capacity, 1)
        counts = Array(repeating: 0, count: kvHeadCount)
        capacities = Array(repeating: c, count: kvHeadCount)
        keyStore = (0..<kvHeadCount).map { _ in KVRows(rows: c, width: headDim, dtype: dtype) }
        valueStore = (0..<kvHeadCount).map { _ in KVRows(rows: c, width: headDim, dtype: dtype) }
        positionStore = Array(repeating: Array(repeating: 0, count: c), count: kvHeadCount)
    }

    /// Entries of head `head`.
    public func count(head: Int) -> Int { counts[head] }
    /// Entries summed over the KV heads (what the wire and the byte counts use).
    public var entryCount: Int { counts.reduce(0, +) }
    /// The longest head's entries.
    public var maxCount: Int { counts.max() ?? 0 }
    /// Every head holds the same number of entries.
    public var isDense: Bool { counts.allSatisfy { $0 == counts.first } }

    /// Grows head `head` (keeping its contents) to room for at least `minimum` entries.
    public func reserve(head h: Int, _ minimum: Int) {
        guard minimum > capacities[h] else { return }
        let k = KVRows(rows: minimum, width: headDim, dtype: dtype), v = KVRows(rows: minimum, width: headDim, dtype: dtype)
        let bytes = counts[h] * headDim * dtype.bytesPerElement
        k.raw.copyMemory(from: keyStore[h].raw, byteCount: bytes)
        v.raw.copyMemory(from: valueStore[h].raw, byteCount: bytes)
        keyStore[h] = k
        valueStore[h] = v
        positionStore[h] += Array(repeating: 0, count: minimum - capacities[h])
        capacities[h] = minimum
    }

    /// Grows every head to room for at least `minimum` entries.
    public func reserve(_ minimum: Int) {
        for h in 0..<kvHeadCount { reserve(head: h, minimum) }
    }

    /// Grows every head to room for `extra` entries beyond its current count (decode steps).
    public func reserve(additional extra: Int) {
        for h in 0..<kvHeadCount { reserve(head: h, counts[h] + extra) }
    }

    /// Original positions of head `head`'s entries, in cache order.
    public func positions(head: Int) -> [Int32] { Array(positionStore[head][0..<counts[head]]) }

    /// Bytes of K and V held for the current entries (at the cache's dtype).
    public var entryBytes: Int { 2 * entryCount * headDim * dtype.bytesPerElement }

    /// Empties the layer (keeps the storage).
    public func removeAll() { counts = Array(repeating: 0, count: kvHeadCount) }

    /// Stores `n` f32 values at element `slot · d` of `rows`, converting to the cache's dtype.
    private func store(_ src: UnsafePointer<Float>, into rows: KVRows, slot: Int, count n: Int) {
        switch dtype {
        case .f32: (rows.raw.assumingMemoryBound(to: Float.self) + slot * headDim).update(from: src, count: n)
        case .f16: HalfConversion.toHalf(src, rows.raw.assumingMemoryBound(to: UInt16.self) + slot * headDim, count: n)
        }
    }

    /// Reads `n` elements from the start of `rows` into f32 `dst`.
    private func load(_ rows: KVRows, count n: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32: dst.update(from: rows.raw.assumingMemoryBound(to: Float.self), count: n)
        case .f16: HalfConversion.toFloat(rows.raw.assumingMemoryBound(to: UInt16.self), dst, count: n)
        }
    }

    /// Appends, for every head h, rows[h] of the entering tokens: K/V are read from `qkv`
    /// ([tokens, rowStride]; K of head h at column kColumn + h·d, V at vColumn + h·d).
    /// `rows[h]` may differ in length between heads; `positions[r]` is row r's original position.
    public func append(fromQKV qkv: Tensor, rowStride: Int, kColumn: Int, vColumn: Int,
                       rows: [[Int]], positions: [Int32]) {
        precondition(rows.count == kvHeadCount, "one row list per KV head")
        let d = headDim
        qkv.withUnsafeMutablePointer { src in
            for h in 0..<kvHeadCount {
                reserve(head: h, counts[h] + rows[h].count)
                var slot = counts[h]
                for r in rows[h] {
                    store(src + r * rowStride + kColumn + h * d, into: keyStore[h], slot: slot, count: d)
                    store(src + r * rowStride + vColumn + h * d, into: valueStore[h], slot: slot, count: d)
                    positionStore[h][slot] = positions[r]
                    slot += 1
                }
                counts[h] = slot
            }
        }
    }

    /// Decode's append: row `row` of `qkv` goes to every head, at `position`.
    public func appendToken(fromQKV src: UnsafePointer<Float>, row: Int, rowStride: Int, kColumn: Int,
                            vColumn: Int, position: Int32) {
        let d = headDim
        for h in 0..<kvHeadCount {
            if counts[h] == capacities[h] { reserve(head: h, max(2 * capacities[h], counts[h] + 16)) }
            let slot = counts[h]
            store(src + row * rowStride + kColumn + h * d, into: keyStore[h], slot: slot, count: d)
            store(src + row * rowStride + vColumn + h * d, into: valueStore[h], slot: slot, count: d)
            positionStore[h][slot] = position
            counts[h] = slot + 1
        }
    }

    /// Appends entries in wire order: K and V are [Σ_h headCounts[h], d] f32 with head h's
    /// headCounts[h] rows after those of heads 0..<h, positions the same order. An f16 cache rounds
    /// them as they are stored, so a decode worker installs KV the same way whatever dtype the
    /// sending side's cache had (values that came through an f16 cache or an f16 wire round to themselves).
    public func append(keys newKeys: UnsafePointer<Float>, values newValues: UnsafePointer<Float>,
                       headCounts: [Int], positions newPositions: [Int32]) {
        precondition(headCounts.count == kvHeadCount && newPositions.count == headCounts.reduce(0, +))
        let d = headDim
        var at = 0
        for h in 0..<kvHeadCount {
            let n = headCounts[h]
            reserve(head: h, counts[h] + n)
            let slot = counts[h]
            store(newKeys + at * d, into: keyStore[h], slot: slot, count: n * d)
            store(newValues + at * d, into: valueStore[h], slot: slot, count: n * d)
            for i in 0..<n { positionStore[h][slot + i] = newPositions[at + i] }
            counts[h] = slot + n
            at += n
        }
    }

    /// Copies K and V of the current entries into [entryCount, d] f32 buffers in wire order (head 0's
    /// entries, then head 1's, …); an f16 cache widens them exactly.
    public func copyEntries(keys outK: UnsafeMutablePointer<Float>, values outV: UnsafeMutablePointer<Float>) {
        let d = headDim
        var at = 0
        for h in 0..<kvHeadCount {
            let n = counts[h] * d
            load(keyStore[h], count: n, into: outK + at)
            load(valueStore[h], count: n, into: outV + at)
            at += n
        }
    }

    /// Positions of all entries in wire order (head 0's, then head 1's, …).
    public var wirePositions: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(entryCount)
        for h in 0..<kvHeadCount { out += positionStore[h][0..<counts[h]] }
        return out
    }

    /// Lends head `head`'s K and V storage ([capacity_h, d] elements of `dtype`: Float, or binary16
    /// bits as UInt16; the first count(head:) rows are live). For the decode attention kernels, which
    /// read either type, and tests; everything else reads f32 through `copyEntries`.
    public func withHead<R>(_ head: Int, _ body: (_ keys: UnsafeRawPointer, _ values: UnsafeRawPointer) -> R) -> R {
        withExtendedLifetime((keyStore[head], valueStore[head])) { body(UnsafeRawPointer($0.0.raw), UnsafeRawPointer($0.1.raw)) }
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

    /// How every layer stores K and V.
    public var dtype: KVDType { layers.first?.dtype ?? .f32 }

    public init(layerCount: Int, kvHeadCount: Int, headDim: Int, capacity: Int, dtype: KVDType = .f32) {
        layers = (0..<layerCount).map { _ in
            LayerKV(kvHeadCount: kvHeadCount, headDim: headDim, capacity: capacity, dtype: dtype)
        }
    }

    /// Entries per layer, summed over the layer's KV heads.
    public var entryCounts: [Int] { layers.map(\.entryCount) }

    /// Bytes of all K/V entries at the cache's dtype.
    public var entryBytes: Int { layers.reduce(0) { $0 + $1.entryBytes } }

    /// Makes room for `tokens` more decode steps in every head of every layer, so decode never reallocates.
    public func reserveDecode(_ tokens: Int) {
        for layer in layers { layer.reserve(additional: tokens) }
    }
}
