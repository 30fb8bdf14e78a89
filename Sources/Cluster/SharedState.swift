import Synchronization

/// Request ids that were cancelled, shared by a worker's I/O thread (which learns of cancels) and its
/// compute thread (which stops work between layers or decode steps).
public final class CancelledRequests: Sendable {
    private let ids = Mutex<[UInt64: String]>([:])

    public init() {}

    public func cancel(_ id: UInt64, reason: String) { ids.withLock { $0[id] = reason } }
    public func reason(_ id: UInt64) -> String? { ids.withLock { $0[id] } }
    public func forget(_ id: UInt64) { _ = ids.withLock { $0.removeValue(forKey: id) } }
}

/// A worker's load figures for heartbeats: written by the compute side, read by the I/O side.
public final class WorkerLoad: Sendable {
    private struct State { var queuedPromptTokens = 0; var activeSequences = 0 }
    private let state = Mutex(State())

    public init() {}

    public func addQueued(_ tokens: Int) { state.withLock { $0.queuedPromptTokens += tokens } }
    public func removeQueued(_ tokens: Int) { state.withLock { $0.queuedPromptTokens = max(0, $0.queuedPromptTokens - tokens) } }
    public func setActive(_ n: Int) { state.withLock { $0.activeSequences = n } }
    public var queuedPromptTokens: Int { state.withLock { $0.queuedPromptTokens } }
    public var activeSequences: Int { state.withLock { $0.activeSequences } }
}

/// A decode worker's KV memory: reservations are taken from the exact size a KVBegin announces (at
/// the f32 install size, plus room for max_tokens decode steps) before anything is allocated, and
/// returned exactly once when the sequence ends however it ends.
public final class KVMemoryBudget: Sendable {
    public let capacityBytes: Int
    private let reserved = Mutex<[UInt64: Int]>([:])   // reservation id → bytes

    public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// Reserves `bytes` under `key`; false (nothing reserved) when it does not fit.
    public func reserve(_ bytes: Int, key: UInt64) -> Bool {
        reserved.withLock { r in
            let used = r.values.reduce(0, +)
            guard bytes <= capacityBytes - used, r[key] == nil else { return false }
            r[key] = bytes
            return true
        }
    }

    /// Releases the reservation under `key` (idempotent).
    public func release(key: UInt64) { _ = reserved.withLock { $0.removeValue(forKey: key) } }

    public var reservedBytes: Int { reserved.withLock { $0.values.reduce(0, +) } }
    public var freeBytes: Int { capacityBytes - reservedBytes }
    public var reservationCount: Int { reserved.withLock { $0.count } }
}
