/// The requests waiting for a placement, in arrival order (first come, first placed).
///
/// Explicit rather than "scan the request map for waiting ones" so the order is a stated rule and
/// the queue's length is known at admission (the bound in `Scheduler.Configuration`). A request
/// re-queued after a failure goes back to its arrival position, not to the end: it has waited
/// longest. Dispatch is not head-of-line blocking: a request that cannot be placed (say, every
/// decode worker is excluded for it) is skipped and the ones behind it are tried.
///
/// Round robin across clients (issue 11) belongs here: `inDispatchOrder` can interleave per-client
/// queues without the scheduler changing.
struct WaitingQueue: Sendable {
    private struct Entry: Sendable {
        let arrival: UInt64
        let requestID: UInt64
    }

    /// Sorted by `arrival`, ascending. Bounded by the scheduler's admission limits, so the linear
    /// insert and remove stay cheap.
    private var entries: [Entry] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Adds a request at its arrival position; a request already queued is not added twice.
    mutating func insert(_ requestID: UInt64, arrival: UInt64) {
        guard !entries.contains(where: { $0.requestID == requestID }) else { return }
        let at = entries.firstIndex { $0.arrival > arrival } ?? entries.endIndex
        entries.insert(Entry(arrival: arrival, requestID: requestID), at: at)
    }

    mutating func remove(_ requestID: UInt64) {
        entries.removeAll { $0.requestID == requestID }
    }

    func contains(_ requestID: UInt64) -> Bool { entries.contains { $0.requestID == requestID } }

    /// The order in which dispatch tries the waiting requests.
    var inDispatchOrder: [UInt64] { entries.map(\.requestID) }
}
