import RequestVocabulary
import Transport
import Wire

/// Which pair of workers serves one attempt of a request.
struct Placement: Sendable, Equatable {
    let prefill: UInt64
    let decode: UInt64
    /// 0 for the first try; every re-placement counts up.
    let attempt: Int
}

/// Where a request is in its life, as the coordinator sees it. Terminal states are reached by
/// answering the client (a `Result` or an `ErrorReport`, never silence) and dropping the record.
enum RequestPhase: Sendable, Equatable {
    /// Accepted, waiting for a prefill and a decode worker (none registered, or all excluded).
    case waiting(since: UInt64)
    /// The prefill worker has the Assignment and streams KV straight to the decode worker.
    case prefilling(Placement)
    /// The decode worker installed the KV and streams tokens; `forwarded` reached the client.
    case decoding(Placement, forwarded: Int)

    var placement: Placement? {
        switch self {
        case .waiting: nil
        case .prefilling(let p), .decoding(let p, _): p
        }
    }

    var label: String {
        switch self {
        case .waiting: "waiting for workers"
        case .prefilling(let p): "prefilling on \(p.prefill) for decode worker \(p.decode) (attempt \(p.attempt))"
        case .decoding(let p, let n): "decoding on \(p.decode) after \(n) tokens (attempt \(p.attempt))"
        }
    }
}

/// One client request held by the coordinator: the parsed work (token ids, resolved knobs, the
/// absolute deadline) and its lifecycle.
struct CoordinatorRequest {
    let id: UInt64
    let client: RoutingID
    let tokenIDs: [Int32]
    let sampling: SamplingParameters
    let compression: CompressionConfig
    let wireDType: WireDType
    let stream: Bool
    let deadlineUnixMillis: UInt64
    let receivedUnixMicros: UInt64
    var assignedUnixMicros: UInt64?
    var firstTokenUnixMicros: UInt64?
    var phase: RequestPhase
    /// Attempts used so far (placements made).
    var attempts = 0
    /// Workers that failed this request (BUSY, lost): never placed on again.
    var excludedPrefill: Set<UInt64> = []
    var excludedDecode: Set<UInt64> = []
    /// Tokens already forwarded to the client: a re-placed attempt's repeats are not sent twice.
    var forwardedTokens = 0
}
