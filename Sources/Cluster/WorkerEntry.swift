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
    /// Bytes per KV element in its cache (4 for f32, 2 for f16), as it registered.
    let kvBytesPerElement: Int
    /// Decode workers: the most sequences (in its batch plus being received) it takes at once.
    let maxSequences: Int
    /// On the scheduler's monotonic clock (`SchedulerTime.monotonic`).
    var lastHeartbeat: Duration
    var queuedPromptTokens = 0
    var freeKVBytes: Int
    var activeSequences = 0
    var health: Health = .ok

    /// What a reservation of `bytes` at f32 (4 bytes per element) takes in this worker's cache.
    func kvBytes(atF32 bytes: Int) -> Int { (bytes + 3) / 4 * kvBytesPerElement }

    /// The f32 bytes that `bytes` of this worker's cache hold (twice as many on an f16 worker).
    func f32Bytes(holdingIn bytes: Int) -> Int { bytes / kvBytesPerElement * 4 }

    /// The capacity in the f32 bytes requests are reserved in.
    var kvCapacityAtF32: Int { f32Bytes(holdingIn: kvCapacityBytes) }

    var roleLabel: String { role == .prefill ? "prefill" : "decode" }
}
