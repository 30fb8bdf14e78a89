import Wire

/// What the scheduler wants done, in order. The front end performs each one (sends a message,
/// writes a log line) and reports a failed send back as an event (`assignmentUndeliverable`,
/// `clientUnreachable`).
public enum SchedulerDecision: Sendable, Hashable {
    /// Send `assignment` to prefill worker `prefill` at `address`. The decode worker and the attempt
    /// are in the Assignment (`decodeWorkerID`, `attempt`).
    case assign(Assignment, prefill: UInt64, address: PeerAddress)
    /// Tell worker `worker` at `address` to drop `cancel.requestID`.
    case cancel(Cancel, worker: UInt64, address: PeerAddress)
    /// Answer a client.
    case reply(Reply, to: PeerAddress)
    /// The scheduler forgot this worker (silent, unreachable, or lost); nothing needs sending: its
    /// next heartbeat finds it unregistered and it registers again.
    case dropWorker(UInt64, reason: String)
    /// One line for the role's log.
    case log(String)

    public enum Reply: Sendable, Hashable {
        case tokenChunk(TokenChunk)
        case result(RequestResult)
        case error(ErrorReport)

        public var requestID: UInt64? {
            switch self {
            case .tokenChunk(let c): c.requestID
            case .result(let r): r.requestID
            case .error(let e): e.requestID
            }
        }

        public var message: Message {
            switch self {
            case .tokenChunk(let c): .tokenChunk(c)
            case .result(let r): .result(r)
            case .error(let e): .error(e)
            }
        }
    }
}
