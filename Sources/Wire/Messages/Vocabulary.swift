// The cluster's own closed sets (the request knobs' enums live in RequestVocabulary). Each maps to
// a proto enum whose 0 is UNSPECIFIED; that value never appears here: a field that may be unset is
// an Optional, and a required one arriving as UNSPECIFIED is a `WireError.missingField`.

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
