import Wire

/// Everything that can change the scheduler's mind. The front end turns each incoming message (or
/// the passing of time, or a failed send) into one of these and hands it to `Scheduler.handle`.
///
/// Workers are named by id: the front end looks the sender up with `Scheduler.worker(at:)` first, so
/// a message from an unregistered peer never reaches here as a worker's.
public enum SchedulerEvent: Sendable, Hashable {
    /// A client's request, already parsed and validated at the edge.
    case submit(SchedulerSubmission)
    /// A worker (re-)registers; the front end checked its role and model. `identity` is the peer's
    /// authenticated key (the CURVE public key its ZAP handler admitted), nil on links without CURVE.
    /// A live worker id belongs to the identity that registered it: a registration of that id from
    /// another identity is refused and the live worker is unaffected. Without CURVE (both nil) a
    /// second registration of the same id replaces the first, from whatever connection.
    case register(Register, from: PeerAddress, identity: String? = nil)
    case heartbeat(Heartbeat, from: UInt64)
    /// The front end knows a worker is gone (e.g. its connection is unreachable).
    case workerLost(UInt64, reason: String)
    /// The worker says it is leaving (after SIGTERM): forget it now. `drained`: all its work is
    /// done (a prefill worker's KV is all sent, so its requests stay where they are).
    case deregister(UInt64, reason: String, drained: Bool)
    /// A streamed token chunk from a decode worker.
    case tokenChunk(TokenChunk, from: UInt64)
    case result(RequestResult, from: UInt64)
    /// A worker reports a failure. `attempt` is the attempt it was serving when the report says so
    /// (issue 11 puts it on the wire); nil falls back to "the reporter is in the current placement".
    case workerError(ErrorReport, from: UInt64, attempt: Int?)
    /// The client gives up on its request. Only the client that submitted it may cancel it.
    case cancel(requestID: UInt64, client: PeerAddress, reason: String)
    /// An Assignment could not be delivered to its prefill worker: that worker is lost and the attempt
    /// is placed again. (Naming the attempt, not only the worker, keeps this right when the worker
    /// was already dropped by an earlier failed send.)
    case assignmentUndeliverable(requestID: UInt64, attempt: Int, worker: UInt64)
    /// A reply could not be delivered to the request's client: the client went away, so the request
    /// is dropped without an answer.
    case clientUnreachable(requestID: UInt64)
    /// The coordinator stops: every held request fails UNAVAILABLE (clients told, workers cancelled).
    case shutdown(reason: String)
    /// Time passed: silent workers are dropped, deadlines expire, waiting requests are placed.
    case tick
}
