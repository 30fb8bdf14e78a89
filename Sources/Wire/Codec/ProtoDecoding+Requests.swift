import RequestVocabulary
import CProtobufC
import FastKVProto

// protobuf-c → Swift for the request path and the KV-transfer headers (see ProtoDecoding.swift).

extension Submit {
    init(proto p: UnsafeMutablePointer<Fastkv__Submit>?, limits: WireLimits) throws(WireError) {
        let s = try protoPresent(p, "Envelope.submit")
        let prompt: GenerationRequest.Prompt
        switch s.prompt_case {
        case FASTKV__SUBMIT__PROMPT_TEXT: prompt = .text(protoString(s.text))
        case FASTKV__SUBMIT__PROMPT_TOKEN_IDS:
            let t = try protoPresent(s.token_ids, "Submit.token_ids")
            try WireCheck.range("Submit.token_ids", t.n_ids, 0...limits.maxPromptLength)
            prompt = .tokenIDs(protoArray(t.ids, t.n_ids))
        default: throw .missingField("Submit.prompt")
        }
        self.init(requestID: try nonzeroID(s.request_id, "Submit.request_id"), prompt: prompt, chat: s.chat != 0,
                  sampling: s.sampling == nil ? nil : try SamplingParameters(proto: s.sampling, field: "Submit.sampling"),
                  compression: s.compression == nil ? nil
                      : try CompressionConfig(proto: s.compression, field: "Submit.compression"),
                  wireDType: try WireDType.fromProto(s.wire_dtype, field: "Submit.wire_dtype"),
                  timeout: s.timeout_ms == 0 ? nil : .milliseconds(Int64(s.timeout_ms)), stream: s.stream != 0)
    }
}

extension Assignment {
    init(proto p: UnsafeMutablePointer<Fastkv__Assignment>?, limits: WireLimits) throws(WireError) {
        let a = try protoPresent(p, "Envelope.assignment")
        try WireCheck.range("Assignment.token_ids", a.n_token_ids, 1...limits.maxPromptLength)
        self.init(requestID: try nonzeroID(a.request_id, "Assignment.request_id"),
                  tokenIDs: protoArray(a.token_ids, a.n_token_ids),
                  sampling: try SamplingParameters(proto: a.sampling, field: "Assignment.sampling"),
                  compression: try CompressionConfig(proto: a.compression, field: "Assignment.compression"),
                  wireDType: try requiredEnum(WireDType.fromProto(a.wire_dtype, field: "Assignment.wire_dtype"),
                                              "Assignment.wire_dtype"),
                  decodeWorkerID: try nonzeroID(a.decode_worker_id, "Assignment.decode_worker_id"),
                  decodeKVEndpoint: protoString(a.decode_kv_endpoint),
                  deadlineUnixMillis: a.deadline_unix_ms == 0 ? nil : a.deadline_unix_ms,
                  stream: a.stream != 0, attempt: Int(a.attempt),
                  decodeKVServerKey: try WireCheck.curveKey("Assignment.decode_kv_server_key",
                                                            protoString(a.decode_kv_server_key)).nilIfEmpty)
    }
}

