import RequestVocabulary
// A request's control messages, from the client's Submit to the Result (or an ErrorReport).
// The KV transfer in between is in KVMessages.swift.

/// client → coordinator: one generation request under the client's id.
public struct Submit: Sendable, Hashable {
    /// Chosen by the client, nonzero; echoed in every reply about this request.
    public var requestID: UInt64
    public var request: GenerationRequest

    public init(requestID: UInt64, request: GenerationRequest) {
        self.requestID = requestID
        self.request = request
    }

    public init(requestID: UInt64, prompt: GenerationRequest.Prompt, chat: Bool = false,
                sampling: SamplingParameters? = nil, compression: CompressionConfig? = nil,
                wireDType: WireDType? = nil, timeout: Duration? = nil, stream: Bool = false) {
        self.init(requestID: requestID, request: GenerationRequest(
            prompt: prompt, chat: chat, sampling: sampling, compression: compression, wireDType: wireDType,
            timeout: timeout, stream: stream))
    }
}

/// coordinator → prefill worker: run this prompt and push its KV to that decode worker.
/// Everything is resolved (no defaults left), so the worker makes no policy decisions.
public struct Assignment: Sendable, Hashable {
    public var requestID: UInt64
    public var tokenIDs: [Int32]
    public var sampling: SamplingParameters
    public var compression: CompressionConfig
    public var wireDType: WireDType
    public var decodeWorkerID: UInt64
    public var decodeKVEndpoint: String
    /// Absolute wall-clock deadline (Unix ms); nil = none.
    public var deadlineUnixMillis: UInt64?
    public var stream: Bool
    /// 0 for the first try; a retry on another worker counts up.
    public var attempt: Int
    /// The decode worker's CURVE public key (40 Z85 characters), nil on links without CURVE.
    public var decodeKVServerKey: String?

    public init(requestID: UInt64, tokenIDs: [Int32], sampling: SamplingParameters, compression: CompressionConfig,
                wireDType: WireDType, decodeWorkerID: UInt64, decodeKVEndpoint: String,
                deadlineUnixMillis: UInt64?, stream: Bool = false, attempt: Int = 0, decodeKVServerKey: String? = nil) {
        self.decodeKVServerKey = decodeKVServerKey
        self.requestID = requestID
        self.tokenIDs = tokenIDs
        self.sampling = sampling
        self.compression = compression
        self.wireDType = wireDType
        self.decodeWorkerID = decodeWorkerID
        self.decodeKVEndpoint = decodeKVEndpoint
        self.deadlineUnixMillis = deadlineUnixMillis
        self.stream = stream
        self.attempt = attempt
    }
}

/// coordinator → decode worker: the prefill worker that will push the KV of (request, attempt), sent
/// just before its Assignment. The decode worker holds every KV transfer to it (issue 11).
public struct KVExpect: Sendable, Hashable {
    public var requestID: UInt64
    public var attempt: Int
    public var prefillWorkerID: UInt64
    /// The prefill worker's CURVE public key (Z85) it registered with; nil without CURVE.
    public var prefillKey: String?

    public init(requestID: UInt64, attempt: Int, prefillWorkerID: UInt64, prefillKey: String?) {
        self.requestID = requestID
        self.attempt = attempt
        self.prefillWorkerID = prefillWorkerID
        self.prefillKey = prefillKey
    }
}

/// Any direction: abandon a request (client gave up, deadline passed, a peer failed). Sent to every
/// process holding state for the request, at once, so nobody waits out a timeout.
public struct Cancel: Sendable, Hashable {
    public var requestID: UInt64
    public var reason: String

    public init(requestID: UInt64, reason: String) {
        self.requestID = requestID
        self.reason = reason
    }
}

/// decode worker → coordinator → client, while decoding a streamed request.
public struct TokenChunk: Sendable, Hashable {
    public var requestID: UInt64
    /// Index of `tokenIDs[0]` among the generated tokens (0 = the prefill worker's first token).
    public var index: Int
    public var tokenIDs: [Int32]
    /// UTF-8 text completed by these tokens (may be empty mid-character).
    public var text: String

    public init(requestID: UInt64, index: Int, tokenIDs: [Int32], text: String) {
        self.requestID = requestID
        self.index = index
        self.tokenIDs = tokenIDs
        self.text = text
    }
}

/// decode worker → coordinator → client: the finished request with its accounting.
public struct RequestResult: Sendable, Hashable {
    public var requestID: UInt64
    public var text: String
    public var tokenIDs: [Int32]
    public var finishReason: FinishReason
    public var promptTokenCount: Int
    public var timings: Timings
    /// Everything sent for the KV transfer: envelope headers plus payload frames.
    public var wireBytes: Int
    /// The payload an uncompressed transfer in the same dtype would have needed.
    public var fullKVWireBytes: Int
    public var prefillWorkerID: UInt64
    public var decodeWorkerID: UInt64
    /// The KV payload part of `wireBytes` (`KVWireSize.payloadBytes` of the per-layer counts);
    /// `wireBytes − payloadBytes` is the header overhead.
    public var payloadBytes: Int

    public init(requestID: UInt64, text: String, tokenIDs: [Int32], finishReason: FinishReason,
                promptTokenCount: Int, timings: Timings, wireBytes: Int, fullKVWireBytes: Int,
                prefillWorkerID: UInt64, decodeWorkerID: UInt64, payloadBytes: Int = 0) {
        self.payloadBytes = payloadBytes
        self.requestID = requestID
        self.text = text
        self.tokenIDs = tokenIDs
        self.finishReason = finishReason
        self.promptTokenCount = promptTokenCount
        self.timings = timings
        self.wireBytes = wireBytes
        self.fullKVWireBytes = fullKVWireBytes
        self.prefillWorkerID = prefillWorkerID
        self.decodeWorkerID = decodeWorkerID
    }
}

/// Any → any: a request (or a registration) failed. Never an empty success.
public struct ErrorReport: Sendable, Hashable {
    /// nil when the error is not about a request (e.g. a rejected registration).
    public var requestID: UInt64?
    public var code: ErrorCode
    public var message: String
    /// Who reports it; nil = the coordinator.
    public var workerID: UInt64?
    /// The attempt of the request the report is about (nil: not about one attempt), so a stale
    /// attempt's failure never counts against the live one.
    public var attempt: Int?
    /// BUSY: how long the client should wait before trying again (the coordinator's estimate of
    /// when the request would be admitted; whole milliseconds on the wire). nil = no estimate.
    public var retryAfter: Duration?

    public init(requestID: UInt64?, code: ErrorCode, message: String, workerID: UInt64? = nil, attempt: Int? = nil,
                retryAfter: Duration? = nil) {
        self.attempt = attempt
        self.retryAfter = retryAfter
        self.requestID = requestID
        self.code = code
        self.message = message
        self.workerID = workerID
    }
}
