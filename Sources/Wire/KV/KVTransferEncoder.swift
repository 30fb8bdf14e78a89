/// The sending side of one KV transfer (prefill worker): builds `KVBegin`, one `KVLayer` per layer
/// as each finishes, and `KVEnd`, checking each layer against the plan announced in `KVBegin`, and
/// counts the bytes it produced.
///
/// Accounting: `payloadBytes` is exactly `KVWireSize.payloadBytes(…)` once all layers are encoded;
/// `envelopeBytes` is the header overhead (all packed envelopes, including KVBegin and KVEnd), so
/// `wireBytes = payloadBytes + envelopeBytes` (ZMTP framing, a few bytes per frame, is not counted).
///
/// Not thread-safe (a value type; mutate it from the thread that runs the prefill for this request).
public struct KVTransferEncoder: Sendable {
    public let begin: KVBegin
    public let maxFrameBytes: Int
    /// Payload memory is taken from and returned to this pool (nil: plain allocations).
    public let pool: PayloadBufferPool?
    public private(set) var envelopeBytes = 0
    public private(set) var payloadBytes = 0
    private var encoded: [Bool]

    public var wireBytes: Int { envelopeBytes + payloadBytes }
    /// True once every layer has been encoded.
    public var allLayersEncoded: Bool { !encoded.contains(false) }

    /// - Throws: if `begin` is inconsistent (see `KVBegin.validate`).
    public init(begin: KVBegin, maxFrameBytes: Int = WireLimits.default.maxFrameBytes,
                pool: PayloadBufferPool? = nil, limits: WireLimits = .default) throws(WireError) {
        try begin.validate(limits: limits)
        self.begin = begin
        self.pool = pool
        self.maxFrameBytes = min(maxFrameBytes, limits.maxFrameBytes)
        self.encoded = Array(repeating: false, count: begin.model.layerCount)
    }

    /// The packed `Envelope { kv_begin }`: the first message of the transfer.
    public mutating func encodeBegin() throws(WireError) -> [UInt8] {
        let bytes = try Message.kvBegin(begin).encoded()
        envelopeBytes += bytes.count
        return bytes
    }

    /// Converts layer `layerIndex`; the head counts must sum to the entry total announced for it.
    /// - Parameters:
    ///   - headCounts: entries kept by each KV head (`begin.model.kvHeads` of them).
    ///   - positions: [Σ headCounts] original positions, head-major.
    ///   - keys, values: f32 [Σ headCounts, headDim], head-major.
    public mutating func encodeLayer(_ layerIndex: Int, headCounts: [Int], positions: [Int32],
                                     keys: UnsafeBufferPointer<Float>,
                                     values: UnsafeBufferPointer<Float>) throws(WireError) -> EncodedKVLayer {
        guard (0..<encoded.count).contains(layerIndex) else {
            throw .layerIndexOutOfRange(index: layerIndex, layerCount: encoded.count)
        }
        guard !encoded[layerIndex] else { throw .transferOutOfOrder("layer \(layerIndex) encoded twice") }
        guard headCounts.count == begin.model.kvHeads else {
            throw .countMismatch(field: "KVLayer[\(layerIndex)].head_entry_counts", expected: begin.model.kvHeads,
                                 found: headCounts.count)
        }
        guard headCounts.reduce(0, +) == begin.entryCounts[layerIndex] else {
            throw .countMismatch(field: "KVLayer[\(layerIndex)].entry_count", expected: begin.entryCounts[layerIndex],
                                 found: headCounts.reduce(0, +))
        }
        for p in positions where !(0..<begin.promptLength).contains(Int(p)) {
            throw .valueOutOfRange(field: "KVLayer[\(layerIndex)].positions[]", value: Int64(p),
                                   allowed: 0...Int64(begin.promptLength - 1))
        }
        let layer = try KVLayerCodec.encode(requestID: begin.requestID, layerIndex: layerIndex, headCounts: headCounts,
                                            positions: positions, keys: keys, values: values,
                                            headDim: begin.model.headDim, dtype: begin.wireDType,
                                            maxFrameBytes: maxFrameBytes, pool: pool)
        encoded[layerIndex] = true
        envelopeBytes += layer.envelope.count
        payloadBytes += layer.payload.byteCount
        return layer
    }

    /// The packed `Envelope { kv_end }`. Throws if a layer is missing: a receiver would reject it.
    public mutating func encodeEnd(firstToken: Int32, times: StageTimes = StageTimes()) throws(WireError) -> [UInt8] {
        if let missing = encoded.firstIndex(of: false) {
            throw .transferOutOfOrder("KVEnd before layer \(missing) was encoded")
        }
        let end = KVEnd(requestID: begin.requestID, firstToken: firstToken, layerCount: encoded.count,
                        payloadBytes: payloadBytes, times: times)
        let bytes = try Message.kvEnd(end).encoded()
        envelopeBytes += bytes.count
        return bytes
    }
}
