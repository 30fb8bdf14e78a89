import Wire

/// A client's Submit after the edge has parsed and checked it: tokenized, knobs resolved to their
/// defaults and validated, the KV it will reserve computed. The scheduler takes it as given.
///
/// The knobs travel inside `work`, an `Assignment` with everything but the placement filled in, so
/// the scheduler never names a sampling or compression type: it only counts `work.tokenIDs` and
/// sets the fields that depend on the placement (decode worker, attempt, deadline, streaming).
public struct SchedulerSubmission: Sendable, Hashable {
    public var client: PeerAddress
    /// `requestID`, `tokenIDs`, `sampling`, `compression` and `wireDType` are final; the scheduler
    /// overwrites `decodeWorkerID`, `decodeKVEndpoint`, `deadlineUnixMillis`, `stream` and `attempt`.
    public var work: Assignment
    /// The bytes a decode worker holding f32 KV reserves for this request (its KV plan plus the
    /// decode steps, 4 bytes per element), as the caller computed them; placement scales them to
    /// each worker's KV element size (`WorkerEntry.kvBytes(atF32:)`: half on an f16 worker) and
    /// subtracts that from the chosen worker's free memory.
    public var reservedKVBytes: Int
    /// Relative to arrival; the scheduler turns it into the absolute deadline.
    public var timeout: Duration
    /// The client asked for `TokenChunk`s. (Workers always stream to the coordinator, so retries
    /// can tell which tokens the client already has.)
    public var stream: Bool
    /// A few words about the knobs for the acceptance log line (e.g. the compression method).
    public var summary: String

    public init(client: PeerAddress, work: Assignment, reservedKVBytes: Int, timeout: Duration, stream: Bool,
                summary: String = "") {
        self.client = client
        self.work = work
        self.reservedKVBytes = reservedKVBytes
        self.timeout = timeout
        self.stream = stream
        self.summary = summary
    }

    public var requestID: UInt64 { work.requestID }
}
