import RequestVocabulary
import Wire

/// Everything the cluster roles can fail with, each case carrying enough context for one log line.
public enum ClusterError: Error, Sendable, CustomStringConvertible {
    /// The coordinator (or a worker) answered with an `ErrorReport`.
    case remote(ErrorReport)
    /// No answer before the caller's deadline.
    case deadlineExceeded(operation: String, after: Duration)
    /// A request that cannot be served as asked (empty prompt, context overflow, bad knobs).
    case badRequest(String)
    /// A peer sent something this role does not expect at this point.
    case unexpectedMessage(kind: String, context: String)
    /// The KV plan announced in KVBegin disagrees with what prefill produced (a bug, not bad input).
    case planMismatch(layer: Int, planned: Int, produced: Int)
    /// The request was cancelled (by the coordinator, a deadline, or the client).
    case cancelled(requestID: UInt64, reason: String)
    /// A readiness wait ran out: not enough healthy workers registered (`last` says what was seen).
    case workersNotReady(after: Duration, last: String)
    /// The coordinator no longer holds the request (it restarted) or stopped answering while the
    /// client waited: the request is lost, and the client says so instead of waiting out its deadline.
    case coordinatorLost(requestID: UInt64, reason: String)
    /// A role's flags or key files do not make a usable (or a safe) configuration.
    case configuration(String)

    public var description: String {
        switch self {
        case .remote(let e):
            let who = e.workerID.map { "worker \($0)" } ?? "coordinator"
            let retry = e.retryAfter.map { " (retry after \($0.wholeMilliseconds) ms)" } ?? ""
            return "\(e.code.label) from \(who): \(e.message)\(retry)"
        case .deadlineExceeded(let op, let after): return "DEADLINE_EXCEEDED: \(op) got no answer within \(after)"
        case .badRequest(let m): return "BAD_REQUEST: \(m)"
        case .configuration(let m): return m
        case .unexpectedMessage(let kind, let context): return "unexpected \(kind) \(context)"
        case .planMismatch(let layer, let planned, let produced):
            return "KV plan mismatch at layer \(layer): announced \(planned) entries, prefill produced \(produced)"
        case .cancelled(let id, let reason): return "request \(id) cancelled: \(reason)"
        case .workersNotReady(let after, let last): return "workers not ready within \(after): \(last)"
        case .coordinatorLost(let id, let reason): return "COORDINATOR_LOST: request \(id): \(reason)"
        }
    }
}
