import Wire

/// A registered worker as the scheduler tracks it: who it is, where to reach it, and the load its
/// last heartbeat reported.
struct WorkerEntry: Sendable {
    let id: UInt64
    let role: Role
    let address: PeerAddress
    /// The authenticated key it registered with (CURVE), nil without CURVE: the owner of the id.
    let identity: String?
    let controlEndpoint: String
    let kvEndpoint: String
    let shape: ModelShape
    let kvCapacityBytes: Int
    /// Decode workers: the most sequences (in its batch plus being received) it takes at once.
    let maxSequences: Int
    /// On the scheduler's monotonic clock (`SchedulerTime.monotonic`).
    var lastHeartbeat: Duration
    var queuedPromptTokens = 0
    var freeKVBytes: Int
    var activeSequences = 0
    var health: Health = .ok

    var roleLabel: String { role == .prefill ? "prefill" : "decode" }
}
