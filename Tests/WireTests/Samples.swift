import RequestVocabulary
import Wire

/// One fully populated value of every message body (optional fields set, so the round trip
/// exercises them), plus variants with the optionals left out.
enum Samples {
    static let model = ModelShape(fingerprint: Array(0..<32), layerCount: 30, kvHeads: 3, headDim: 64)

    static let sampling = try! SamplingParameters(temperature: 0.7, topK: 40, topP: 0.95, seed: 1234, maxTokens: 256,
                                                 stopStrings: ["</s>", "\n\nUser:", "é✓"], stopAtEOS: false)

    static let compression = try! CompressionConfig(method: .fastKV, retainRate: 0.1, kvBudget: 512, tspRate: 0.2,
                                               tspLength: 2048, tspLayer: 15, windowSize: 8, kernelSize: 7,
                                               pooling: .max, adaAlpha: 0, headKVBeta: 1.5, headKVTemperature: 2)

    static let stages = StageTimes(receivedUnixMicros: 1_700_000_000_000_001, assignedUnixMicros: 1_700_000_000_000_002,
                                   prefillStartUnixMicros: 1_700_000_000_000_003, prefillEndUnixMicros: 1_700_000_000_000_004,
                                   kvEncodedUnixMicros: 1_700_000_000_000_005, kvSentUnixMicros: 1_700_000_000_000_006,
                                   kvReceivedUnixMicros: 1_700_000_000_000_007, kvInstalledUnixMicros: 1_700_000_000_000_008,
                                   firstTokenUnixMicros: 1_700_000_000_000_009, finishedUnixMicros: 1_700_000_000_000_010)

    static let kvBegin = KVBegin(requestID: 42, model: model, wireDType: .f16, promptLength: 8192,
                                 entryCounts: Array(repeating: 3 * 819, count: 30), sampling: sampling,
                                 compression: compression, deadlineUnixMillis: 1_700_000_030_000,
                                 prefillWorkerID: 7, stream: true, sentUnixMicros: 1_700_000_000_123_456, attempt: 2)

