/// The receiving side of one KV transfer (decode worker): validates `KVBegin` against the local
/// model before anything is reserved, each `KVLayer` header before its payload is touched, and
/// `KVEnd` against what actually arrived.
///
/// The checks exist because the failures peers report are silent ones: KV from another model or
/// geometry installed as garbage, a missing layer discovered at decode time, a stuck transfer nobody
/// notices (../shared/notes/peers.md §4). Each `accept` answers "is this message, in this order, for
/// this transfer, shaped as announced?" and throws a `WireError` naming the first violation; after
/// an error the transfer should be abandoned (send an `ErrorReport`, drop the reservation).
///
/// Not thread-safe (a value type owned by the decode worker's I/O loop).
public struct KVTransferReceiver: Sendable {
    public let begin: KVBegin
    public let limits: WireLimits
    /// Bytes of one tensor (K or V) of each layer, from the announced entry counts.
    public let tensorBytes: [Int]
    public private(set) var receivedPayloadBytes = 0
    private var received: [Bool]
    public private(set) var end: KVEnd?

    /// Payload bytes announced by `KVBegin` (exact, overflow-checked).
    public var expectedPayloadBytes: Int { 2 * tensorBytes.reduce(0, +) }
    public var receivedLayerCount: Int { received.lazy.filter { $0 }.count }
    /// True once `KVEnd` has been accepted (which implies every layer arrived).
    public var isComplete: Bool { end != nil }

    /// Validates `begin` (counts, limits, and the sender's model against `localModel`).
    public init(begin: KVBegin, localModel: ModelShape, limits: WireLimits = .default) throws(WireError) {
        if let mismatch = localModel.mismatch(with: begin.model) { throw mismatch }
        try begin.validate(limits: limits)
        self.begin = begin
        self.limits = limits
        var sizes: [Int] = []
        for count in begin.entryCounts {
            sizes.append(try KVWireSize.tensorBytes(entryCount: count, headDim: begin.model.headDim,
                                                    dtype: begin.wireDType))
        }
        self.tensorBytes = sizes
        self.received = Array(repeating: false, count: begin.model.layerCount)
    }

    /// Checks a layer header (request, index, not seen before, one count per KV head summing to the
    /// announced total, positions in 0..<promptLength, frame layout) and marks the layer received. Call before decoding its payload.
    public mutating func accept(_ header: KVLayerHeader) throws(WireError) {
        try validate(header)
        received[header.layerIndex] = true
        receivedPayloadBytes += 2 * tensorBytes[header.layerIndex]
    }

    /// The checks of `accept` without marking anything: what a receiver runs before it allocates
    /// room for the layer, so a hostile entry count never sizes an allocation.
    public func validate(_ header: KVLayerHeader) throws(WireError) {
        guard end == nil else { throw .transferOutOfOrder("layer \(header.layerIndex) after KVEnd") }
        guard header.requestID == begin.requestID else {
            throw .requestMismatch(expected: begin.requestID, found: header.requestID)
        }
        guard (0..<received.count).contains(header.layerIndex) else {
            throw .layerIndexOutOfRange(index: header.layerIndex, layerCount: received.count)
        }
        guard !received[header.layerIndex] else { throw .transferOutOfOrder("layer \(header.layerIndex) received twice") }
        // Per-head counts first (one per KV head, each within the prompt), then their sum against the
        // layer total KVBegin announced and reserved for: a header cannot resize a reservation.
        try KVLayerCodec.validateLayout(header, kvHeads: begin.model.kvHeads, headDim: begin.model.headDim,
                                        dtype: begin.wireDType, limits: limits)
        for (h, n) in header.headEntryCounts.enumerated() where n > begin.promptLength {
            throw .valueOutOfRange(field: "KVLayer[\(header.layerIndex)].head_entry_counts[\(h)]", value: Int64(n),
                                   allowed: 0...Int64(begin.promptLength))
        }
        let announced = begin.entryCounts[header.layerIndex]
        guard header.entryCount == announced else {
            throw .countMismatch(field: "KVLayer[\(header.layerIndex)].entry_count (Σ head_entry_counts)",
                                 expected: announced, found: header.entryCount)
        }
        for p in header.positions where !(0..<begin.promptLength).contains(Int(p)) {
            throw .valueOutOfRange(field: "KVLayer[\(header.layerIndex)].positions[]", value: Int64(p),
                                   allowed: 0...Int64(begin.promptLength - 1))
        }
    }

    /// `accept(header)`, then validates the frames and converts them into `keys`/`values`
    /// (f32 [entryCount, headDim], head-major). If the frames are bad the layer stays unreceived and
    /// the destination untouched.
    public mutating func receiveLayer<Frames: Collection>(
        _ header: KVLayerHeader, frames: Frames, keys: UnsafeMutableBufferPointer<Float>,
        values: UnsafeMutableBufferPointer<Float>
    ) throws(WireError) where Frames.Element: PayloadFrame {
        var next = self
        try next.accept(header)
        try KVLayerCodec.decode(header, frames: frames, kvHeads: begin.model.kvHeads, headDim: begin.model.headDim,
                                dtype: begin.wireDType, keys: keys, values: values, limits: limits)
        self = next
    }

    /// Checks `KVEnd`: same request, every layer received, totals as announced.
    public mutating func finish(_ end: KVEnd) throws(WireError) {
        guard self.end == nil else { throw .transferOutOfOrder("KVEnd received twice") }
        guard end.requestID == begin.requestID else { throw .requestMismatch(expected: begin.requestID, found: end.requestID) }
        if let missing = received.firstIndex(of: false) {
            throw .transferOutOfOrder("KVEnd before layer \(missing) (\(receivedLayerCount) of \(received.count) received)")
        }
        guard end.layerCount == received.count else {
            throw .countMismatch(field: "KVEnd.layer_count", expected: received.count, found: end.layerCount)
        }
        guard end.payloadBytes == receivedPayloadBytes else {
            throw .countMismatch(field: "KVEnd.payload_bytes", expected: receivedPayloadBytes, found: end.payloadBytes)
        }
        self.end = end
    }
}
