import Wire

/// One client request held by the scheduler: the parsed work, the absolute deadline, and its
/// lifecycle (`phase`) with what its failures taught it (attempts used, workers excluded).
struct ScheduledRequest: Sendable {
    let id: UInt64
    let client: PeerAddress
    /// The Assignment template (see `SchedulerSubmission.work`).
    let work: Assignment
    let reservedKVBytes: Int
    let stream: Bool
    let deadlineUnixMillis: UInt64
    let receivedUnixMicros: UInt64
    /// Arrival order, the waiting queue's sort key: a request re-queued after a failure keeps its place.
    let arrival: UInt64
    var assignedUnixMicros: UInt64?
    var firstTokenUnixMicros: UInt64?
    var phase: RequestPhase
    /// Attempts used so far (placements made).
    var attempts = 0
    /// Workers that failed this request (BUSY, lost): never placed on again for this request, though
    /// other requests may use them (a worker that re-registers after a loss is placed on again).
    var excludedPrefill: Set<UInt64> = []
    var excludedDecode: Set<UInt64> = []
    /// Tokens already forwarded to the client: a re-placed attempt's repeats are not sent twice.
    var forwardedTokens = 0

    var promptTokenCount: Int { work.tokenIDs.count }

    /// The whole timeout the client was given, for messages.
    var timeoutMillis: UInt64 { deadlineUnixMillis &- receivedUnixMicros / 1000 }
}
