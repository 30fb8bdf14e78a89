import CProtobufC
import FastKVProto

// Swift → protobuf-c for the request path and the KV-transfer headers (see ProtoEncoding.swift).

extension Submit {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Submit> {
        let p: UnsafeMutablePointer<Fastkv__Submit> = a.message(fastkv__submit__init)
        p.pointee.request_id = requestID
        switch request.prompt {
        case .text(let text):
            p.pointee.prompt_case = FASTKV__SUBMIT__PROMPT_TEXT
            p.pointee.text = a.string(text)
        case .tokenIDs(let ids):
            let t: UnsafeMutablePointer<Fastkv__TokenIds> = a.message(fastkv__token_ids__init)
            t.pointee.n_ids = ids.count
            t.pointee.ids = a.array(ids)
            p.pointee.prompt_case = FASTKV__SUBMIT__PROMPT_TOKEN_IDS
            p.pointee.token_ids = t
        }
        p.pointee.chat = request.chat ? 1 : 0
        p.pointee.sampling = try request.sampling?.proto(a)
        p.pointee.compression = try request.compression?.proto(a)
        p.pointee.wire_dtype = request.wireDType?.proto ?? FASTKV__WIRE_DTYPE__WIRE_DTYPE_UNSPECIFIED
        p.pointee.timeout_ms = try request.timeout.map { (t) throws(WireError) in try WireCheck.millis32("Submit.timeout_ms", t) } ?? 0
        p.pointee.stream = request.stream ? 1 : 0
        return p
    }
}

extension Assignment {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Assignment> {
        let p: UnsafeMutablePointer<Fastkv__Assignment> = a.message(fastkv__assignment__init)
        p.pointee.request_id = requestID
        p.pointee.n_token_ids = tokenIDs.count
        p.pointee.token_ids = a.array(tokenIDs)
        p.pointee.sampling = try sampling.proto(a)
        p.pointee.compression = try compression.proto(a)
        p.pointee.wire_dtype = wireDType.proto
        p.pointee.decode_worker_id = decodeWorkerID
        p.pointee.decode_kv_endpoint = a.string(decodeKVEndpoint)
        p.pointee.deadline_unix_ms = deadlineUnixMillis ?? 0
        p.pointee.stream = stream ? 1 : 0
        p.pointee.attempt = try WireCheck.uint32("Assignment.attempt", attempt)
        p.pointee.decode_kv_server_key = a.string(try WireCheck.curveKey("Assignment.decode_kv_server_key", decodeKVServerKey ?? ""))
        return p
    }
}

extension KVBegin {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__KVBegin> {
        // A receiver would reject an inconsistent KVBegin; fail on the sender, where the bug is.
        try validate()
        let p: UnsafeMutablePointer<Fastkv__KVBegin> = a.message(fastkv__kvbegin__init)
        p.pointee.request_id = requestID
        p.pointee.format_version = WireVersion.kvFormatVersion
        p.pointee.model = try model.proto(a)
        p.pointee.wire_dtype = wireDType.proto
        p.pointee.prompt_length = try WireCheck.uint64("KVBegin.prompt_length", promptLength)
        var counts: [UInt64] = []
        counts.reserveCapacity(entryCounts.count)
        for c in entryCounts { counts.append(try WireCheck.uint64("KVBegin.entry_counts[]", c)) }
        p.pointee.n_entry_counts = counts.count
        p.pointee.entry_counts = a.array(counts)
        p.pointee.payload_bytes = try WireCheck.uint64("KVBegin.payload_bytes", try payloadBytes())
        p.pointee.sampling = try sampling.proto(a)
        p.pointee.compression = try compression.proto(a)
        p.pointee.deadline_unix_ms = deadlineUnixMillis ?? 0
        p.pointee.prefill_worker_id = prefillWorkerID
        p.pointee.stream = stream ? 1 : 0
        p.pointee.sent_unix_us = sentUnixMicros
        p.pointee.attempt = try WireCheck.uint32("KVBegin.attempt", attempt)
        return p
    }
}

