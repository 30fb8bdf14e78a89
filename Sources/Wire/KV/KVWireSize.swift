import RequestVocabulary
/// Exact byte counts of KV payloads, with every multiplication checked.
///
/// The transfer size is known before prefill starts (budgets are deterministic), which is what lets a
/// coordinator admit on bytes and a decode worker reserve exactly; these helpers are the one formula
/// both sides use. Payload only: the envelope (header frame) bytes are reported separately by
/// `KVTransferEncoder.envelopeBytes`, so wire bytes = `payloadBytes(…)` + envelope bytes.
public enum KVWireSize {
    /// One tensor (K or V) of one layer: entryCount·headDim·sizeof(dtype), where entryCount is the
    /// layer's entries summed over its KV heads (ragged layers: heads may differ; nothing is padded).
    public static func tensorBytes(entryCount: Int, headDim: Int, dtype: WireDType) throws(WireError) -> Int {
        guard entryCount >= 0, headDim >= 0 else {
            throw .sizeOverflow("negative dimension: entries \(entryCount), head_dim \(headDim)")
        }
        return try product([entryCount, headDim, dtype.byteWidth],
                           "entries \(entryCount) × head_dim \(headDim) × \(dtype.byteWidth) B")
    }

    /// Both tensors of one layer: 2·entryCount·headDim·sizeof(dtype).
    public static func layerPayloadBytes(entryCount: Int, headDim: Int, dtype: WireDType) throws(WireError) -> Int {
        let one = try tensorBytes(entryCount: entryCount, headDim: headDim, dtype: dtype)
        return try product([2, one], "2 × \(one) B")
    }

    /// The whole transfer: Σ_ℓ 2·E_ℓ·headDim·sizeof(dtype), E_ℓ = layer ℓ's entries over all KV heads.
    public static func payloadBytes(entryCounts: [Int], headDim: Int, dtype: WireDType) throws(WireError) -> Int {
        var total = 0
        for count in entryCounts {
            let layer = try layerPayloadBytes(entryCount: count, headDim: headDim, dtype: dtype)
            let (sum, overflow) = total.addingReportingOverflow(layer)
            guard !overflow else { throw .sizeOverflow("sum of \(entryCounts.count) layers' payload bytes") }
            total = sum
        }
        return total
    }

    /// What an uncompressed transfer of the whole prompt would carry (for "bytes avoided").
    public static func fullPayloadBytes(promptLength: Int, model: ModelShape, dtype: WireDType) throws(WireError) -> Int {
        let perLayer = try product([max(0, promptLength), max(0, model.kvHeads)], "prompt \(promptLength) × kv_heads \(model.kvHeads)")
        return try payloadBytes(entryCounts: Array(repeating: perLayer, count: max(0, model.layerCount)),
                                headDim: model.headDim, dtype: dtype)
    }

    /// How a tensor of `tensorBytes` is cut into frames of at most `maxFrameBytes`: full frames of
    /// the largest multiple of 64 bytes that fits (so every frame holds whole elements of any dtype),
    /// then the remainder. 0 bytes → no frames.
    public static func frameSizes(tensorBytes: Int, maxFrameBytes: Int) throws(WireError) -> [Int] {
        let chunk = maxFrameBytes & ~63
        guard chunk > 0 else { throw .valueOutOfRange(field: "maxFrameBytes", value: Int64(maxFrameBytes), allowed: 64...Int64(Int.max)) }
        guard tensorBytes >= 0 else { throw .sizeOverflow("negative tensor size \(tensorBytes)") }
        var sizes: [Int] = []
        sizes.reserveCapacity(tensorBytes / chunk + 1)
        var left = tensorBytes
        while left > 0 {
            let n = min(left, chunk)
            sizes.append(n)
            left -= n
        }
        return sizes
    }

    private static func product(_ factors: [Int], _ what: @autoclosure () -> String) throws(WireError) -> Int {
        var p = 1
        for f in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: f)
            guard !overflow else { throw .sizeOverflow(what()) }
            p = r
        }
        return p
    }
}
