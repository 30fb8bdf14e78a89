import Transport
import Wire

/// A registered worker as the coordinator tracks it.
struct WorkerEntry {
    let id: UInt64
    let role: Role
    let routingID: RoutingID
    let controlEndpoint: String
    let kvEndpoint: String
    let shape: ModelShape
    let kvCapacityBytes: Int
    var lastHeartbeat: ContinuousClock.Instant
    var queuedPromptTokens = 0
    var freeKVBytes: Int
    var activeSequences = 0
    var health: Health = .ok
}

/// Membership, liveness and the routing policy: prefill on the worker with the fewest queued prompt
/// tokens, decode on the worker with the most free KV memory — both counting the work the
/// coordinator has assigned since the worker's last heartbeat.
struct WorkerRegistry {
    private(set) var workers: [UInt64: WorkerEntry] = [:]
    private var byRoutingID: [RoutingID: UInt64] = [:]
    private let clock = ContinuousClock()

    mutating func add(_ entry: WorkerEntry) {
        workers[entry.id] = entry
        byRoutingID[entry.routingID] = entry.id
    }

    @discardableResult
    mutating func remove(_ id: UInt64) -> WorkerEntry? {
        guard let e = workers.removeValue(forKey: id) else { return nil }
        byRoutingID.removeValue(forKey: e.routingID)
        return e
    }

    func worker(routedAs peer: RoutingID) -> WorkerEntry? { byRoutingID[peer].flatMap { workers[$0] } }

    subscript(id: UInt64) -> WorkerEntry? {
        get { workers[id] }
        set { workers[id] = newValue }
    }

    /// Workers whose last heartbeat is older than `timeout`.
    func silent(longerThan timeout: Duration) -> [UInt64] {
        let now = clock.now
        return workers.values.filter { now - $0.lastHeartbeat > timeout }.map(\.id)
    }

    func pickPrefill(excluding: Set<UInt64>, pendingTokens: [UInt64: Int]) -> WorkerEntry? {
        workers.values.filter { $0.role == .prefill && $0.health == .ok && !excluding.contains($0.id) }
            .min { a, b in
                let la = a.queuedPromptTokens + pendingTokens[a.id, default: 0]
                let lb = b.queuedPromptTokens + pendingTokens[b.id, default: 0]
                return la != lb ? la < lb : a.id < b.id
            }
    }

    func pickDecode(excluding: Set<UInt64>, pendingBytes: [UInt64: Int]) -> WorkerEntry? {
        workers.values.filter { $0.role == .decode && $0.health == .ok && !excluding.contains($0.id) }
            .max { a, b in
                let fa = a.freeKVBytes - pendingBytes[a.id, default: 0]
                let fb = b.freeKVBytes - pendingBytes[b.id, default: 0]
                return fa != fb ? fa < fb : a.id > b.id
            }
    }

    func status() -> [WorkerStatus] {
        let now = clock.now
        return workers.values.sorted { ($0.role == .prefill ? 0 : 1, $0.id) < ($1.role == .prefill ? 0 : 1, $1.id) }
            .map { w in
                WorkerStatus(workerID: w.id, role: w.role, controlEndpoint: w.controlEndpoint, kvEndpoint: w.kvEndpoint,
                             health: w.health, lastHeartbeatAge: now - w.lastHeartbeat,
                             queuedPromptTokens: w.queuedPromptTokens, freeKVBytes: w.freeKVBytes,
                             activeSequences: w.activeSequences)
            }
    }
}
