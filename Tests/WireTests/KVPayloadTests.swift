import Foundation
import RequestVocabulary
import Testing
import Tensors
import Wire

/// Deterministic pseudo-random floats, so failures reproduce.
enum TestFloats {
    static func floats(_ count: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -8...8, using: &g) }
    }
}

/// The value an f16 round trip must produce: IEEE round-to-nearest-even, then exact widening.
func f16Rounded(_ x: Float) -> Float { Float(Float16(x)) }

/// Largest |a − b| and where, for failure messages.
func maxDifference(_ a: [Float], _ b: [Float]) -> (diff: Float, index: Int) {
    var worst: (Float, Int) = (0, -1)
    for i in a.indices where abs(a[i] - b[i]) > worst.0 || (a[i].bitPattern != b[i].bitPattern && worst.1 < 0) {
        worst = (abs(a[i] - b[i]), i)
    }
    return worst
}

struct Shape: Sendable, CustomStringConvertible {
    /// Entries per KV head (ragged when they differ).
    var headCounts: [Int], headDim: Int, maxFrameBytes: Int
    init(kvHeads: Int, entries: Int, headDim: Int, maxFrameBytes: Int) {
        self.init(headCounts: Array(repeating: entries, count: kvHeads), headDim: headDim, maxFrameBytes: maxFrameBytes)
    }
    init(headCounts: [Int], headDim: Int, maxFrameBytes: Int) {
        self.headCounts = headCounts
        self.headDim = headDim
        self.maxFrameBytes = maxFrameBytes
    }
    var kvHeads: Int { headCounts.count }
    var entries: Int { headCounts.reduce(0, +) }
    var description: String { "heads \(headCounts) d=\(headDim) frame≤\(maxFrameBytes)" }
}

@Suite("KV layer payload codec")
struct KVPayloadTests {
    static let shapes: [Shape] = [
        Shape(kvHeads: 3, entries: 819, headDim: 64, maxFrameBytes: 16 << 20),
        Shape(kvHeads: 1, entries: 1, headDim: 1, maxFrameBytes: 16 << 20),
        Shape(kvHeads: 2, entries: 0, headDim: 64, maxFrameBytes: 16 << 20),    // a 0-entry layer
        Shape(kvHeads: 4, entries: 37, headDim: 17, maxFrameBytes: 1000),       // odd sizes, many small frames
        Shape(kvHeads: 8, entries: 5, headDim: 3, maxFrameBytes: 64),           // frames split inside a head
        // Ragged layers: heads keep different counts, one keeps none; frames cut across head boundaries.
        Shape(headCounts: [900, 17, 0, 331], headDim: 64, maxFrameBytes: 16 << 20),
        Shape(headCounts: [1, 0, 40, 3, 7], headDim: 13, maxFrameBytes: 128),
        Shape(headCounts: [0, 0, 2], headDim: 8, maxFrameBytes: 64),
    ]

    /// Encodes K and V, decodes the frames back, and checks the values, the per-head counts and the
    /// frame layout. The payload is exactly the kept entries: Σ_h n_h rows, nothing padded.
    func roundTrip(_ s: Shape, dtype: WireDType) throws {
        let n = s.entries * s.headDim
        let keys = TestFloats.floats(n, seed: 1), values = TestFloats.floats(n, seed: 2)
        let positions = (0..<s.entries).map { Int32($0 * 3) }
        let layer = try keys.withUnsafeBufferPointer { k in
            try values.withUnsafeBufferPointer { v in
                try KVLayerCodec.encode(requestID: 1, layerIndex: 0, headCounts: s.headCounts, positions: positions,
                                        keys: k, values: v, headDim: s.headDim, dtype: dtype,
                                        maxFrameBytes: s.maxFrameBytes)
            }
        }
        let tensorBytes = n * dtype.byteWidth
        #expect(layer.payload.byteCount == 2 * tensorBytes)
        #expect(layer.frames.map { $0.byteCount } == layer.header.frameByteCounts)
        #expect(layer.frames.allSatisfy { $0.byteCount <= s.maxFrameBytes && $0.byteCount > 0 })
        #expect(layer.header.keyFrameCount * 2 == layer.frames.count)
        #expect(layer.header.headEntryCounts == s.headCounts && layer.header.entryCount == s.entries)

        // The header survives the envelope round trip, then drives the decode.
        guard case .kvLayer(let header) = try Message.decode(layer.envelope) else {
            Issue.record("envelope did not decode as KVLayer"); return
        }
        #expect(header == layer.header)
        var outK = [Float](repeating: .nan, count: n), outV = outK
        try outK.withUnsafeMutableBufferPointer { k in
            try outV.withUnsafeMutableBufferPointer { v in
                try KVLayerCodec.decode(header, frames: layer.frames, kvHeads: s.kvHeads, headDim: s.headDim,
                                        dtype: dtype, keys: k, values: v)
            }
        }
        let expectK = dtype == .f32 ? keys : keys.map(f16Rounded)
        let expectV = dtype == .f32 ? values : values.map(f16Rounded)
        let (dk, ik) = maxDifference(outK, expectK)
        let (dv, iv) = maxDifference(outV, expectV)
        // f32 must be bit exact; f16 must equal IEEE rounding exactly (tolerance 0 either way).
        #expect(ik < 0, "K \(s) \(dtype): largest difference \(dk) at \(ik), tolerance 0")
        #expect(iv < 0, "V \(s) \(dtype): largest difference \(dv) at \(iv), tolerance 0")
        if dtype == .f16, n > 0 {
            let rel = zip(outK, keys).map { abs($0 - $1) / max(abs($1), 1e-4) }.max()!
            #expect(rel <= 1.0 / 2048, "f16 relative error \(rel) exceeds 2^-11")
        }
    }

