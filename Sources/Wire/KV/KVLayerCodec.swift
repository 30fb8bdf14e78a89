import RequestVocabulary
/// One layer's KV, converted to the wire dtype and cut into frames, with its packed header.
/// Send `envelope` as frame 0 and `frames` (zero-copy slices of `payload`) after it.
public struct EncodedKVLayer: Sendable {
    public let header: KVLayerHeader
    /// The packed `Envelope { kv_layer }`: frame 0.
    public let envelope: [UInt8]
    /// K‖V in the wire dtype, each [kvHeads, entryCount, headDim].
    public let payload: PayloadBuffer
    /// Frames 1…: `header.keyFrameCount` slices of K, then V's.
    public let frames: [PayloadSlice]

    /// Everything this layer puts on the wire (envelope + payload), excluding ZMTP framing.
    public var wireBytes: Int { envelope.count + payload.byteCount }
}

/// KV tensors ⇄ payload frames for one layer.
///
/// In memory on both sides a layer's K and V are f32 [kvHeads, entryCount, headDim], row-major, with
/// consecutive heads `headStride` floats apart (default entryCount·headDim, i.e. dense; a larger
/// stride lets the decode side write straight into a cache with spare capacity per head). On the
/// wire each is dense [kvHeads, entryCount, headDim] in the transfer's dtype.
public enum KVLayerCodec {
    /// Converts one layer's K and V and builds its header.
    ///
    /// - Parameters:
    ///   - positions: [entryCount] original position ids of the kept entries.
    ///   - keys, values: f32 [kvHeads, entryCount, headDim], heads `headStride` floats apart.
    ///   - maxFrameBytes: frames are cut to at most this (and to multiples of 64 bytes).
    ///   - pool: where the payload memory comes from and returns to (nil: plain allocation).
    public static func encode(requestID: UInt64, layerIndex: Int, positions: [Int32],
                              keys: UnsafeBufferPointer<Float>, values: UnsafeBufferPointer<Float>,
                              kvHeads: Int, headDim: Int, headStride: Int? = nil, dtype: WireDType,
                              maxFrameBytes: Int = WireLimits.default.maxFrameBytes,
                              pool: PayloadBufferPool? = nil) throws(WireError) -> EncodedKVLayer {
        let entryCount = positions.count
        try WireCheck.range("kvHeads", kvHeads, 1...Int(UInt32.max))
        try WireCheck.range("headDim", headDim, 1...Int(UInt32.max))
        let tensorBytes = try KVWireSize.tensorBytes(entryCount: entryCount, kvHeads: kvHeads, headDim: headDim, dtype: dtype)
        let perHead = entryCount * headDim   // ≤ tensorBytes: no overflow
        let stride = try checkedStride(headStride, perHead: perHead)
        try checkBuffer("keys", keys.count, kvHeads: kvHeads, perHead: perHead, stride: stride, dense: headStride == nil)
        try checkBuffer("values", values.count, kvHeads: kvHeads, perHead: perHead, stride: stride, dense: headStride == nil)

        let payload = PayloadBuffer(byteCount: 2 * tensorBytes, pool: pool) { (out: UnsafeMutableRawBufferPointer) in
            guard tensorBytes > 0, let base = out.baseAddress else { return }
            for (tensor, offset) in [(keys, 0), (values, tensorBytes)] {
                let src = tensor.baseAddress!
                if stride == perHead {
                    ElementConversion.encode(src, count: kvHeads * perHead, into: base + offset, dtype: dtype)
                } else {
                    for h in 0..<kvHeads {
                        ElementConversion.encode(src + h * stride, count: perHead,
                                                 into: base + offset + h * perHead * dtype.byteWidth, dtype: dtype)
                    }
                }
            }
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
        let header = KVLayerHeader(requestID: requestID, layerIndex: layerIndex, entryCount: entryCount,
                                   positions: positions, frameByteCounts: sizes + sizes, keyFrameCount: sizes.count)
        let envelope = try Message.kvLayer(header).encoded()
        return EncodedKVLayer(header: header, envelope: envelope, payload: payload, frames: frames)
    }

    /// Checks a layer header against the transfer's geometry before any payload is touched, and
    /// returns the bytes of one tensor (K or V). Header-only: frames are checked by `decode`.
    public static func validateLayout(_ header: KVLayerHeader, kvHeads: Int, headDim: Int, dtype: WireDType,
                                      limits: WireLimits = .default) throws(WireError) -> Int {
        guard header.positions.count == header.entryCount else {
            throw .countMismatch(field: "KVLayer.positions", expected: header.entryCount, found: header.positions.count)
        }
        let tensorBytes = try KVWireSize.tensorBytes(entryCount: header.entryCount, kvHeads: kvHeads,
                                                     headDim: headDim, dtype: dtype)
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
        return tensorBytes
    }

    /// Validates `frames` against `header` and converts them into `keys` and `values`.
    ///
    /// - Parameters:
    ///   - frames: the payload frames that followed the header (not the header frame itself).
    ///   - keys, values: f32 [kvHeads, entryCount, headDim] destinations, heads `headStride` floats
    ///     apart. Nothing is written unless every check passes.
    public static func decode<Frames: Collection>(
        _ header: KVLayerHeader, frames: Frames, kvHeads: Int, headDim: Int, dtype: WireDType,
        keys: UnsafeMutableBufferPointer<Float>, values: UnsafeMutableBufferPointer<Float>,
        headStride: Int? = nil, limits: WireLimits = .default
    ) throws(WireError) where Frames.Element: PayloadFrame {
        let tensorBytes = try validateLayout(header, kvHeads: kvHeads, headDim: headDim, dtype: dtype, limits: limits)
        guard frames.count == header.frameByteCounts.count else {
            throw .frameCountMismatch(expected: header.frameByteCounts.count, found: frames.count)
        }
        for (i, (frame, declared)) in zip(frames, header.frameByteCounts).enumerated() where frame.byteCount != declared {
            throw .frameLengthMismatch(frame: i, expected: declared, found: frame.byteCount)
        }
        let perHead = header.entryCount * headDim
        let stride = try checkedStride(headStride, perHead: perHead)
        try checkBuffer("keys", keys.count, kvHeads: kvHeads, perHead: perHead, stride: stride, dense: headStride == nil)
        try checkBuffer("values", values.count, kvHeads: kvHeads, perHead: perHead, stride: stride, dense: headStride == nil)
        guard tensorBytes > 0 else { return }

        let width = dtype.byteWidth
        var element = 0   // linear element index within the current tensor
        for (i, frame) in frames.enumerated() {
            let destination = i < header.keyFrameCount ? keys.baseAddress! : values.baseAddress!
            if i == header.keyFrameCount { element = 0 }
            frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard var source = raw.baseAddress else { return }
                var left = raw.count / width
                // Split runs at head boundaries: the destination may have spare room between heads.
                while left > 0 {
                    let (head, offset) = element.quotientAndRemainder(dividingBy: perHead)
                    let n = min(left, perHead - offset)
                    ElementConversion.decode(source, count: n, into: destination + head * stride + offset, dtype: dtype)
                    element += n
                    source += n * width
                    left -= n
                }
            }
        }
    }

    private static func checkedStride(_ headStride: Int?, perHead: Int) throws(WireError) -> Int {
        guard let s = headStride else { return perHead }
        guard s >= perHead else {
            throw .valueOutOfRange(field: "headStride", value: Int64(s), allowed: Int64(perHead)...Int64(Int.max))
        }
        return s
    }

    /// A dense buffer must hold exactly kvHeads·perHead floats (a mismatch is a layout bug); a strided
    /// one at least (kvHeads−1)·stride + perHead.
    private static func checkBuffer(_ name: String, _ count: Int, kvHeads: Int, perHead: Int, stride: Int,
                                    dense: Bool) throws(WireError) {
        let (last, o1) = (kvHeads - 1).multipliedReportingOverflow(by: stride)
        let (needed, o2) = last.addingReportingOverflow(perHead)
        guard !o1, !o2 else { throw .sizeOverflow("\(name): \(kvHeads) heads × stride \(stride)") }
        let required = perHead == 0 ? 0 : needed
        if dense ? count != required : count < required {
            throw .bufferSizeMismatch("\(name) [kvHeads \(kvHeads), entries·headDim \(perHead), stride \(stride)]",
                                      expected: required, found: count)
        }
    }
}
