// The small closed sets the schema names. Each maps to a proto enum whose 0 is UNSPECIFIED; that
// value never appears here: a field that may be unset is an Optional, and a required one arriving
// as UNSPECIFIED is a `WireError.missingField`.

/// What a process does in the cluster.
public enum Role: Sendable, Hashable, CaseIterable {
    case coordinator, prefill, decode, client
}

/// How a worker reports itself (and how the coordinator reports a worker it has stopped hearing from).
public enum Health: Sendable, Hashable, CaseIterable {
    case ok
    case degraded
    /// Finishing its work, taking no new requests.
    case draining
    /// Missed its heartbeats; only the coordinator says this about a worker.
    case lost
}

/// Which KV compression a request asks for.
public enum CompressionMethod: Sendable, Hashable, CaseIterable {
    /// No eviction: the whole prompt's KV.
    case full
    /// Token-Selective Propagation + GQA-aware selection (arXiv 2502.01068).
    case fastKV
    case snapKV
    case streamingLLM
    case gemFilter
}

/// Pooling of observation-window attention scores before top-k selection.
public enum Pooling: Sendable, Hashable, CaseIterable {
    case max, avg
}

/// Why a request failed; carried by `ErrorReport`.
public enum ErrorCode: Sendable, Hashable, CaseIterable {
    case badRequest
    case busy
    case deadlineExceeded
    case workerLost
    case modelMismatch
    case malformed
    case `internal`
    case cancelled
}

/// Why decoding stopped.
public enum FinishReason: Sendable, Hashable, CaseIterable {
    case endOfSequence
    case stopString
    case maxTokens
}
