import RequestVocabulary
/// One layer's KV, converted to the wire dtype and cut into frames, with its packed header.
/// Send `envelope` as frame 0 and `frames` (zero-copy slices of `payload`) after it.
public struct EncodedKVLayer: Sendable {
    public let header: KVLayerHeader
    /// The packed `Envelope { kv_layer }`: frame 0.
    public let envelope: [UInt8]
    /// K‖V in the wire dtype, each [entryCount, headDim] head-major.
    public let payload: PayloadBuffer
    /// Frames 1…: `header.keyFrameCount` slices of K, then V's.
    public let frames: [PayloadSlice]

    /// Everything this layer puts on the wire (envelope + payload), excluding ZMTP framing.
    public var wireBytes: Int { envelope.count + payload.byteCount }
}

/// KV tensors ⇄ payload frames for one layer.
///
/// A layer's KV heads may keep different numbers of entries (ragged layers: AdaKV, HeadKV). In memory
/// on both sides and on the wire, K and V are each [Σ_h n_h, headDim] row-major, head h's n_h rows
/// after those of heads 0..<h: exactly the kept entries, never padded to the longest head. A dense
/// layer is the case n_h = n for every head, which is the old [kvHeads, n, headDim] layout.
public enum KVLayerCodec {
    /// Converts one layer's K and V and builds its header.
    ///
    /// - Parameters:
    ///   - headCounts: entries kept by each KV head (its count is the number of KV heads).
    ///   - positions: [Σ headCounts] original position ids of the kept entries, head-major.
    ///   - keys, values: f32 [Σ headCounts, headDim], head-major.
    ///   - maxFrameBytes: frames are cut to at most this (and to multiples of 64 bytes).
    ///   - pool: where the payload memory comes from and returns to (nil: plain allocation).
    public static func encode(requestID: UInt64, layerIndex: Int, headCounts: [Int], positions: [Int32],
                              keys: UnsafeBufferPointer<Float>, values: UnsafeBufferPointer<Float>,
                              headDim: Int, dtype: WireDType,
                              maxFrameBytes: Int = WireLimits.default.maxFrameBytes,
                              pool: PayloadBufferPool? = nil) throws(WireError) -> EncodedKVLayer {
        try WireCheck.range("kvHeads", headCounts.count, 1...Int(UInt32.max))
        try WireCheck.range("headDim", headDim, 1...Int(UInt32.max))
        var entryCount = 0
        for n in headCounts {
            guard n >= 0 else { throw .invalidValue(field: "headCounts[]", value: "\(n)") }
            entryCount += n
        }
        guard positions.count == entryCount else {
            throw .countMismatch(field: "KVLayer.positions", expected: entryCount, found: positions.count)
        }
        let tensorBytes = try KVWireSize.tensorBytes(entryCount: entryCount, headDim: headDim, dtype: dtype)
        let floats = entryCount * headDim   // ≤ tensorBytes: no overflow
        try checkBuffer("keys", keys.count, floats: floats)
        try checkBuffer("values", values.count, floats: floats)

        let payload = PayloadBuffer(byteCount: 2 * tensorBytes, pool: pool) { (out: UnsafeMutableRawBufferPointer) in
            guard tensorBytes > 0, let base = out.baseAddress else { return }
            ElementConversion.encode(keys.baseAddress!, count: floats, into: base, dtype: dtype)
            ElementConversion.encode(values.baseAddress!, count: floats, into: base + tensorBytes, dtype: dtype)
        }
        let sizes = try KVWireSize.frameSizes(tensorBytes: tensorBytes, maxFrameBytes: maxFrameBytes)
        var frames: [PayloadSlice] = []
        frames.reserveCapacity(2 * sizes.count)
        for offset in [0, tensorBytes] {
            var at = offset
            for n in sizes {
                frames.append(PayloadSlice(buffer: payload, range: at..<(at + n)))
                at += n
            }
        }
        let header = KVLayerHeader(requestID: requestID, layerIndex: layerIndex, headEntryCounts: headCounts,
                                   positions: positions, frameByteCounts: sizes + sizes, keyFrameCount: sizes.count)
        let envelope = try Message.kvLayer(header).encoded()
        return EncodedKVLayer(header: header, envelope: envelope, payload: payload, frames: frames)
    }