extension KVLayerHeader {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__KVLayer> {
        let p: UnsafeMutablePointer<Fastkv__KVLayer> = a.message(fastkv__kvlayer__init)
        p.pointee.request_id = requestID
        p.pointee.layer_index = try WireCheck.uint64("KVLayer.layer_index", layerIndex)
        p.pointee.entry_count = try WireCheck.uint64("KVLayer.entry_count", entryCount)
        p.pointee.n_positions = positions.count
        p.pointee.positions = a.array(positions)
        var frames: [UInt64] = []
        frames.reserveCapacity(frameByteCounts.count)
        for n in frameByteCounts { frames.append(try WireCheck.uint64("KVLayer.frame_bytes[]", n)) }
        p.pointee.n_frame_bytes = frames.count
        p.pointee.frame_bytes = a.array(frames)
        p.pointee.k_frame_count = try WireCheck.uint64("KVLayer.k_frame_count", keyFrameCount)
        var heads: [UInt64] = []
        heads.reserveCapacity(headEntryCounts.count)
        for n in headEntryCounts { heads.append(try WireCheck.uint64("KVLayer.head_entry_counts[]", n)) }
        p.pointee.n_head_entry_counts = heads.count
        p.pointee.head_entry_counts = a.array(heads)
        return p
    }
}

extension KVEnd {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__KVEnd> {
        let p: UnsafeMutablePointer<Fastkv__KVEnd> = a.message(fastkv__kvend__init)
        p.pointee.request_id = requestID
        p.pointee.first_token = firstToken
        p.pointee.layer_count = try WireCheck.uint64("KVEnd.layer_count", layerCount)
        p.pointee.payload_bytes = try WireCheck.uint64("KVEnd.payload_bytes", payloadBytes)
        p.pointee.times = times.proto(a)
        return p
    }
}

extension TokenChunk {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__TokenChunk> {
        let p: UnsafeMutablePointer<Fastkv__TokenChunk> = a.message(fastkv__token_chunk__init)
        p.pointee.request_id = requestID
        p.pointee.index = try WireCheck.uint32("TokenChunk.index", index)
        p.pointee.n_token_ids = tokenIDs.count
        p.pointee.token_ids = a.array(tokenIDs)
        p.pointee.text = a.string(text)
        return p
    }
}

extension StageTimes {
    func proto(_ a: CArena) -> UnsafeMutablePointer<Fastkv__StageTimes> {
        let p: UnsafeMutablePointer<Fastkv__StageTimes> = a.message(fastkv__stage_times__init)
        p.pointee.received_unix_us = receivedUnixMicros ?? 0
        p.pointee.assigned_unix_us = assignedUnixMicros ?? 0
        p.pointee.prefill_start_unix_us = prefillStartUnixMicros ?? 0
        p.pointee.prefill_end_unix_us = prefillEndUnixMicros ?? 0
        p.pointee.kv_encoded_unix_us = kvEncodedUnixMicros ?? 0
        p.pointee.kv_sent_unix_us = kvSentUnixMicros ?? 0
        p.pointee.kv_received_unix_us = kvReceivedUnixMicros ?? 0
        p.pointee.kv_installed_unix_us = kvInstalledUnixMicros ?? 0
        p.pointee.first_token_unix_us = firstTokenUnixMicros ?? 0
        p.pointee.finished_unix_us = finishedUnixMicros ?? 0
        return p
    }
}

extension Timings {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Timings> {
        let p: UnsafeMutablePointer<Fastkv__Timings> = a.message(fastkv__timings__init)
        p.pointee.ttft_us = try WireCheck.micros64("Timings.ttft_us", timeToFirstToken)
        p.pointee.prefill_us = try WireCheck.micros64("Timings.prefill_us", prefill)
        p.pointee.transfer_us = try WireCheck.micros64("Timings.transfer_us", transfer)
        p.pointee.decode_tokens_per_second = decodeTokensPerSecond
        p.pointee.stages = stages.proto(a)
        return p
    }
}

extension RequestResult {
    func proto(_ a: CArena) throws(WireError) -> UnsafeMutablePointer<Fastkv__Result> {
        let p: UnsafeMutablePointer<Fastkv__Result> = a.message(fastkv__result__init)
        p.pointee.request_id = requestID
        p.pointee.text = a.string(text)
        p.pointee.n_token_ids = tokenIDs.count
        p.pointee.token_ids = a.array(tokenIDs)
        p.pointee.finish_reason = finishReason.proto
        p.pointee.prompt_tokens = try WireCheck.uint32("Result.prompt_tokens", promptTokenCount)
        p.pointee.timings = try timings.proto(a)
        p.pointee.wire_bytes = try WireCheck.uint64("Result.wire_bytes", wireBytes)
        p.pointee.full_kv_wire_bytes = try WireCheck.uint64("Result.full_kv_wire_bytes", fullKVWireBytes)
        p.pointee.prefill_worker_id = prefillWorkerID
        p.pointee.decode_worker_id = decodeWorkerID
        p.pointee.payload_bytes = try WireCheck.uint64("Result.payload_bytes", payloadBytes)
        return p
    }
}