    @Test("f32 is bit exact, f16 equals IEEE rounding (dense and ragged layers)", arguments: shapes, WireDType.allCases)
    func roundTrip(shape: Shape, dtype: WireDType) throws {
        try roundTrip(shape, dtype: dtype)
    }

    @Test("a header whose per-head counts disagree with its layout is rejected before any payload is read")
    func inconsistentHeadCounts() throws {
        let floats = [Float](repeating: 1, count: 5 * 4)
        let layer = try floats.withUnsafeBufferPointer { k in
            try KVLayerCodec.encode(requestID: 1, layerIndex: 0, headCounts: [3, 2], positions: [0, 1, 2, 0, 4],
                                    keys: k, values: k, headDim: 4, dtype: .f32)
        }
        var wrongHeads = layer.header
        wrongHeads.headEntryCounts = [5]
        #expect(throws: WireError.countMismatch(field: "KVLayer.head_entry_counts", expected: 2, found: 1)) {
            try KVLayerCodec.validateLayout(wrongHeads, kvHeads: 2, headDim: 4, dtype: .f32)
        }
        var moved = layer.header   // same total, but the frames were cut for [3, 2]: totals still agree
        moved.headEntryCounts = [4, 1]
        try KVLayerCodec.validateLayout(moved, kvHeads: 2, headDim: 4, dtype: .f32)
        var grown = layer.header
        grown.headEntryCounts = [3, 3]
        #expect(throws: WireError.countMismatch(field: "KVLayer.positions", expected: 6, found: 5)) {
            try KVLayerCodec.validateLayout(grown, kvHeads: 2, headDim: 4, dtype: .f32)
        }
        #expect(throws: WireError.self) {
            try floats.withUnsafeBufferPointer { k in
                _ = try KVLayerCodec.encode(requestID: 1, layerIndex: 0, headCounts: [3, -1], positions: [0, 1],
                                            keys: k, values: k, headDim: 4, dtype: .f32)
            }
        }
    }

    /// Values exactly representable in f16 (multiples of 1/8 in ±128), so both dtypes must round
    /// trip bit for bit; cheap to make, because debug builds run these loops unoptimized.
    static func representable(_ count: Int, seed: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = Float((i &* 7919 &+ seed) % 2048 - 1024) / 8 }
            initialized = count
        }
    }

    static func bitEqual(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && a.withUnsafeBytes { x in b.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    @Test("a layer over 16 MiB is split into ≤16 MiB frames and reassembled", arguments: WireDType.allCases)
    func largeLayer(dtype: WireDType) throws {
        // One tensor just over 16 MiB: f32 8·4200·128·4 B = 17.2 MB; f16 needs twice the entries.
        let entries = dtype == .f32 ? 4200 : 8400
        let s = Shape(kvHeads: 8, entries: entries, headDim: 128, maxFrameBytes: 16 << 20)
        let n = s.entries * s.headDim   // s.entries: all 8 heads
        let keys = Self.representable(n, seed: 3), values = Self.representable(n, seed: 4)
        let layer = try keys.withUnsafeBufferPointer { k in
            try values.withUnsafeBufferPointer { v in
                try KVLayerCodec.encode(requestID: 9, layerIndex: 5, headCounts: s.headCounts,
                                        positions: (0..<s.entries).map { Int32($0 % entries) },
                                        keys: k, values: v, headDim: s.headDim, dtype: dtype)
            }
        }
        let tensorBytes = n * dtype.byteWidth
        #expect(tensorBytes > 16 << 20)
        #expect(layer.header.frameByteCounts == [16 << 20, tensorBytes - (16 << 20), 16 << 20, tensorBytes - (16 << 20)])
        #expect(layer.header.keyFrameCount == 2)
        var outK = [Float](repeating: 0, count: n), outV = outK
        try outK.withUnsafeMutableBufferPointer { k in
            try outV.withUnsafeMutableBufferPointer { v in
                try KVLayerCodec.decode(layer.header, frames: layer.frames, kvHeads: s.kvHeads, headDim: s.headDim,
                                        dtype: dtype, keys: k, values: v)
            }
        }
        #expect(Self.bitEqual(outK, keys), "K of a \(tensorBytes)-byte \(dtype) layer did not round trip bit for bit")
        #expect(Self.bitEqual(outV, values), "V of a \(tensorBytes)-byte \(dtype) layer did not round trip bit for bit")
    }

    @Test("a pool hands memory back out instead of allocating")
    func pool() throws {
        let pool = PayloadBufferPool(maxRetainedBytes: 1 << 20)
        var first: PayloadBuffer? = PayloadBuffer(byteCount: 100_000, pool: pool) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
        #expect(pool.retainedBytes == 0)
        first = nil
        #expect(pool.retainedBytes == 128 << 10)   // 100 000 B rounds up to two 64 KiB granules
        let second = PayloadBuffer(byteCount: 120_000, pool: pool) { $0.initializeMemory(as: UInt8.self, repeating: 2) }
        #expect(pool.retainedBytes == 0 && second.byteCount == 120_000 && first == nil)
        // Beyond maxRetainedBytes, memory is freed instead of kept.
        var big: PayloadBuffer? = PayloadBuffer(byteCount: 2 << 20, pool: pool) { _ in }
        big = nil
        #expect(pool.retainedBytes == 0 && big == nil)
    }

    @Test("size formula matches and overflows are caught")
    func sizes() throws {
        #expect(try KVWireSize.payloadBytes(entryCounts: [3 * 819, 0, 5], headDim: 64, dtype: .f16)
                == 2 * (3 * 819 + 0 + 5) * 64 * 2)
        #expect(try KVWireSize.fullPayloadBytes(promptLength: 8192, model: Samples.model, dtype: .f32)
                == 30 * 2 * 3 * 8192 * 64 * 4)
        #expect(throws: WireError.sizeOverflow("entries 18446744073709551 × head_dim 4294967295 × 4 B")) {
            try KVWireSize.tensorBytes(entryCount: 18446744073709551, headDim: 0xFFFF_FFFF, dtype: .f32)
        }
        #expect(throws: WireError.self) {
            try KVWireSize.payloadBytes(entryCounts: [1 << 50, 1 << 50], headDim: 1 << 10, dtype: .f32)
        }
        #expect(try KVWireSize.frameSizes(tensorBytes: 0, maxFrameBytes: 16 << 20) == [])
        #expect(try KVWireSize.frameSizes(tensorBytes: 100, maxFrameBytes: 64) == [64, 36])
    }

    @Test("source and destination buffers of the wrong size are rejected")
    func wrongBufferSize() throws {
        let short = [Float](repeating: 0, count: 10), right = [Float](repeating: 0, count: 12)
        #expect(throws: WireError.bufferSizeMismatch("keys [entries·headDim 12]", expected: 12, found: 10)) {
            try short.withUnsafeBufferPointer { k in
                try right.withUnsafeBufferPointer { v in
                    _ = try KVLayerCodec.encode(requestID: 1, layerIndex: 0, headCounts: [3, 3],
                                                positions: [0, 1, 2, 0, 1, 2], keys: k, values: v, headDim: 2, dtype: .f16)
                }
            }
        }
        let layer = try right.withUnsafeBufferPointer { k in
            try KVLayerCodec.encode(requestID: 1, layerIndex: 0, headCounts: [3, 3], positions: [0, 1, 2, 0, 1, 2],
                                    keys: k, values: k, headDim: 2, dtype: .f16)
        }
        var small = [Float](repeating: 0, count: 11), ok = [Float](repeating: 0, count: 12)
        #expect(throws: WireError.bufferSizeMismatch("values [entries·headDim 12]", expected: 12, found: 11)) {
            try ok.withUnsafeMutableBufferPointer { k in
                try small.withUnsafeMutableBufferPointer { v in
                    try KVLayerCodec.decode(layer.header, frames: layer.frames, kvHeads: 2, headDim: 2, dtype: .f16,
                                            keys: k, values: v)
                }
            }
        }
    }
}
