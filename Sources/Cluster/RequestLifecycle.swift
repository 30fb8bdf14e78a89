/// Which pair of workers serves one attempt of a request.
public struct Placement: Sendable, Hashable {
    public let prefill: UInt64
    public let decode: UInt64
    /// 0 for the first try; every re-placement counts up. Travels in `Assignment.attempt`, so a worker
    /// (and, once reports carry it, the scheduler) can tell a stale attempt from the live one.
    public let attempt: Int

    public init(prefill: UInt64, decode: UInt64, attempt: Int) {
        self.prefill = prefill
        self.decode = decode
        self.attempt = attempt
    }

    func involves(_ worker: UInt64) -> Bool { prefill == worker || decode == worker }
}

/// Where a request is in its life, as the scheduler sees it. Terminal states are reached by
/// answering the client (a `Result` or an `ErrorReport`, never silence) and dropping the record.
public enum RequestPhase: Sendable, Hashable {
    /// Accepted and in the waiting queue, for a prefill and a decode worker (none registered, all
    /// excluded, or re-queued after a failure). `since` is Unix µs.
    case waiting(since: UInt64)
    /// The prefill worker has the Assignment and streams KV straight to the decode worker.
    case prefilling(Placement)
    /// The decode worker installed the KV and streams tokens; `forwarded` reached the client.
    case decoding(Placement, forwarded: Int)

    public var placement: Placement? {
        switch self {
        case .waiting: nil
        case .prefilling(let p), .decoding(let p, _): p
        }
    }

    public var isWaiting: Bool { if case .waiting = self { true } else { false } }

    var label: String {
        switch self {
        case .waiting: "waiting for workers"
        case .prefilling(let p): "prefilling on \(p.prefill) for decode worker \(p.decode) (attempt \(p.attempt))"
        case .decoding(let p, let n): "decoding on \(p.decode) after \(n) tokens (attempt \(p.attempt))"
        }
    }
}