    /// Checks a layer header against the transfer's geometry before any payload is touched: one count
    /// per KV head, positions and frame lengths matching their sum. Header-only: frames are checked
    /// by `decode`.
    public static func validateLayout(_ header: KVLayerHeader, kvHeads: Int, headDim: Int, dtype: WireDType,
                                      limits: WireLimits = .default) throws(WireError) {
        guard header.headEntryCounts.count == kvHeads else {
            throw .countMismatch(field: "KVLayer.head_entry_counts", expected: kvHeads, found: header.headEntryCounts.count)
        }
        for n in header.headEntryCounts {
            try WireCheck.range("KVLayer.head_entry_counts[]", n, 0...limits.maxPromptLength)
        }
        guard header.positions.count == header.entryCount else {
            throw .countMismatch(field: "KVLayer.positions", expected: header.entryCount, found: header.positions.count)
        }
        let tensorBytes = try KVWireSize.tensorBytes(entryCount: header.entryCount, headDim: headDim, dtype: dtype)
        let counts = header.frameByteCounts
        try WireCheck.range("KVLayer.k_frame_count", header.keyFrameCount, 0...counts.count)
        var sums = (0, 0)
        for (i, n) in counts.enumerated() {
            guard n <= limits.maxFrameBytes else { throw .frameTooLarge(frame: i, byteCount: n, limit: limits.maxFrameBytes) }
            guard n > 0, n % dtype.byteWidth == 0 else {
                throw .invalidValue(field: "KVLayer.frame_bytes[\(i)]", value: "\(n) (not a positive multiple of \(dtype.byteWidth))")
            }
            if i < header.keyFrameCount { sums.0 += n } else { sums.1 += n }   // each ≤ 16 MiB: no overflow
        }
        guard sums.0 == tensorBytes else {
            throw .countMismatch(field: "KVLayer.frame_bytes (K total)", expected: tensorBytes, found: sums.0)
        }
        guard sums.1 == tensorBytes else {
            throw .countMismatch(field: "KVLayer.frame_bytes (V total)", expected: tensorBytes, found: sums.1)
        }
    }

    /// Validates `frames` against `header` and converts them into `keys` and `values`.
    ///
    /// - Parameters:
    ///   - frames: the payload frames that followed the header (not the header frame itself).
    ///   - keys, values: f32 [entryCount, headDim] destinations (head-major, as on the wire).
    ///     Nothing is written unless every check passes.
    public static func decode<Frames: Collection>(
        _ header: KVLayerHeader, frames: Frames, kvHeads: Int, headDim: Int, dtype: WireDType,
        keys: UnsafeMutableBufferPointer<Float>, values: UnsafeMutableBufferPointer<Float>,
        limits: WireLimits = .default
    ) throws(WireError) where Frames.Element: PayloadFrame {
        try validateLayout(header, kvHeads: kvHeads, headDim: headDim, dtype: dtype, limits: limits)
        guard frames.count == header.frameByteCounts.count else {
            throw .frameCountMismatch(expected: header.frameByteCounts.count, found: frames.count)
        }
        for (i, (frame, declared)) in zip(frames, header.frameByteCounts).enumerated() where frame.byteCount != declared {
            throw .frameLengthMismatch(frame: i, expected: declared, found: frame.byteCount)
        }
        let floats = header.entryCount * headDim
        try checkBuffer("keys", keys.count, floats: floats)
        try checkBuffer("values", values.count, floats: floats)
        guard floats > 0 else { return }

        let width = dtype.byteWidth
        var element = 0   // linear element index within the current tensor
        for (i, frame) in frames.enumerated() {
            let destination = i < header.keyFrameCount ? keys.baseAddress! : values.baseAddress!
            if i == header.keyFrameCount { element = 0 }
            frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard let source = raw.baseAddress else { return }
                let n = raw.count / width
                ElementConversion.decode(source, count: n, into: destination + element, dtype: dtype)
                element += n
            }
        }
    }

    /// A buffer must hold exactly the layer's floats (a mismatch is a layout bug).
    private static func checkBuffer(_ name: String, _ count: Int, floats: Int) throws(WireError) {
        guard count == floats else {
            throw .bufferSizeMismatch("\(name) [entries·headDim \(floats)]", expected: floats, found: count)
        }
    }
}
