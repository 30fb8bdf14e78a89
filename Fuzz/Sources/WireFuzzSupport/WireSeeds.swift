import FuzzSupport
import RequestVocabulary
import Wire

/// Real encoded messages for the wire targets' seed corpora, made by the Wire encoders.
public enum WireSeeds {
    /// The decode worker's model in the KV targets: small, so whole transfers fit a seed.
    public static let model = ModelShape(fingerprint: [0xAB, 0xCD, 0xEF, 0x01], layerCount: 4, kvHeads: 2, headDim: 8)

    static let sampling = try! SamplingParameters(temperature: 0.7, topK: 40, topP: 0.95, seed: 1234, maxTokens: 256,
                                                 stopStrings: ["</s>", "\n\nUser:", "é✓"], stopAtEOS: false)
    static let compression = try! CompressionConfig(method: .fastKV, retainRate: 0.1, kvBudget: 512, tspRate: 0.2,
                                                   tspLength: 2048, tspLayer: 15, windowSize: 8, kernelSize: 7,
                                                   pooling: .max)
    static let stages = StageTimes(receivedUnixMicros: 1_700_000_000_000_001, assignedUnixMicros: 1_700_000_000_000_002,
                                   prefillStartUnixMicros: 1_700_000_000_000_003, prefillEndUnixMicros: 1_700_000_000_000_004,
                                   kvEncodedUnixMicros: 1_700_000_000_000_005, kvSentUnixMicros: 1_700_000_000_000_006,
                                   kvReceivedUnixMicros: 1_700_000_000_000_007, kvInstalledUnixMicros: 1_700_000_000_000_008,
                                   firstTokenUnixMicros: 1_700_000_000_000_009, finishedUnixMicros: 1_700_000_000_000_010)

