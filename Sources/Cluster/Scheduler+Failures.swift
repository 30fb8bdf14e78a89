import RequestVocabulary
import Wire

// Failures: worker errors, lost and silent workers, deadlines, and ending a request with an error.

extension Scheduler {
    /// A worker's ErrorReport. Reports about an attempt that is no longer the live one are ignored,
    /// so a late failure cannot undo a retry. BUSY (the decode worker has no room) and WORKER_LOST
    /// (a transfer could not reach or stalled at the other side) are retried on another pair, with
    /// the failing side excluded for this request, as long as attempts remain and the client has no
    /// tokens yet; every other code ends the request with the worker's report.
    mutating func workerError(_ e: ErrorReport, from worker: UInt64, attempt: Int?) {
        let label = e.code.label
        guard let id = e.requestID else {
            log("worker \(worker): \(label): \(e.message)")
            return
        }
        guard var r = requests[id], let p = r.phase.placement, p.involves(worker),
              attempt.map({ $0 == p.attempt }) ?? true else {
            log("request \(id): ignored a stale \(label) from worker \(worker): \(e.message)")
            return
        }
        log("request \(id): \(label) from worker \(worker): \(e.message)")
        let retryable: Bool
        switch e.code {
        case .busy:
            // A full decode worker, or a prefill worker whose queue is at its bound.
            if worker == p.prefill { r.excludedPrefill.insert(p.prefill) } else { r.excludedDecode.insert(p.decode) }
            retryable = true
        case .workerLost:
            // A prefill worker could not reach the decode worker, or a decode worker saw the transfer stall.
            if worker == p.prefill { r.excludedDecode.insert(p.decode) } else { r.excludedPrefill.insert(p.prefill) }
            retryable = true
        default:
            retryable = false
        }
        guard retryable && r.attempts < configuration.maxAttempts && r.forwardedTokens == 0 else {
            return fail(id, e)
        }
        cancelOnWorkers(p, requestID: id, reason: "retrying after \(label)")
        enqueue(&r)
        place(id)
        // BUSY with no decode worker left to try: the client hears BUSY now, not at its deadline.
        if e.code == .busy, let again = requests[id], again.phase.isWaiting,
           !registry.hasDecode(excluding: again.excludedDecode) {
            fail(id, ErrorReport(requestID: id, code: .busy, message: e.message, workerID: e.workerID))
        }
    }

    /// Drops a worker and re-places every request it was serving: a lost prefill worker's request is
    /// retried on another prefill worker (the decode worker discards the old attempt's partial KV
    /// when the new attempt's KVBegin arrives); a lost decode worker's request is prefilled again
    /// on another pair. The worker is excluded only for those requests: if it registers again,
    /// new requests are placed on it.
    mutating func workerLost(_ workerID: UInt64, reason: String) {
        guard let w = registry.remove(workerID) else { return }
        log("worker \(workerID) lost: \(reason)")
        decisions.append(.dropWorker(workerID, reason: reason))
        let affected = requests.values.filter { $0.phase.placement?.involves(workerID) == true }
            .sorted { $0.arrival < $1.arrival }
        for r in affected {
            guard let p = r.phase.placement else { continue }
            var updated = r
            if p.decode == workerID {
                updated.excludedDecode.insert(workerID)
                if case .prefilling = r.phase, let prefill = registry[p.prefill] {
                    decisions.append(.cancel(Cancel(requestID: r.id, reason: "decode worker lost"),
                                             worker: prefill.id, address: prefill.address))
                }
            } else {
                updated.excludedPrefill.insert(workerID)
                if case .decoding = r.phase { continue }   // the KV already arrived; decoding goes on
            }
            enqueue(&updated)
            log("request \(r.id): re-placing after losing \(w.roleLabel) worker \(workerID)")
            place(r.id)
        }
    }

    /// Answers the client with `error`, tells the workers to drop the request, forgets it.
    mutating func fail(_ id: UInt64, _ error: ErrorReport, tellClient: Bool = true) {
        guard let r = forget(id) else { return }
        var error = error
        if error.code != .deadlineExceeded && error.code != .cancelled && now.unixMillis > r.deadlineUnixMillis {
            // The deadline is what the client asked about; the proximate cause goes in the message.
            error = ErrorReport(requestID: id, code: .deadlineExceeded,
                                message: "deadline of \(r.timeoutMillis) ms passed (last failure: \(error.code.label): \(error.message))",
                                workerID: error.workerID)
        }
        if let p = r.phase.placement { cancelOnWorkers(p, requestID: id, reason: error.code.label) }
        log("request \(id): failed: \(error.code.label): \(error.message)")
        if tellClient { reply(.error(error), to: r.client) }
    }

    mutating func cancelOnWorkers(_ p: Placement, requestID: UInt64, reason: String) {
        for id in [p.prefill, p.decode] {
            if let w = registry[id] {
                decisions.append(.cancel(Cancel(requestID: requestID, reason: reason), worker: id, address: w.address))
            }
        }
    }

    /// Every request past its deadline, waiting or running, ends with DEADLINE_EXCEEDED.
    mutating func expireDeadlines() {
        let late = requests.values.filter { now.unixMillis > $0.deadlineUnixMillis }.sorted { $0.arrival < $1.arrival }
        for r in late {
            fail(r.id, ErrorReport(requestID: r.id, code: .deadlineExceeded,
                                   message: "deadline of \(r.timeoutMillis) ms passed while \(r.phase.label)"))
        }
    }

    mutating func dropSilentWorkers() {
        for id in registry.silent(longerThan: configuration.workerTimeout, now: now.monotonic) {
            workerLost(id, reason: "no heartbeat for \(configuration.workerTimeout)")
        }
    }
}
