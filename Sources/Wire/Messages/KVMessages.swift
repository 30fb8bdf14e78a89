import RequestVocabulary
// The headers of a KV transfer, prefill worker → decode worker, pipelined per layer:
//
//   KVBegin                      everything needed to validate and reserve before any payload
//   KVLayer + K frames + V frames one multipart message per layer, sent as soon as the layer is done
//   KVEnd                        first token, prefill timings, and totals to cross-check
//
// KVTransferEncoder builds these on the sending side and KVTransferReceiver validates them on the
// receiving side; KVLayerCodec converts the payload.

/// Opens a KV transfer. Carries the model identity and geometry, so a decode worker can reject a
/// mismatch before a single payload byte arrives, and the per-layer entry counts, so it can reserve
/// exactly the cache it needs (the budgets are deterministic, hence known before prefill runs).
public struct KVBegin: Sendable, Hashable {
    public var requestID: UInt64
    public var model: ModelShape
    public var wireDType: WireDType
    /// N, the prompt's token count: entry positions lie in 0..<N, generated tokens start at N.
    public var promptLength: Int
    /// Entries per layer summed over the layer's KV heads, `model.layerCount` of them, each at most
    /// `model.kvHeads · promptLength`. Per-head shares arrive with each layer (`KVLayerHeader`).
    public var entryCounts: [Int]
    public var sampling: SamplingParameters
    /// For accounting and logs; the decode side does not re-run it.
    public var compression: CompressionConfig
    /// Absolute wall-clock deadline (Unix ms); nil = none.
    public var deadlineUnixMillis: UInt64?
    public var prefillWorkerID: UInt64
    public var stream: Bool
    public var sentUnixMicros: UInt64
    /// The Assignment's attempt: a decode worker never lets a stale attempt's KV replace a newer
    /// one's, and reports about the transfer name it.
    public var attempt: Int

    public init(requestID: UInt64, model: ModelShape, wireDType: WireDType, promptLength: Int,
                entryCounts: [Int], sampling: SamplingParameters, compression: CompressionConfig,
                deadlineUnixMillis: UInt64?, prefillWorkerID: UInt64, stream: Bool = false,
                sentUnixMicros: UInt64 = 0, attempt: Int = 0) {
        self.attempt = attempt
        self.requestID = requestID
        self.model = model
        self.wireDType = wireDType
        self.promptLength = promptLength
        self.entryCounts = entryCounts
        self.sampling = sampling
        self.compression = compression
        self.deadlineUnixMillis = deadlineUnixMillis
        self.prefillWorkerID = prefillWorkerID
        self.stream = stream
        self.sentUnixMicros = sentUnixMicros
    }

    /// Σ over layers of 2·entryCount·headDim·sizeof(dtype): the payload bytes the transfer will carry
    /// (the `payload_bytes` field on the wire).
    public func payloadBytes() throws(WireError) -> Int {
        try KVWireSize.payloadBytes(entryCounts: entryCounts, headDim: model.headDim, dtype: wireDType)
    }

    /// Checks the counts against each other and against `limits` (the same checks the decoder applies).
    public func validate(limits: WireLimits = .default) throws(WireError) {
        try WireCheck.range("KVBegin.model.layer_count", model.layerCount, 1...limits.maxLayerCount)
        try WireCheck.range("KVBegin.model.kv_heads", model.kvHeads, 1...limits.maxKVHeads)
        try WireCheck.range("KVBegin.model.head_dim", model.headDim, 1...limits.maxHeadDim)
        try WireCheck.range("KVBegin.prompt_length", promptLength, 1...limits.maxPromptLength)
        guard entryCounts.count == model.layerCount else {
            throw .countMismatch(field: "KVBegin.entry_counts", expected: model.layerCount, found: entryCounts.count)
        }
        let (most, overflow) = model.kvHeads.multipliedReportingOverflow(by: promptLength)
        guard !overflow else { throw .sizeOverflow("kv_heads \(model.kvHeads) × prompt_length \(promptLength)") }
        for count in entryCounts {
            try WireCheck.range("KVBegin.entry_counts[]", count, 0...most)
        }
        _ = try payloadBytes()
    }
}

/// The header of one layer's KV. It is followed, in the same multipart message, by
/// `frameByteCounts.count` raw frames: the first `keyFrameCount` hold K, the rest V, each tensor
/// [entryCount, headDim] row-major in the transfer's wire dtype with head h's `headEntryCounts[h]`
/// rows after those of heads 0..<h, split into frames of at most 16 MiB (whole elements per frame).
/// A 0-entry layer has no frames.
public struct KVLayerHeader: Sendable, Hashable {
    public var requestID: UInt64
    public var layerIndex: Int
    /// Entries kept by each KV head (one per KV head; equal in a dense layer).
    public var headEntryCounts: [Int]
    /// [entryCount] original position ids of the kept entries, head-major like the payload.
    public var positions: [Int32]
    /// The length of every payload frame that follows, K's first.
    public var frameByteCounts: [Int]
    public var keyFrameCount: Int
    /// Entries of the layer summed over its KV heads (the `entry_count` field on the wire).
    public var entryCount: Int { headEntryCounts.reduce(0, +) }

    public init(requestID: UInt64, layerIndex: Int, headEntryCounts: [Int], positions: [Int32],
                frameByteCounts: [Int], keyFrameCount: Int) {
        self.requestID = requestID
        self.layerIndex = layerIndex
        self.headEntryCounts = headEntryCounts
        self.positions = positions
        self.frameByteCounts = frameByteCounts
        self.keyFrameCount = keyFrameCount
    }
}

/// Closes a KV transfer: the first generated token (sampled on the prefill worker from the last
/// prompt position) and totals the receiver cross-checks against what it installed.
public struct KVEnd: Sendable, Hashable {
    public var requestID: UInt64
    public var firstToken: Int32
    /// Layers sent; must equal `KVBegin.model.layerCount`.
    public var layerCount: Int
    /// Payload bytes sent; must equal `KVBegin.payloadBytes()`.
    public var payloadBytes: Int
    /// The prefill side's stages so far.
    public var times: StageTimes

    public init(requestID: UInt64, firstToken: Int32, layerCount: Int, payloadBytes: Int,
                times: StageTimes = StageTimes()) {
        self.requestID = requestID
        self.firstToken = firstToken
        self.layerCount = layerCount
        self.payloadBytes = payloadBytes
        self.times = times
    }
}