extension KVBegin {
    init(proto p: UnsafeMutablePointer<Fastkv__KVBegin>?, limits: WireLimits) throws(WireError) {
        let b = try protoPresent(p, "Envelope.kv_begin")
        guard b.format_version == WireVersion.kvFormatVersion else {
            throw .unsupportedFormatVersion(found: b.format_version, supported: WireVersion.kvFormatVersion)
        }
        let model = try ModelShape(proto: b.model, field: "KVBegin.model", limits: limits)
        guard b.n_entry_counts == model.layerCount else {
            throw .countMismatch(field: "KVBegin.entry_counts", expected: model.layerCount, found: b.n_entry_counts)
        }
        let promptLength = try protoCount("KVBegin.prompt_length", b.prompt_length, 1...limits.maxPromptLength)
        var entryCounts: [Int] = []
        entryCounts.reserveCapacity(model.layerCount)
        // Layer totals over the KV heads; validate() bounds them by kv_heads × prompt_length.
        for c in protoArray(b.entry_counts, b.n_entry_counts) {
            entryCounts.append(try protoCount("KVBegin.entry_counts[]", c, 0...saturatingProduct(model.kvHeads, promptLength)))
        }
        self.init(requestID: try nonzeroID(b.request_id, "KVBegin.request_id"), model: model,
                  wireDType: try requiredEnum(WireDType.fromProto(b.wire_dtype, field: "KVBegin.wire_dtype"),
                                              "KVBegin.wire_dtype"),
                  promptLength: promptLength, entryCounts: entryCounts,
                  sampling: try SamplingParameters(proto: b.sampling, field: "KVBegin.sampling"),
                  compression: try CompressionConfig(proto: b.compression, field: "KVBegin.compression"),
                  deadlineUnixMillis: b.deadline_unix_ms == 0 ? nil : b.deadline_unix_ms,
                  prefillWorkerID: try nonzeroID(b.prefill_worker_id, "KVBegin.prefill_worker_id"),
                  stream: b.stream != 0, sentUnixMicros: b.sent_unix_us, attempt: Int(b.attempt))
        try validate(limits: limits)
        let announced = try WireCheck.int("KVBegin.payload_bytes", b.payload_bytes)
        let computed = try payloadBytes()
        guard announced == computed else {
            throw .countMismatch(field: "KVBegin.payload_bytes", expected: computed, found: announced)
        }
    }
}

extension KVLayerHeader {
    /// Context-free checks only; KVTransferReceiver checks the rest against KVBegin.
    init(proto p: UnsafeMutablePointer<Fastkv__KVLayer>?, limits: WireLimits) throws(WireError) {
        let l = try protoPresent(p, "Envelope.kv_layer")
        guard l.n_head_entry_counts <= limits.maxKVHeads else {
            throw .valueOutOfRange(field: "KVLayer.head_entry_counts (count)", value: Int64(clamping: l.n_head_entry_counts),
                                   allowed: 0...Int64(limits.maxKVHeads))
        }
        var headCounts: [Int] = []
        headCounts.reserveCapacity(l.n_head_entry_counts)
        for c in protoArray(l.head_entry_counts, l.n_head_entry_counts) {
            headCounts.append(try protoCount("KVLayer.head_entry_counts[]", c, 0...limits.maxPromptLength))
        }
        let entryCount = try protoCount("KVLayer.entry_count", l.entry_count,
                                        0...saturatingProduct(limits.maxKVHeads, limits.maxPromptLength))
        var sum = 0
        for n in headCounts {
            let (next, overflow) = sum.addingReportingOverflow(n)
            guard !overflow else { throw .sizeOverflow("KVLayer.head_entry_counts sum") }
            sum = next
        }
        guard sum == entryCount else {
            throw .countMismatch(field: "KVLayer.entry_count (Σ head_entry_counts)", expected: sum, found: entryCount)
        }
        guard l.n_positions == entryCount else {
            throw .countMismatch(field: "KVLayer.positions", expected: entryCount, found: l.n_positions)
        }
        var frames: [Int] = []
        frames.reserveCapacity(l.n_frame_bytes)
        for (i, n) in protoArray(l.frame_bytes, l.n_frame_bytes).enumerated() {
            guard n <= UInt64(limits.maxFrameBytes) else {
                throw .frameTooLarge(frame: i, byteCount: Int(clamping: n), limit: limits.maxFrameBytes)
            }
            frames.append(Int(n))
        }
        self.init(requestID: try nonzeroID(l.request_id, "KVLayer.request_id"),
                  layerIndex: try protoCount("KVLayer.layer_index", l.layer_index, 0...limits.maxLayerCount - 1),
                  headEntryCounts: headCounts, positions: protoArray(l.positions, l.n_positions),
                  frameByteCounts: frames,
                  keyFrameCount: try protoCount("KVLayer.k_frame_count", l.k_frame_count, 0...frames.count))
    }
}