    static let all: [Message] = [
        .register(Register(workerID: 7, role: .prefill, controlEndpoint: "tcp://10.0.0.2:5555",
                           kvEndpoint: "tcp://10.0.0.2:5556", model: model, kvCapacityBytes: 8 << 30,
                           maxSequences: 16, softwareVersion: "fastkv 0.1.0")),
        .register(Register(workerID: .max, role: .decode, controlEndpoint: "ipc:///tmp/d", model: model,
                           kvCapacityBytes: 0, maxSequences: 0, softwareVersion: "", kvBytesPerElement: 2)),
        .registerAck(RegisterAck(workerID: 7, heartbeatInterval: .seconds(3), heartbeatMissesAllowed: 2)),
        .heartbeat(Heartbeat(workerID: 7, sequence: 99, health: .draining, queuedPromptTokens: 12_345,
                             freeKVBytes: 1 << 33, activeSequences: 3, sentUnixMicros: 1_700_000_000_000_000)),
        .submit(Submit(requestID: 42, prompt: .text("Hello, wörld"), chat: true, sampling: sampling,
                       compression: compression, wireDType: .f16, timeout: .milliseconds(30_000), stream: true)),
        .submit(Submit(requestID: 43, prompt: .tokenIDs([1, 2, 3, 128_000, 0]))),
        .submit(Submit(requestID: 44, prompt: .tokenIDs([]), sampling: SamplingParameters.greedy)),
        .assignment(Assignment(requestID: 42, tokenIDs: [1, 15043, 29892], sampling: sampling,
                               compression: .full, wireDType: .f32, decodeWorkerID: 9,
                               decodeKVEndpoint: "tcp://10.0.0.3:6000", deadlineUnixMillis: 1_700_000_030_000,
                               stream: true, attempt: 1)),
        .assignment(Assignment(requestID: 45, tokenIDs: [7], sampling: SamplingParameters.greedy, compression: compression,
                               wireDType: .f16, decodeWorkerID: 9, decodeKVEndpoint: "", deadlineUnixMillis: nil)),
        .assignment(Assignment(requestID: 46, tokenIDs: [7], sampling: SamplingParameters.greedy, compression: compression,
                               wireDType: .f16, decodeWorkerID: 9, decodeKVEndpoint: "tcp://10.0.0.3:6000", deadlineUnixMillis: nil,
                               decodeKVServerKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")),
        .cancel(Cancel(requestID: 42, reason: "client disconnected")),
        .kvExpect(KVExpect(requestID: 42, attempt: 2, prefillWorkerID: 7, prefillKey: nil)),
        .kvExpect(KVExpect(requestID: .max, attempt: 0, prefillWorkerID: .max, prefillKey: String(repeating: "x", count: 40))),
        .kvBegin(kvBegin),
        .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 29, headEntryCounts: [1, 1, 1], positions: [0, 17, 8191],
                               frameByteCounts: [384, 384], keyFrameCount: 1)),
        .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 28, headEntryCounts: [2, 0, 1], positions: [0, 17, 8191],
                               frameByteCounts: [384, 384], keyFrameCount: 1)),   // ragged
        .kvLayer(KVLayerHeader(requestID: 42, layerIndex: 0, headEntryCounts: [0, 0, 0], positions: [], frameByteCounts: [],
                               keyFrameCount: 0)),
        .kvEnd(KVEnd(requestID: 42, firstToken: 29871, layerCount: 30, payloadBytes: 30 * 2 * 3 * 819 * 64 * 2,
                     times: stages)),
        .kvEnd(KVEnd(requestID: 42, firstToken: -1, layerCount: 1, payloadBytes: 0)),
        .tokenChunk(TokenChunk(requestID: 42, index: 5, tokenIDs: [13, 29871], text: " world")),
        .result(RequestResult(requestID: 42, text: "Paris.", tokenIDs: [3681, 29889], finishReason: .endOfSequence,
                              promptTokenCount: 8192,
                              timings: Timings(timeToFirstToken: .microseconds(1_234_567), prefill: .microseconds(1_000_000),
                                               transfer: .microseconds(12_345), decodeTokensPerSecond: 17.25,
                                               stages: stages),
                              wireBytes: 9_000_000, fullKVWireBytes: 90_000_000, prefillWorkerID: 7, decodeWorkerID: 9)),
        .error(ErrorReport(requestID: 42, code: .modelMismatch, message: "fingerprint differs", workerID: 9)),
        .error(ErrorReport(requestID: nil, code: .busy, message: "")),
        .error(ErrorReport(requestID: 43, code: .busy, message: "queue full", retryAfter: .milliseconds(2500))),
        .deregister(Deregister(workerID: 9, reason: "SIGTERM: drained", drained: true)),
        .deregister(Deregister(workerID: 9, reason: "grace ran out", drained: false)),
        .statusQuery(StatusQuery()),
        .statusQuery(StatusQuery(requestID: 77)),
        .statusReply(StatusReply(workers: [
            WorkerStatus(workerID: 7, role: .prefill, controlEndpoint: "tcp://a:1", health: .ok,
                         lastHeartbeatAge: .milliseconds(250), queuedPromptTokens: 100, freeKVBytes: 0, activeSequences: 0),
            WorkerStatus(workerID: 9, role: .decode, controlEndpoint: "tcp://b:1", kvEndpoint: "tcp://b:2",
                         health: .lost, lastHeartbeatAge: .milliseconds(9000), queuedPromptTokens: 0,
                         freeKVBytes: 1 << 30, activeSequences: 4, kvCapacityBytes: 2 << 30),
        ], sentUnixMicros: 1_700_000_000_000_000, waitingRequests: 3, runningRequests: 5,
           coordinatorStartedUnixMicros: 1_699_999_000_000_000, requestKnown: true,
           queriedRequestID: 77)),
        .statusReply(StatusReply(workers: [], sentUnixMicros: 0)),
    ]

    /// Every ErrorCode / Role / … value appears somewhere in a round trip.
    static var enumSweep: [Message] {
        ErrorCode.allCases.map { .error(ErrorReport(requestID: 1, code: $0, message: "\($0)")) }
            + [0, 4].map { .error(ErrorReport(requestID: 3, code: .workerLost, message: "x", workerID: 9, attempt: $0)) }
            + Role.allCases.flatMap { role in
                Health.allCases.map { health in
                    .statusReply(StatusReply(workers: [WorkerStatus(workerID: 1, role: role, controlEndpoint: "",
                                                                    health: health, lastHeartbeatAge: .zero,
                                                                    queuedPromptTokens: 0, freeKVBytes: 0,
                                                                    activeSequences: 0)], sentUnixMicros: 1))
                }
            }
            + CompressionMethod.allCases.flatMap { method in
                Pooling.allCases.map { pooling in
                    .submit(Submit(requestID: 1, prompt: .text("x"),
                                   compression: try! CompressionConfig(method: method, pooling: pooling)))
                }
            }
            + FinishReason.allCases.map { reason in
                .result(RequestResult(requestID: 1, text: "", tokenIDs: [], finishReason: reason, promptTokenCount: 1,
                                      timings: Timings(timeToFirstToken: .zero, prefill: .zero, transfer: .zero,
                                                       decodeTokensPerSecond: 0),
                                      wireBytes: 0, fullKVWireBytes: 0, prefillWorkerID: 1, decodeWorkerID: 2))
            }
            + WireDType.allCases.map { .submit(Submit(requestID: 1, prompt: .text(""), wireDType: $0)) }
    }
}
