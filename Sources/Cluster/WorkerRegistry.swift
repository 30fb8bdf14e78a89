import Wire

/// Membership, liveness and the routing policy: prefill on the worker with the fewest queued prompt
/// tokens, decode on the worker with the most free KV memory — both counting the work the
/// scheduler has assigned that is still being prefilled (`pending…`). Ties go to the lower id, so
/// placement is deterministic. Only healthy (`.ok`) workers are placed on.
struct WorkerRegistry: Sendable {
    private(set) var workers: [UInt64: WorkerEntry] = [:]
    private var byAddress: [PeerAddress: UInt64] = [:]

    /// Adds a worker, replacing an entry with the same id (a worker that registers again).
    mutating func add(_ entry: WorkerEntry) {
        remove(entry.id)
        workers[entry.id] = entry
        byAddress[entry.address] = entry.id
    }

    @discardableResult
    mutating func remove(_ id: UInt64) -> WorkerEntry? {
        guard let e = workers.removeValue(forKey: id) else { return nil }
        if byAddress[e.address] == id { byAddress.removeValue(forKey: e.address) }
        return e
    }

    func worker(at address: PeerAddress) -> WorkerEntry? { byAddress[address].flatMap { workers[$0] } }

    subscript(id: UInt64) -> WorkerEntry? {
        get { workers[id] }
        set { workers[id] = newValue }
    }

    /// Counts every worker as heard from at `now` (after the coordinator's own pause).
    mutating func refreshHeartbeats(at now: Duration) {
        for id in workers.keys { workers[id]?.lastHeartbeat = now }
    }

    /// Workers whose last heartbeat is older than `timeout` at `now` (monotonic), lowest id first.
    func silent(longerThan timeout: Duration, now: Duration) -> [UInt64] {
        workers.values.filter { now - $0.lastHeartbeat > timeout }.map(\.id).sorted()
    }

    /// The healthy, not excluded prefill worker with the fewest queued prompt tokens (reported plus
    /// pending) among those holding fewer than `slots` assignments.
    func pickPrefill(excluding: Set<UInt64>, load: Scheduler.PendingLoad, slots: Int) -> WorkerEntry? {
        let pendingTokens = load.tokens
        return workers.values.filter {
            $0.role == .prefill && $0.health == .ok && !excluding.contains($0.id) && load.prefilling[$0.id, default: 0] < slots
        }
            .min { a, b in
                let la = a.queuedPromptTokens + pendingTokens[a.id, default: 0]
                let lb = b.queuedPromptTokens + pendingTokens[b.id, default: 0]
                return la != lb ? la < lb : a.id < b.id
            }
    }

    /// The healthy, not excluded decode worker with the most free KV that has room for `needingAtF32`
    /// bytes of f32 KV (scaled to its own KV element size) and a free sequence slot. Free KV is the
    /// smaller of what its last heartbeat reported minus the bytes of requests still prefilling
    /// towards it, and its capacity minus every request placed on it: the first sees reservations
    /// the coordinator no longer tracks (a cancelled request not yet released), the second is exact
    /// between heartbeats.
    func pickDecode(excluding: Set<UInt64>, needingAtF32: Int, load: Scheduler.PendingLoad) -> WorkerEntry? {
        func free(_ w: WorkerEntry) -> Int {
            min(w.freeKVBytes - load.bytes[w.id, default: 0], w.kvCapacityBytes - load.placedBytes[w.id, default: 0])
        }
        return workers.values.filter {
            $0.role == .decode && $0.health == .ok && !excluding.contains($0.id) && free($0) >= $0.kvBytes(atF32: needingAtF32)
                && load.placedSequences[$0.id, default: 0] < $0.maxSequences
        }
        .max { a, b in
            // Compared in f32 bytes: an f16 worker's free byte holds twice as much KV.
            let fa = a.f32Bytes(holdingIn: free(a)), fb = b.f32Bytes(holdingIn: free(b))
            return fa != fb ? fa < fb : a.id > b.id
        }
    }

    /// Whether any healthy decode worker not in `excluding` is registered, room or not.
    func hasDecode(excluding: Set<UInt64>) -> Bool {
        workers.values.contains { $0.role == .decode && $0.health == .ok && !excluding.contains($0.id) }
    }

    /// The largest KV capacity among decode workers, healthy or not (what could ever hold a
    /// request), in f32 bytes (an f16 worker holds twice its bytes' worth), nil when there is none.
    var largestDecodeCapacity: Int? {
        workers.values.filter { $0.role == .decode }.map(\.kvCapacityAtF32).max()
    }

    func status(now: Duration) -> [WorkerStatus] {
        workers.values.sorted { ($0.role == .prefill ? 0 : 1, $0.id) < ($1.role == .prefill ? 0 : 1, $1.id) }
            .map { w in
                WorkerStatus(workerID: w.id, role: w.role, controlEndpoint: w.controlEndpoint, kvEndpoint: w.kvEndpoint,
                             health: w.health, lastHeartbeatAge: now - w.lastHeartbeat,
                             queuedPromptTokens: w.queuedPromptTokens, freeKVBytes: w.freeKVBytes,
                             activeSequences: w.activeSequences, kvCapacityBytes: w.kvCapacityBytes)
            }
    }
}
