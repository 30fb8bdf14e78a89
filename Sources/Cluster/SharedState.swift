import Synchronization
import Transport

/// Request ids that were cancelled, shared by a worker's I/O thread (which learns of cancels) and its
/// compute thread (which stops work between layers or decode steps).
public final class CancelledRequests: Sendable {
    private struct State { var ids: [UInt64: String] = [:]; var generation = 0; var everything = "" }
    private let state = Mutex(State())

    public init() {}

    public func cancel(_ id: UInt64, reason: String) { state.withLock { $0.ids[id] = reason } }
    public func forget(_ id: UInt64) { _ = state.withLock { $0.ids.removeValue(forKey: id) } }

    /// Why the sequence of request `id`, installed in `generation`, must stop (nil: it goes on).
    public func reason(_ id: UInt64, generation: Int) -> String? {
        state.withLock { s in s.ids[id] ?? (generation < s.generation ? s.everything : nil) }
    }

    /// Every sequence installed so far must stop (the coordinator forgot this worker): sequences
    /// installed from now on carry the new `generation` and are unaffected.
    public func cancelEverything(reason: String) {
        state.withLock { s in
            s.generation += 1
            s.everything = reason
            s.ids = [:]
        }
    }

    /// Stamped on a sequence when it is installed.
    public var generation: Int { state.withLock { $0.generation } }
}

/// The prefill attempts a worker knows of, for cancelling exactly the right one. Cancel messages
/// name only the request, but the coordinator always cancels an attempt before it assigns the next
/// one (on the same connection, so in that order), so a Cancel applies to the attempts known when it
/// arrives, and a newer Assignment supersedes every older attempt of its request. Each attempt has a
/// StopSignal that also interrupts a send blocked on a dead decode worker.
public final class PrefillAttempts: Sendable {
    private struct Attempt { let stop = StopSignal(); var reason: String? }
    private let attempts = Mutex<[UInt64: [Int: Attempt]]>([:])

    public init() {}

    /// A new attempt arrived (I/O thread): older attempts of the request are superseded.
    public func register(_ requestID: UInt64, attempt: Int) {
        attempts.withLock { all in
            var known = all[requestID] ?? [:]
            for (k, var a) in known where k < attempt && a.reason == nil {
                a.reason = "superseded by attempt \(attempt)"
                a.stop.stop()
                known[k] = a
            }
            known[attempt] = Attempt()
            all[requestID] = known
        }
    }

    /// A Cancel arrived (I/O thread): every attempt of the request known now stops.
    public func cancel(_ requestID: UInt64, reason: String) {
        attempts.withLock { all in
            guard var known = all[requestID] else { return }
            for (k, var a) in known where a.reason == nil {
                a.reason = reason
                a.stop.stop()
                known[k] = a
            }
            all[requestID] = known
        }
    }

    /// Every attempt known now stops (the coordinator forgot this worker, or it is leaving).
    public func cancelAll(reason: String) {
        let ids = attempts.withLock { Array($0.keys) }
        for id in ids { cancel(id, reason: reason) }
    }

    public func reason(_ requestID: UInt64, attempt: Int) -> String? {
        attempts.withLock { $0[requestID]?[attempt]?.reason }
    }

    /// Raised when the attempt is cancelled or superseded (pass it to blocking sends).
    public func stopSignal(_ requestID: UInt64, attempt: Int) -> StopSignal {
        attempts.withLock { $0[requestID]?[attempt]?.stop } ?? StopSignal()
    }

    /// The attempt ended (compute thread).
    public func finish(_ requestID: UInt64, attempt: Int) {
        attempts.withLock { all in
            all[requestID]?[attempt] = nil
            if all[requestID]?.isEmpty == true { all[requestID] = nil }
        }
    }
}

/// A worker's load figures for heartbeats: written by the compute side, read by the I/O side.
public final class WorkerLoad: Sendable {
    private struct State { var queuedPromptTokens = 0; var activeSequences = 0; var heldSequences = 0 }
    private let state = Mutex(State())

    public init() {}

    public func addQueued(_ tokens: Int) { state.withLock { $0.queuedPromptTokens += tokens } }
    public func removeQueued(_ tokens: Int) { state.withLock { $0.queuedPromptTokens = max(0, $0.queuedPromptTokens - tokens) } }
    public func setActive(_ n: Int) { state.withLock { $0.activeSequences = n } }
    public var queuedPromptTokens: Int { state.withLock { $0.queuedPromptTokens } }
    public var activeSequences: Int { state.withLock { $0.activeSequences } }

    /// Decode workers: sequences installed and not yet ended, counted by the thread that installs
    /// them (on push) and the one that ends them, so "nothing held" has no window between the
    /// inbox and the batch (a draining worker must not leave with a sequence in between).
    public func sequenceInstalled() { state.withLock { $0.heldSequences += 1 } }
    public func sequenceEnded() { state.withLock { $0.heldSequences = max(0, $0.heldSequences - 1) } }
    public var heldSequences: Int { state.withLock { $0.heldSequences } }
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
