/// Why a request failed, as every role reports it (wire `ErrorReport`, CLI exit messages, HTTP).
public enum ErrorCode: String, Sendable, Hashable, CaseIterable {
    /// The request itself is invalid (knobs, prompt, lengths): retrying it cannot succeed.
    case badRequest = "bad_request"
    /// No capacity now: retry later.
    case busy
    case deadlineExceeded = "deadline_exceeded"
    /// A worker serving the request died or became unreachable, and no retry was left.
    case workerLost = "worker_lost"
    /// A peer runs another model or KV geometry.
    case modelMismatch = "model_mismatch"
    /// Bytes that do not decode (a broken or hostile peer).
    case malformed
    case `internal`
    case cancelled
    /// The coordinator is shutting down (or restarted and lost the request): retry the cluster later.
    case unavailable

    /// The proto spelling, which logs and client output print (what users grep for): BUSY, WORKER_LOST.
    public var label: String { rawValue.uppercased() }
}
