import RequestVocabulary
import CProtobufC
import FastKVProto

// Swift values → protobuf-c structs allocated in a CArena, then packed. Every Int goes through a
// checked conversion: a value that does not fit its wire field is a `WireError`, never truncated.

extension Message {
    /// The packed `Envelope { protocol_version, body }`: frame 0 of a ZeroMQ message.
    /// - Throws: `WireError.valueOutOfRange` when a value does not fit its wire field.
    public func encoded() throws(WireError) -> [UInt8] {
        let a = CArena()
        let env: UnsafeMutablePointer<Fastkv__Envelope> = a.message(fastkv__envelope__init)
        env.pointee.protocol_version = WireVersion.protocolVersion
        switch self {
        case .register(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_REGISTRATION
            env.pointee.registration = try m.proto(a)
        case .registerAck(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_REGISTER_ACK
            env.pointee.register_ack = try m.proto(a)
        case .heartbeat(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_HEARTBEAT
            env.pointee.heartbeat = try m.proto(a)
        case .submit(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_SUBMIT
            env.pointee.submit = try m.proto(a)
        case .assignment(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_ASSIGNMENT
            env.pointee.assignment = try m.proto(a)
        case .cancel(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_CANCEL
            let p: UnsafeMutablePointer<Fastkv__Cancel> = a.message(fastkv__cancel__init)
            p.pointee.request_id = m.requestID
            p.pointee.reason = a.string(m.reason)
            env.pointee.cancel = p
        case .kvExpect(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_KV_EXPECT
            let p: UnsafeMutablePointer<Fastkv__KVExpect> = a.message(fastkv__kvexpect__init)
            p.pointee.request_id = m.requestID
            p.pointee.attempt = try WireCheck.uint32("KVExpect.attempt", m.attempt)
            p.pointee.prefill_worker_id = m.prefillWorkerID
            p.pointee.prefill_key = a.string(try WireCheck.curveKey("KVExpect.prefill_key", m.prefillKey ?? ""))
            env.pointee.kv_expect = p
        case .kvBegin(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_KV_BEGIN
            env.pointee.kv_begin = try m.proto(a)
        case .kvLayer(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_KV_LAYER
            env.pointee.kv_layer = try m.proto(a)
        case .kvEnd(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_KV_END
            env.pointee.kv_end = try m.proto(a)
        case .tokenChunk(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_TOKEN_CHUNK
            env.pointee.token_chunk = try m.proto(a)
        case .result(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_RESULT
            env.pointee.result = try m.proto(a)
        case .error(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_ERROR
            let p: UnsafeMutablePointer<Fastkv__Error> = a.message(fastkv__error__init)
            p.pointee.request_id = m.requestID ?? 0
            p.pointee.code = m.code.proto
            p.pointee.message = a.string(m.message)
            p.pointee.worker_id = m.workerID ?? 0
            if let attempt = m.attempt {
                p.pointee.attempt_presence_case = FASTKV__ERROR__ATTEMPT_PRESENCE_ATTEMPT
                p.pointee.attempt = try WireCheck.uint32("Error.attempt", attempt)
            }
            if let retryAfter = m.retryAfter {
                p.pointee.retry_after_ms = max(1, try WireCheck.millis32("Error.retry_after_ms", retryAfter))
            }
            env.pointee.error = p
        case .statusQuery(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_STATUS_QUERY
            let p: UnsafeMutablePointer<Fastkv__StatusQuery> = a.message(fastkv__status_query__init)
            p.pointee.request_id = m.requestID ?? 0
            env.pointee.status_query = p
        case .statusReply(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_STATUS_REPLY
            env.pointee.status_reply = try m.proto(a)
        case .deregister(let m):
            env.pointee.body_case = FASTKV__ENVELOPE__BODY_DEREGISTER
            let p: UnsafeMutablePointer<Fastkv__Deregister> = a.message(fastkv__deregister__init)
            p.pointee.worker_id = m.workerID
            p.pointee.reason = a.string(m.reason)
            p.pointee.drained = m.drained ? 1 : 0
            env.pointee.deregister = p
        }
        let size = fastkv__envelope__get_packed_size(env)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = fastkv__envelope__pack(env, buffer.baseAddress)
        }
    }
}

extension SamplingParameters {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Sampling> {
        let p: UnsafeMutablePointer<Fastkv__Sampling> = a.message(fastkv__sampling__init)
        p.pointee.max_tokens = try WireCheck.uint32("Sampling.max_tokens", maxTokens)
        p.pointee.temperature = temperature
        p.pointee.top_k = try WireCheck.uint32("Sampling.top_k", topK)
        p.pointee.top_p = topP
        if let seed {
            p.pointee.seed_presence_case = FASTKV__SAMPLING__SEED_PRESENCE_SEED
            p.pointee.seed = seed
        }
        p.pointee.n_stop = stopStrings.count
        p.pointee.stop = a.strings(stopStrings)
        p.pointee.ignore_eos = stopAtEOS ? 0 : 1
        return p
    }
}

extension CompressionConfig {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Compression> {
        let p: UnsafeMutablePointer<Fastkv__Compression> = a.message(fastkv__compression__init)
        p.pointee.method = method.proto
        p.pointee.kv_rate = retainRate
        p.pointee.kv_budget = try WireCheck.uint32("Compression.kv_budget", kvBudget ?? 0)
        p.pointee.tsp_rate = tspRate
        p.pointee.tsp_len = try WireCheck.uint32("Compression.tsp_len", tspLength ?? 0)
        if let tspLayer {
            p.pointee.tsp_layer_presence_case = FASTKV__COMPRESSION__TSP_LAYER_PRESENCE_TSP_LAYER
            p.pointee.tsp_layer = try WireCheck.uint32("Compression.tsp_layer", tspLayer)
        }
        p.pointee.window = try WireCheck.uint32("Compression.window", windowSize)
        p.pointee.kernel = try WireCheck.uint32("Compression.kernel", kernelSize)
        p.pointee.pooling = pooling.proto
        p.pointee.ada_alpha_presence_case = FASTKV__COMPRESSION__ADA_ALPHA_PRESENCE_ADA_ALPHA
        p.pointee.ada_alpha = adaAlpha
        p.pointee.headkv_beta = headKVBeta
        p.pointee.headkv_temperature = headKVTemperature
        return p
    }
}

extension ModelShape {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__ModelShape> {
        let p: UnsafeMutablePointer<Fastkv__ModelShape> = a.message(fastkv__model_shape__init)
        p.pointee.fingerprint = a.binary(fingerprint)
        p.pointee.layer_count = try WireCheck.uint64("ModelShape.layer_count", layerCount)
        p.pointee.kv_heads = try WireCheck.uint64("ModelShape.kv_heads", kvHeads)
        p.pointee.head_dim = try WireCheck.uint64("ModelShape.head_dim", headDim)
        return p
    }
}

extension Register {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Register> {
        let p: UnsafeMutablePointer<Fastkv__Register> = a.message(fastkv__register__init)
        p.pointee.worker_id = workerID
        p.pointee.role = role.proto
        p.pointee.control_endpoint = a.string(controlEndpoint)
        p.pointee.kv_endpoint = a.string(kvEndpoint)
        p.pointee.model = try model.proto(a)
        p.pointee.kv_capacity_bytes = try WireCheck.uint64("Register.kv_capacity_bytes", kvCapacityBytes)
        p.pointee.max_sequences = try WireCheck.uint32("Register.max_sequences", maxSequences)
        p.pointee.software_version = a.string(softwareVersion)
        p.pointee.kv_bytes_per_element = UInt32(try Self.checkedKVBytesPerElement(kvBytesPerElement))
        return p
    }
}

extension RegisterAck {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__RegisterAck> {
        let p: UnsafeMutablePointer<Fastkv__RegisterAck> = a.message(fastkv__register_ack__init)
        p.pointee.worker_id = workerID
        p.pointee.heartbeat_interval_ms = try WireCheck.millis32("RegisterAck.heartbeat_interval_ms", heartbeatInterval)
        p.pointee.heartbeat_misses_allowed = try WireCheck.uint32("RegisterAck.heartbeat_misses_allowed",
                                                                 heartbeatMissesAllowed)
        return p
    }
}

extension Heartbeat {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Heartbeat> {
        let p: UnsafeMutablePointer<Fastkv__Heartbeat> = a.message(fastkv__heartbeat__init)
        p.pointee.worker_id = workerID
        p.pointee.sequence = sequence
        p.pointee.health = health.proto
        p.pointee.queued_prompt_tokens = try WireCheck.uint64("Heartbeat.queued_prompt_tokens", queuedPromptTokens)
        p.pointee.free_kv_bytes = try WireCheck.uint64("Heartbeat.free_kv_bytes", freeKVBytes)
        p.pointee.active_sequences = try WireCheck.uint32("Heartbeat.active_sequences", activeSequences)
        p.pointee.sent_unix_us = sentUnixMicros
        return p
    }
}

extension WorkerStatus {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__WorkerStatus>? {
        let p: UnsafeMutablePointer<Fastkv__WorkerStatus> = a.message(fastkv__worker_status__init)
        p.pointee.worker_id = workerID
        p.pointee.role = role.proto
        p.pointee.control_endpoint = a.string(controlEndpoint)
        p.pointee.kv_endpoint = a.string(kvEndpoint)
        p.pointee.health = health.proto
        p.pointee.last_heartbeat_age_ms = try WireCheck.millis32("WorkerStatus.last_heartbeat_age_ms", lastHeartbeatAge)
        p.pointee.queued_prompt_tokens = try WireCheck.uint64("WorkerStatus.queued_prompt_tokens", queuedPromptTokens)
        p.pointee.free_kv_bytes = try WireCheck.uint64("WorkerStatus.free_kv_bytes", freeKVBytes)
        p.pointee.active_sequences = try WireCheck.uint32("WorkerStatus.active_sequences", activeSequences)
        p.pointee.kv_capacity_bytes = try WireCheck.uint64("WorkerStatus.kv_capacity_bytes", kvCapacityBytes)
        return p
    }
}

extension StatusReply {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__StatusReply> {
        let p: UnsafeMutablePointer<Fastkv__StatusReply> = a.message(fastkv__status_reply__init)
        var items: [UnsafeMutablePointer<Fastkv__WorkerStatus>?] = []
        for w in workers { items.append(try w.proto(a)) }
        p.pointee.n_workers = items.count
        p.pointee.workers = a.array(items)
        p.pointee.sent_unix_us = sentUnixMicros
        p.pointee.waiting_requests = try WireCheck.uint32("StatusReply.waiting_requests", waitingRequests)
        p.pointee.running_requests = try WireCheck.uint32("StatusReply.running_requests", runningRequests)
        p.pointee.coordinator_started_unix_us = coordinatorStartedUnixMicros
        p.pointee.request_known = requestKnown ? 1 : 0
        p.pointee.queried_request_id = queriedRequestID ?? 0
        return p
    }
}