extension KVEnd {
    init(proto p: UnsafeMutablePointer<Fastkv__KVEnd>?) throws(WireError) {
        let e = try protoPresent(p, "Envelope.kv_end")
        self.init(requestID: try nonzeroID(e.request_id, "KVEnd.request_id"), firstToken: e.first_token,
                  layerCount: try protoCount("KVEnd.layer_count", e.layer_count, 0...Int(Int32.max)), payloadBytes: try WireCheck.int("KVEnd.payload_bytes", e.payload_bytes),
                  times: StageTimes(proto: e.times))
    }
}

extension TokenChunk {
    init(proto p: UnsafeMutablePointer<Fastkv__TokenChunk>?) throws(WireError) {
        let t = try protoPresent(p, "Envelope.token_chunk")
        self.init(requestID: try nonzeroID(t.request_id, "TokenChunk.request_id"), index: Int(t.index),
                  tokenIDs: protoArray(t.token_ids, t.n_token_ids), text: protoString(t.text))
    }
}

extension StageTimes {
    /// Absent = no stage recorded.
    init(proto p: UnsafeMutablePointer<Fastkv__StageTimes>?) {
        guard let s = p?.pointee else { self.init(); return }
        func t(_ v: UInt64) -> UInt64? { v == 0 ? nil : v }
        self.init(receivedUnixMicros: t(s.received_unix_us), assignedUnixMicros: t(s.assigned_unix_us),
                  prefillStartUnixMicros: t(s.prefill_start_unix_us), prefillEndUnixMicros: t(s.prefill_end_unix_us),
                  kvEncodedUnixMicros: t(s.kv_encoded_unix_us), kvSentUnixMicros: t(s.kv_sent_unix_us),
                  kvReceivedUnixMicros: t(s.kv_received_unix_us), kvInstalledUnixMicros: t(s.kv_installed_unix_us),
                  firstTokenUnixMicros: t(s.first_token_unix_us), finishedUnixMicros: t(s.finished_unix_us))
    }
}

extension Timings {
    init(proto p: UnsafeMutablePointer<Fastkv__Timings>?) throws(WireError) {
        let t = try protoPresent(p, "Result.timings")
        guard t.decode_tokens_per_second.isFinite, t.decode_tokens_per_second >= 0 else {
            throw .invalidValue(field: "Timings.decode_tokens_per_second", value: "\(t.decode_tokens_per_second)")
        }
        self.init(timeToFirstToken: try WireCheck.duration(micros: t.ttft_us, field: "Timings.ttft_us"),
                  prefill: try WireCheck.duration(micros: t.prefill_us, field: "Timings.prefill_us"),
                  transfer: try WireCheck.duration(micros: t.transfer_us, field: "Timings.transfer_us"),
                  decodeTokensPerSecond: t.decode_tokens_per_second, stages: StageTimes(proto: t.stages))
    }
}

extension RequestResult {
    init(proto p: UnsafeMutablePointer<Fastkv__Result>?) throws(WireError) {
        let r = try protoPresent(p, "Envelope.result")
        self.init(requestID: try nonzeroID(r.request_id, "Result.request_id"), text: protoString(r.text),
                  tokenIDs: protoArray(r.token_ids, r.n_token_ids),
                  finishReason: try requiredEnum(FinishReason.fromProto(r.finish_reason, field: "Result.finish_reason"),
                                                 "Result.finish_reason"),
                  promptTokenCount: Int(r.prompt_tokens), timings: try Timings(proto: r.timings),
                  wireBytes: try WireCheck.int("Result.wire_bytes", r.wire_bytes),
                  fullKVWireBytes: try WireCheck.int("Result.full_kv_wire_bytes", r.full_kv_wire_bytes),
                  prefillWorkerID: r.prefill_worker_id, decodeWorkerID: r.decode_worker_id,
                  payloadBytes: try WireCheck.int("Result.payload_bytes", r.payload_bytes))
    }
}

/// a·b, or Int.max when it overflows (an upper bound for a range check, never a size).
func saturatingProduct(_ a: Int, _ b: Int) -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : p
}
