import RequestVocabulary
import Wire

// Placement: which prefill and decode worker serve a request's next attempt.

extension Scheduler {
    /// Work the scheduler has placed, per worker. `tokens` and `bytes` count the requests still
    /// prefilling (not yet reflected in what the workers report: queued prompt tokens per prefill
    /// worker, KV bytes per decode worker); `placedBytes` and `placedSequences` count every request
    /// placed on a decode worker, prefilling or decoding, so placement never promises a worker more
    /// than its capacity whatever its last heartbeat said. Computed once per dispatch pass and grown
    /// as the pass places requests, so one pass is linear in the requests held rather than quadratic.
    struct PendingLoad {
        var tokens: [UInt64: Int] = [:]
        var bytes: [UInt64: Int] = [:]
        var placedBytes: [UInt64: Int] = [:]
        var placedSequences: [UInt64: Int] = [:]
        var prefilling: [UInt64: Int] = [:]

        /// `kvBytes`: the request's reservation in the decode worker's own KV element size.
        mutating func add(_ r: ScheduledRequest, on p: Placement, kvBytes: Int, prefilling: Bool = true) {
            if prefilling {
                self.prefilling[p.prefill, default: 0] += 1
                tokens[p.prefill, default: 0] += r.promptTokenCount
                bytes[p.decode, default: 0] += kvBytes
            }
            placedBytes[p.decode, default: 0] += kvBytes
            placedSequences[p.decode, default: 0] += 1
        }
    }

    func pendingLoad() -> PendingLoad {
        var load = PendingLoad()
        func kvBytes(_ r: ScheduledRequest, on p: Placement) -> Int {
            registry[p.decode]?.kvBytes(atF32: r.reservedKVBytes) ?? r.reservedKVBytes
        }
        for r in requests.values {
            switch r.phase {
            case .prefilling(let p): load.add(r, on: p, kvBytes: kvBytes(r, on: p))
            case .decoding(let p, _): load.add(r, on: p, kvBytes: kvBytes(r, on: p), prefilling: false)
            default: break
            }
        }
        return load
    }

    /// Tries every waiting request, oldest first; those that find no pair stay queued.
    mutating func dispatchWaiting() {
        guard !waiting.isEmpty else { return }
        var load = pendingLoad()
        for id in waiting.inDispatchOrder { place(id, load: &load) }
    }

    mutating func place(_ id: UInt64) {
        var load = pendingLoad()
        place(id, load: &load)
    }

    /// Picks a pair for the request and assigns it: prefill on the worker with the fewest queued
    /// prompt tokens, decode on the one with the most free KV after what is pending on it, among
    /// those with room for the request's exact KV bytes (in that worker's KV element size) and a free
    /// sequence slot. A request that has used its attempts fails, and so does one no decode worker
    /// could ever hold (when configured);
    /// one that finds no pair (none registered, all excluded, or none with room yet) stays in the
    /// waiting queue until a worker frees room or its deadline passes.
    mutating func place(_ id: UInt64, load: inout PendingLoad) {
        guard var r = requests[id] else { return }
        guard r.attempts < configuration.maxAttempts else {
            return fail(id, ErrorReport(requestID: id, code: .workerLost,
                                        message: "gave up after \(r.attempts) attempts (\(r.excludedPrefill.count) prefill and \(r.excludedDecode.count) decode workers failed)"))
        }
        if let text = tooLargeForEveryDecodeWorker(reservedKVBytes: r.reservedKVBytes) {
            return fail(id, ErrorReport(requestID: id, code: .busy, message: text))
        }
        guard let prefill = registry.pickPrefill(excluding: r.excludedPrefill, load: load,
                                                 slots: configuration.maxAssignmentsPerPrefillWorker),
              let decode = registry.pickDecode(excluding: r.excludedDecode, needingAtF32: r.reservedKVBytes, load: load) else {
            return enqueue(&r)
        }
        let placement = Placement(prefill: prefill.id, decode: decode.id, attempt: r.attempts)
        r.attempts += 1
        r.phase = .prefilling(placement)
        r.assignedUnixMicros = now.unixMicros
        requests[id] = r
        waiting.remove(id)
        load.add(r, on: placement, kvBytes: decode.kvBytes(atF32: r.reservedKVBytes))
        var assignment = r.work
        assignment.decodeWorkerID = decode.id
        assignment.decodeKVEndpoint = decode.kvEndpoint
        // With CURVE, the decode worker's KV socket is a CURVE server with the key it registered with.
        assignment.decodeKVServerKey = decode.identity
        assignment.deadlineUnixMillis = r.deadlineUnixMillis
        assignment.stream = true
        assignment.attempt = placement.attempt
        log("request \(id): attempt \(placement.attempt) on prefill \(prefill.id) → decode \(decode.id)")
        decisions.append(.assign(assignment, prefill: prefill.id, address: prefill.address))
    }
}
