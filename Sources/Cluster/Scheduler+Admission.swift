import RequestVocabulary
import Wire

// Admission: which Submits are refused BUSY at once, before any compute, and with what retry-after.

extension Scheduler {
    /// The BUSY report for a Submit the cluster should not take, or nil to admit it. In order:
    /// the coordinator's bounds (requests held, requests waiting); a request larger than any decode
    /// worker's whole KV capacity (waiting cannot help it, so no retry-after); a request whose
    /// deadline the queue ahead of it would eat at the cluster's measured saturated rate.
    func admissionRefusal(_ s: SchedulerSubmission) -> ErrorReport? {
        let id = s.requestID
        func busy(_ text: String, retryAfter: Duration?) -> ErrorReport {
            ErrorReport(requestID: id, code: .busy, message: text, retryAfter: retryAfter)
        }
        let c = configuration
        if requests.count >= c.maxRequests || waiting.count >= c.maxWaitingRequests {
            let retry = drain.drainTime(of: max(1, waiting.count - c.maxWaitingRequests / 2), running: runningCount) ?? .seconds(1)
            return busy("the coordinator holds \(requests.count) requests, \(waiting.count) of them waiting (limits \(c.maxRequests) and \(c.maxWaitingRequests)); retry later",
                        retryAfter: clampRetry(retry))
        }
        if let text = tooLargeForEveryDecodeWorker(reservedKVBytes: s.reservedKVBytes) {
            return busy(text, retryAfter: nil)
        }
        if c.refuseWhatWouldMissItsDeadline, !waiting.isEmpty,
           let wait = drain.drainTime(of: waiting.ahead(of: s.client), running: runningCount), let service = drain.serviceTime {
            let budget = s.timeout - service
            if wait > budget {
                return busy("\(waiting.count) requests are waiting; at the cluster's recent rate the queue would take about \(wait.wholeMilliseconds) ms, and the request's timeout of \(s.timeout.wholeMilliseconds) ms leaves \(max(0, budget.wholeMilliseconds)) ms after its expected service time; retry later",
                            retryAfter: clampRetry(wait - max(.zero, budget)))
            }
        }
        return nil
    }

    var runningCount: Int { requests.count - waiting.count }

    /// Retry-after hints stay between half a second and a minute: a client told "0" retries at once
    /// into the same queue, one told "an hour" gives up on a cluster that recovers in seconds.
    private func clampRetry(_ d: Duration) -> Duration {
        min(.seconds(60), max(.milliseconds(500), d))
    }

    /// Why a request cannot be held by any registered decode worker, or nil when one could hold it
    /// (or the check is off): admission refuses it and placement fails it with this text.
    func tooLargeForEveryDecodeWorker(reservedKVBytes: Int) -> String? {
        guard configuration.refuseWhatNoDecodeWorkerCanHold, let largest = registry.largestDecodeCapacity,
              reservedKVBytes > largest else { return nil }
        return "the request needs \(reservedKVBytes) bytes of f32 KV; the largest decode worker holds \(largest) (in f32 bytes)"
    }
}
