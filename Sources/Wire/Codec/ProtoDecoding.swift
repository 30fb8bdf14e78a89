import RequestVocabulary
import CProtobufC
import FastKVProto

// protobuf-c structs → Swift values, validating as we go. The input is hostile: protobuf-c has
// already checked the wire syntax and bounded every allocation by the input size, but not meaning.
// Here: version, required fields and enums, nonzero ids, every count against `WireLimits`, and
// internal consistency (entry count vs positions, payload bytes vs the size formula). Checks that
// need the transfer's context (layer index range, frame sizes vs K/V bytes) live in
// KVTransferReceiver / KVLayerCodec.

extension Message {
    /// Decodes a packed `Envelope` (frame 0 of a ZeroMQ message).
    /// - Throws: `WireError`; never traps, whatever the bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: WireLimits = .default) throws(WireError) -> Message {
        guard bytes.count <= limits.maxEnvelopeBytes else {
            throw .envelopeTooLarge(byteCount: bytes.count, limit: limits.maxEnvelopeBytes)
        }
        let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        // protobuf-c reads nothing through a NULL pointer when len is 0, but don't rely on it.
        var empty: UInt8 = 0
        let unpacked = withUnsafePointer(to: &empty) { fallback in
            fastkv__envelope__unpack(nil, bytes.count, data ?? fallback)
        }
        guard let env = unpacked else { throw .malformedEnvelope(byteCount: bytes.count) }
        defer { fastkv__envelope__free_unpacked(env, nil) }
        return try decodeEnvelope(env.pointee, limits: limits)
    }

    /// Decodes a packed `Envelope` held in an array.
    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(WireError) -> Message {
        let result: Result<Message, WireError> = bytes.withUnsafeBytes { raw in
            do throws(WireError) { return .success(try decode(raw, limits: limits)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes the packed `Envelope` in a received frame, without copying it.
    public static func decode(frame: some PayloadFrame, limits: WireLimits = .default) throws(WireError) -> Message {
        try frame.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(WireError) -> Message in
            try decode(raw, limits: limits)
        }
    }

    private static func decodeEnvelope(_ env: Fastkv__Envelope, limits: WireLimits) throws(WireError) -> Message {
        guard env.protocol_version == WireVersion.protocolVersion else {
            throw .unsupportedProtocolVersion(found: env.protocol_version, supported: WireVersion.protocolVersion)
        }
        switch env.body_case {
        case FASTKV__ENVELOPE__BODY_REGISTRATION: return .register(try Register(proto: env.registration, limits: limits))
        case FASTKV__ENVELOPE__BODY_REGISTER_ACK: return .registerAck(try RegisterAck(proto: env.register_ack))
        case FASTKV__ENVELOPE__BODY_HEARTBEAT: return .heartbeat(try Heartbeat(proto: env.heartbeat))
        case FASTKV__ENVELOPE__BODY_SUBMIT: return .submit(try Submit(proto: env.submit, limits: limits))
        case FASTKV__ENVELOPE__BODY_ASSIGNMENT: return .assignment(try Assignment(proto: env.assignment, limits: limits))
        case FASTKV__ENVELOPE__BODY_CANCEL:
            let c = try protoPresent(env.cancel, "Envelope.cancel")
            return .cancel(Cancel(requestID: try nonzeroID(c.request_id, "Cancel.request_id"),
                                  reason: protoString(c.reason)))
        case FASTKV__ENVELOPE__BODY_KV_EXPECT:
            let e = try protoPresent(env.kv_expect, "Envelope.kv_expect")
            return .kvExpect(KVExpect(requestID: try nonzeroID(e.request_id, "KVExpect.request_id"), attempt: Int(e.attempt),
                                      prefillWorkerID: try nonzeroID(e.prefill_worker_id, "KVExpect.prefill_worker_id"),
                                      prefillKey: try WireCheck.curveKey("KVExpect.prefill_key", protoString(e.prefill_key)).nilIfEmpty))
        case FASTKV__ENVELOPE__BODY_KV_BEGIN: return .kvBegin(try KVBegin(proto: env.kv_begin, limits: limits))
        case FASTKV__ENVELOPE__BODY_KV_LAYER: return .kvLayer(try KVLayerHeader(proto: env.kv_layer, limits: limits))
        case FASTKV__ENVELOPE__BODY_KV_END: return .kvEnd(try KVEnd(proto: env.kv_end))
        case FASTKV__ENVELOPE__BODY_TOKEN_CHUNK: return .tokenChunk(try TokenChunk(proto: env.token_chunk))
        case FASTKV__ENVELOPE__BODY_RESULT: return .result(try RequestResult(proto: env.result))
        case FASTKV__ENVELOPE__BODY_ERROR:
            let e = try protoPresent(env.error, "Envelope.error")
            return .error(ErrorReport(requestID: e.request_id == 0 ? nil : e.request_id,
                                      code: try requiredEnum(ErrorCode.fromProto(e.code, field: "Error.code"), "Error.code"),
                                      message: protoString(e.message),
                                      workerID: e.worker_id == 0 ? nil : e.worker_id,
                                      attempt: e.attempt_presence_case == FASTKV__ERROR__ATTEMPT_PRESENCE_ATTEMPT
                                          ? Int(e.attempt) : nil,
                                      retryAfter: e.retry_after_ms == 0 ? nil : .milliseconds(Int64(e.retry_after_ms))))
        case FASTKV__ENVELOPE__BODY_STATUS_QUERY:
            let q = try protoPresent(env.status_query, "Envelope.status_query")
            return .statusQuery(StatusQuery(requestID: q.request_id == 0 ? nil : q.request_id))
        case FASTKV__ENVELOPE__BODY_STATUS_REPLY: return .statusReply(try StatusReply(proto: env.status_reply))
        case FASTKV__ENVELOPE__BODY_DEREGISTER:
            let d = try protoPresent(env.deregister, "Envelope.deregister")
            return .deregister(Deregister(workerID: try nonzeroID(d.worker_id, "Deregister.worker_id"),
                                          reason: protoString(d.reason), drained: d.drained != 0))
        default: throw .missingBody
        }
    }
}

// MARK: - helpers

/// A required submessage.
func protoPresent<T>(_ p: UnsafeMutablePointer<T>?, _ field: String) throws(WireError) -> T {
    guard let p else { throw .missingField(field) }
    return p.pointee
}

/// A protobuf-c string (NULL reads as empty). Invalid UTF-8 is repaired, not trusted.
func protoString(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

/// A repeated scalar field.
func protoArray<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> [T] {
    guard let p, n > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: p, count: n))
}

/// Request and worker ids are nonzero: 0 is what an unset field reads as.
func nonzeroID(_ id: UInt64, _ field: String) throws(WireError) -> UInt64 {
    guard id != 0 else { throw .missingField(field) }
    return id
}

/// A count or size as Int, bounded by `allowed` (checked before any narrowing).
func protoCount(_ field: String, _ v: some FixedWidthInteger & UnsignedInteger,
                _ allowed: ClosedRange<Int>) throws(WireError) -> Int {
    guard let n = Int(exactly: v), allowed.contains(n) else {
        throw .valueOutOfRange(field: field, value: Int64(clamping: v), allowed: Int64(allowed.lowerBound)...Int64(allowed.upperBound))
    }
    return n
}

// MARK: - shared parts

/// A knob outside its rule, named by its proto field (the vocabulary's initializers hold the rules).
private func invalidKnob(_ message: String, _ error: RequestError) -> WireError {
    .invalidValue(field: message + "." + error.knob.field, value: "\(error)")
}

extension SamplingParameters {
    init(proto p: UnsafeMutablePointer<Fastkv__Sampling>?, field: String) throws(WireError) {
        let s = try protoPresent(p, field)
        do {
            try self.init(temperature: s.temperature, topK: Int(s.top_k), topP: s.top_p == 0 ? 1 : s.top_p,
                          seed: s.seed_presence_case == FASTKV__SAMPLING__SEED_PRESENCE_SEED ? s.seed : nil,
                          maxTokens: Int(s.max_tokens), stopStrings: protoArray(s.stop, s.n_stop).map(protoString),
                          stopAtEOS: s.ignore_eos == 0)
        } catch { throw invalidKnob("Sampling", error) }
    }
}

extension CompressionConfig {
    /// proto3 cannot tell 0 from absent, so 0 (or UNSPECIFIED) means the vocabulary's default for
    /// the rates, window, kernel, pooling and HeadKV's β and temperature (AdaKV's α, for which 0 is a
    /// value, has a presence case); the method is required.
    init(proto p: UnsafeMutablePointer<Fastkv__Compression>?, field: String) throws(WireError) {
        let c = try protoPresent(p, field)
        let method = try requiredEnum(CompressionMethod.fromProto(c.method, field: "Compression.method"),
                                      "Compression.method")
        let pooling = try Pooling.fromProto(c.pooling, field: "Compression.pooling") ?? Defaults.pooling
        let hasLayer = c.tsp_layer_presence_case == FASTKV__COMPRESSION__TSP_LAYER_PRESENCE_TSP_LAYER
        let hasAlpha = c.ada_alpha_presence_case == FASTKV__COMPRESSION__ADA_ALPHA_PRESENCE_ADA_ALPHA
        do {
            try self.init(method: method, retainRate: c.kv_rate == 0 ? Defaults.retainRate : c.kv_rate,
                          kvBudget: c.kv_budget == 0 ? nil : Int(c.kv_budget),
                          tspRate: c.tsp_rate == 0 ? Defaults.tspRate : c.tsp_rate,
                          tspLength: c.tsp_len == 0 ? nil : Int(c.tsp_len),
                          tspLayer: hasLayer ? Int(c.tsp_layer) : nil,
                          windowSize: c.window == 0 ? Defaults.windowSize : Int(c.window),
                          kernelSize: c.kernel == 0 ? Defaults.kernelSize : Int(c.kernel), pooling: pooling,
                          adaAlpha: hasAlpha ? c.ada_alpha : Defaults.adaAlpha,
                          headKVBeta: c.headkv_beta == 0 ? Defaults.headKVBeta : c.headkv_beta,
                          headKVTemperature: c.headkv_temperature == 0 ? Defaults.headKVTemperature : c.headkv_temperature)
        } catch { throw invalidKnob("Compression", error) }
    }
}

extension ModelShape {
    init(proto p: UnsafeMutablePointer<Fastkv__ModelShape>?, field: String, limits: WireLimits) throws(WireError) {
        let m = try protoPresent(p, field)
        self.init(fingerprint: protoArray(m.fingerprint.data, m.fingerprint.len),
                  layerCount: try protoCount("\(field).layer_count", m.layer_count, 1...limits.maxLayerCount),
                  kvHeads: try protoCount("\(field).kv_heads", m.kv_heads, 1...limits.maxKVHeads),
                  headDim: try protoCount("\(field).head_dim", m.head_dim, 1...limits.maxHeadDim))
    }
}

// MARK: - cluster membership and status

extension Register {
    init(proto p: UnsafeMutablePointer<Fastkv__Register>?, limits: WireLimits) throws(WireError) {
        let r = try protoPresent(p, "Envelope.registration")
        self.init(workerID: try nonzeroID(r.worker_id, "Register.worker_id"),
                  role: try requiredEnum(Role.fromProto(r.role, field: "Register.role"), "Register.role"),
                  controlEndpoint: protoString(r.control_endpoint), kvEndpoint: protoString(r.kv_endpoint),
                  model: try ModelShape(proto: r.model, field: "Register.model", limits: limits),
                  kvCapacityBytes: try WireCheck.int("Register.kv_capacity_bytes", r.kv_capacity_bytes),
                  maxSequences: Int(r.max_sequences), softwareVersion: protoString(r.software_version),
                  // 0: not sent (a worker from before the field), which holds f32 KV.
                  kvBytesPerElement: r.kv_bytes_per_element == 0 ? 4
                      : try Self.checkedKVBytesPerElement(Int(r.kv_bytes_per_element)))
    }
}

extension RegisterAck {
    init(proto p: UnsafeMutablePointer<Fastkv__RegisterAck>?) throws(WireError) {
        let r = try protoPresent(p, "Envelope.register_ack")
        self.init(workerID: try nonzeroID(r.worker_id, "RegisterAck.worker_id"),
                  heartbeatInterval: .milliseconds(Int64(r.heartbeat_interval_ms)),
                  heartbeatMissesAllowed: Int(r.heartbeat_misses_allowed))
    }
}

extension Heartbeat {
    init(proto p: UnsafeMutablePointer<Fastkv__Heartbeat>?) throws(WireError) {
        let h = try protoPresent(p, "Envelope.heartbeat")
        self.init(workerID: try nonzeroID(h.worker_id, "Heartbeat.worker_id"), sequence: h.sequence,
                  health: try requiredEnum(Health.fromProto(h.health, field: "Heartbeat.health"), "Heartbeat.health"),
                  queuedPromptTokens: try WireCheck.int("Heartbeat.queued_prompt_tokens", h.queued_prompt_tokens),
                  freeKVBytes: try WireCheck.int("Heartbeat.free_kv_bytes", h.free_kv_bytes),
                  activeSequences: Int(h.active_sequences), sentUnixMicros: h.sent_unix_us)
    }
}

extension WorkerStatus {
    init(proto p: UnsafeMutablePointer<Fastkv__WorkerStatus>?) throws(WireError) {
        let w = try protoPresent(p, "StatusReply.workers[]")
        self.init(workerID: try nonzeroID(w.worker_id, "WorkerStatus.worker_id"),
                  role: try requiredEnum(Role.fromProto(w.role, field: "WorkerStatus.role"), "WorkerStatus.role"),
                  controlEndpoint: protoString(w.control_endpoint), kvEndpoint: protoString(w.kv_endpoint),
                  health: try requiredEnum(Health.fromProto(w.health, field: "WorkerStatus.health"), "WorkerStatus.health"),
                  lastHeartbeatAge: .milliseconds(Int64(w.last_heartbeat_age_ms)),
                  queuedPromptTokens: try WireCheck.int("WorkerStatus.queued_prompt_tokens", w.queued_prompt_tokens),
                  freeKVBytes: try WireCheck.int("WorkerStatus.free_kv_bytes", w.free_kv_bytes),
                  activeSequences: Int(w.active_sequences),
                  kvCapacityBytes: try WireCheck.int("WorkerStatus.kv_capacity_bytes", w.kv_capacity_bytes))
    }
}

extension StatusReply {
    init(proto p: UnsafeMutablePointer<Fastkv__StatusReply>?) throws(WireError) {
        let r = try protoPresent(p, "Envelope.status_reply")
        var workers: [WorkerStatus] = []
        for w in protoArray(r.workers, r.n_workers) { workers.append(try WorkerStatus(proto: w)) }
        self.init(workers: workers, sentUnixMicros: r.sent_unix_us, waitingRequests: Int(r.waiting_requests),
                  runningRequests: Int(r.running_requests), coordinatorStartedUnixMicros: r.coordinator_started_unix_us,
                  requestKnown: r.request_known != 0,
                  queriedRequestID: r.queried_request_id == 0 ? nil : r.queried_request_id)
    }
}
