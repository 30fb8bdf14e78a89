import RequestVocabulary
import Wire

// Placement: which prefill and decode worker serve a request's next attempt.

extension Scheduler {
    /// Work assigned but not yet reflected in what the workers report: prompt tokens per prefill
    /// worker and reserved KV bytes per decode worker, summed over the requests still prefilling.
    /// Computed once per dispatch pass and grown as the pass places requests, so one pass is
    /// linear in the requests held rather than quadratic.
    struct PendingLoad {
        var tokens: [UInt64: Int] = [:]
        var bytes: [UInt64: Int] = [:]

        mutating func add(_ r: ScheduledRequest, on p: Placement) {
            tokens[p.prefill, default: 0] += r.promptTokenCount
            bytes[p.decode, default: 0] += r.reservedKVBytes
        }
    }

    func pendingLoad() -> PendingLoad {
        var load = PendingLoad()
        for r in requests.values {
            if case .prefilling(let p) = r.phase { load.add(r, on: p) }
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
    /// prompt tokens, decode on the one with the most free KV after what is pending on it. A request
    /// that has used its attempts fails, and so does one no decode worker could ever hold (when
    /// configured); one that finds no pair (none registered, or all excluded) stays in the waiting
    /// queue.
    mutating func place(_ id: UInt64, load: inout PendingLoad) {
        guard var r = requests[id] else { return }
        guard r.attempts < configuration.maxAttempts else {
            return fail(id, ErrorReport(requestID: id, code: .workerLost,
                                        message: "gave up after \(r.attempts) attempts (\(r.excludedPrefill.count) prefill and \(r.excludedDecode.count) decode workers failed)"))
        }
        if configuration.refuseWhatNoDecodeWorkerCanHold, let largest = registry.largestDecodeCapacity,
           r.reservedKVBytes > largest {
            return fail(id, ErrorReport(requestID: id, code: .busy,
                                        message: "the request needs \(r.reservedKVBytes) bytes of KV; the largest decode worker holds \(largest)"))
        }
        guard let prefill = registry.pickPrefill(excluding: r.excludedPrefill, pendingTokens: load.tokens),
              let decode = registry.pickDecode(excluding: r.excludedDecode, pendingBytes: load.bytes) else {
            return enqueue(&r)
        }
        let placement = Placement(prefill: prefill.id, decode: decode.id, attempt: r.attempts)
        r.attempts += 1
        r.phase = .prefilling(placement)
        r.assignedUnixMicros = now.unixMicros
        requests[id] = r
        waiting.remove(id)
        load.add(r, on: placement)
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