    /// One message of every body, populated and minimal.
    public static func messages() -> [(name: String, message: Message)] {
        let bigModel = ModelShape(fingerprint: Array(0 ..< 32), layerCount: 30, kvHeads: 3, headDim: 64)
        let begin = KVBegin(requestID: 42, model: bigModel, wireDType: .f16, promptLength: 8192,
                            entryCounts: Array(repeating: 819, count: 30), sampling: sampling, compression: compression,
                            deadlineUnixMillis: 1_700_000_030_000, prefillWorkerID: 7, stream: true,
                            sentUnixMicros: 1_700_000_000_123_456, attempt: 2)
        let timings = Timings(timeToFirstToken: .microseconds(1_234_567), prefill: .microseconds(1_000_000),
                              transfer: .microseconds(12_345), decodeTokensPerSecond: 17.25, stages: stages)
        return [
            ("register", .register(Register(workerID: 7, role: .prefill, controlEndpoint: "tcp://10.0.0.2:5555",
                                            kvEndpoint: "tcp://10.0.0.2:5556", model: bigModel,
                                            kvCapacityBytes: 8 << 30, maxSequences: 16,
                                            softwareVersion: "fastkv 0.1.0"))),
            ("register-decode", .register(Register(workerID: .max, role: .decode, controlEndpoint: "ipc:///tmp/d",
                                                   model: model, kvCapacityBytes: 0, maxSequences: 0,
                                                   softwareVersion: ""))),
            ("register-ack", .registerAck(RegisterAck(workerID: 7, heartbeatInterval: .seconds(3),
                                                      heartbeatMissesAllowed: 2))),
            ("heartbeat", .heartbeat(Heartbeat(workerID: 7, sequence: 99, health: .draining,
                                               queuedPromptTokens: 12_345, freeKVBytes: 1 << 33,
                                               activeSequences: 3, sentUnixMicros: 1_700_000_000_000_000))),
            ("submit-text", .submit(Submit(requestID: 42, prompt: .text("Hello, wörld"), chat: true, sampling: sampling,
                                           compression: compression, wireDType: .f16,
                                           timeout: .milliseconds(30_000), stream: true))),
            ("submit-ids", .submit(Submit(requestID: 43, prompt: .tokenIDs([1, 2, 3, 128_000, 0])))),
            ("submit-greedy", .submit(Submit(requestID: 44, prompt: .tokenIDs([]), sampling: .greedy))),
            ("assignment", .assignment(Assignment(requestID: 42, tokenIDs: [1, 15043, 29892], sampling: sampling,
                                                  compression: .full, wireDType: .f32, decodeWorkerID: 9,
                                                  decodeKVEndpoint: "tcp://10.0.0.3:6000",
                                                  deadlineUnixMillis: 1_700_000_030_000, stream: true, attempt: 1))),
            ("assignment-minimal", .assignment(Assignment(requestID: 45, tokenIDs: [7], sampling: .greedy,
                                                          compression: compression, wireDType: .f16,
                                                          decodeWorkerID: 9, decodeKVEndpoint: "",
                                                          deadlineUnixMillis: nil))),
            ("cancel", .cancel(Cancel(requestID: 42, reason: "client disconnected"))),
            ("kv-begin", .kvBegin(begin)),
            ("kv-layer", .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 29, headEntryCounts: [1, 1, 1],
                                                positions: [0, 17, 8191], frameByteCounts: [1536, 1536], keyFrameCount: 1))),
            ("kv-layer-ragged", .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 28, headEntryCounts: [2, 0, 1],
                                                       positions: [0, 17, 8191], frameByteCounts: [1536, 1536],
                                                       keyFrameCount: 1))),
            ("kv-layer-empty", .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 0, headEntryCounts: [0, 0, 0],
                                                      positions: [], frameByteCounts: [], keyFrameCount: 0))),
            ("kv-end", .kvEnd(KVEnd(requestID: 42, firstToken: 29871, layerCount: 30,
                                    payloadBytes: 30 * 2 * 3 * 819 * 64 * 2, times: stages))),
            ("kv-end-minimal", .kvEnd(KVEnd(requestID: 42, firstToken: -1, layerCount: 1, payloadBytes: 0))),
            ("token-chunk", .tokenChunk(TokenChunk(requestID: 42, index: 5, tokenIDs: [13, 29871], text: " world"))),
            ("result", .result(RequestResult(requestID: 42, text: "Paris.", tokenIDs: [3681, 29889],
                                             finishReason: .endOfSequence, promptTokenCount: 8192, timings: timings,
                                             wireBytes: 9_000_000, fullKVWireBytes: 90_000_000,
                                             prefillWorkerID: 7, decodeWorkerID: 9))),
            ("error", .error(ErrorReport(requestID: 42, code: .modelMismatch, message: "fingerprint differs",
                                         workerID: 9, attempt: 3))),
            ("error-minimal", .error(ErrorReport(requestID: nil, code: .busy, message: ""))),
            ("error-busy-retry", .error(ErrorReport(requestID: 43, code: .busy, message: "queue full",
                                                    retryAfter: .milliseconds(2500)))),
            ("kv-expect", .kvExpect(KVExpect(requestID: 42, attempt: 2, prefillWorkerID: 7, prefillKey: nil))),
            ("deregister", .deregister(Deregister(workerID: 9, reason: "drained", drained: true))),
            ("status-query", .statusQuery(StatusQuery())),
            ("status-query-request", .statusQuery(StatusQuery(requestID: 77))),
            ("status-reply", .statusReply(StatusReply(workers: [
                WorkerStatus(workerID: 7, role: .prefill, controlEndpoint: "tcp://a:1", health: .ok,
                             lastHeartbeatAge: .milliseconds(250), queuedPromptTokens: 100, freeKVBytes: 0,
                             activeSequences: 0),
                WorkerStatus(workerID: 9, role: .decode, controlEndpoint: "tcp://b:1", kvEndpoint: "tcp://b:2",
                             health: .lost, lastHeartbeatAge: .milliseconds(9000), queuedPromptTokens: 0,
                             freeKVBytes: 1 << 30, activeSequences: 4, kvCapacityBytes: 2 << 30),
            ], sentUnixMicros: 1_700_000_000_000_000, waitingRequests: 3, runningRequests: 5,
               coordinatorStartedUnixMicros: 1_699_999_000_000_000, requestKnown: true))),
        ]
    }

    /// `messages()` packed, one seed each.
    public static func messageSeeds() throws -> [Seed] {
        try messages().map { Seed($0.name, try $0.message.encoded()) }
    }

    public static func begin(dtype: WireDType, entryCounts: [Int], promptLength: Int = 6) -> KVBegin {
        KVBegin(requestID: 77, model: model, wireDType: dtype, promptLength: promptLength, entryCounts: entryCounts,
                sampling: try! SamplingParameters(maxTokens: 4),
                compression: try! CompressionConfig(method: .snapKV, kvBudget: 5),
                deadlineUnixMillis: nil, prefillWorkerID: 3, attempt: 1)
    }

    /// Deterministic KV values (a small LCG; no libm), f32 [kvHeads, count, headDim].
    public static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0 ..< count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 250
        }
    }

    /// One layer encoded: its header envelope and its payload frames' bytes. `headCounts` entries per
    /// KV head; `positions` head-major, Σ headCounts of them.
    public static func layer(_ encoder: inout KVTransferEncoder, _ index: Int, headCounts: [Int],
                             positions: [Int32]) throws -> (envelope: [UInt8], frames: [[UInt8]]) {
        let n = positions.count * model.headDim
        let k = values(n, seed: UInt64(index)), v = values(n, seed: UInt64(index + 100))
        let encoded = try k.withUnsafeBufferPointer { kp in
            try v.withUnsafeBufferPointer { vp in
                try encoder.encodeLayer(index, headCounts: headCounts, positions: positions, keys: kp, values: vp)
            }
        }
        let frames = encoded.frames.map { frame in frame.withUnsafeBytes { Array($0) } }
        return (encoded.envelope, frames)
    }

    /// A whole transfer in record framing: KVBegin, every layer (in `order`) with its frames, KVEnd.
    /// `entryCounts` are per KV head (dense layers); layer `ragged`, when given, moves one entry from
    /// the last head to the first, so the seeds cover uneven heads too.
    public static func transfer(dtype: WireDType, entryCounts: [Int], order: [Int], maxFrameBytes: Int,
                                prefix: [UInt8] = [], ragged: Int? = nil) throws -> [UInt8] {
        let heads = model.kvHeads
        func headCounts(_ layer: Int) -> [Int] {
            var counts = Array(repeating: entryCounts[layer], count: heads)
            if layer == ragged, heads > 1, counts[heads - 1] > 0 { counts[0] += 1; counts[heads - 1] -= 1 }
            return counts
        }
        let begin = begin(dtype: dtype, entryCounts: entryCounts.map { $0 * heads })
        var encoder = try KVTransferEncoder(begin: begin, maxFrameBytes: maxFrameBytes)
        var out = RecordWriter(prefix: prefix)
        out.append(kind: KVRecord.envelope, try encoder.encodeBegin())
        for index in order {
            let counts = headCounts(index)
            let positions = counts.flatMap { c in (0 ..< c).map { Int32(begin.promptLength - 1 - $0) } }
            let (envelope, frames) = try layer(&encoder, index, headCounts: counts, positions: positions)
            out.append(kind: KVRecord.envelope, envelope)
            for frame in frames { out.append(kind: KVRecord.frame, frame) }
        }
        out.append(kind: KVRecord.envelope, try encoder.encodeEnd(firstToken: 123, times: StageTimes(prefillEndUnixMicros: 5)))
        return out.bytes
    }
}
