/// The requests waiting for a placement: first come, first placed within each client, and round
/// robin across clients, so one client that submits a thousand requests cannot starve another that
/// submits one (issue 11 §3).
///
/// Explicit rather than "scan the request map for waiting ones" so the order is a stated rule and
/// the queue's length is known at admission (the bound in `Scheduler.Configuration`). A request
/// re-queued after a failure goes back to its arrival position, not to the end: it has waited
/// longest. Dispatch is not head-of-line blocking: a request that cannot be placed (say, every
/// decode worker is excluded for it, or none has room) is skipped and the ones behind it are tried.
///
/// Dispatch order: clients take turns, the client whose oldest waiting request arrived first going
/// first in each round; within a client, arrival order. With one client this is plain FIFO.
struct WaitingQueue: Sendable {
    private struct Entry: Sendable {
        let arrival: UInt64
        let requestID: UInt64
        let client: PeerAddress
    }

    /// Sorted by `arrival`, ascending. Bounded by the scheduler's admission limits, so the linear
    /// insert and remove stay cheap.
    private var entries: [Entry] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Adds a request at its arrival position; a request already queued is not added twice.
    mutating func insert(_ requestID: UInt64, arrival: UInt64, client: PeerAddress) {
        guard !entries.contains(where: { $0.requestID == requestID }) else { return }
        let at = entries.firstIndex { $0.arrival > arrival } ?? entries.endIndex
        entries.insert(Entry(arrival: arrival, requestID: requestID, client: client), at: at)
    }

    mutating func remove(_ requestID: UInt64) {
        entries.removeAll { $0.requestID == requestID }
    }

    func contains(_ requestID: UInt64) -> Bool { entries.contains { $0.requestID == requestID } }

    /// How many requests wait ahead of a new arrival from `client` in dispatch order: one round of
    /// every other client's requests per request of its own already waiting, plus its own.
    func ahead(of client: PeerAddress) -> Int {
        var perClient: [PeerAddress: Int] = [:]
        for e in entries { perClient[e.client, default: 0] += 1 }
        let own = perClient[client, default: 0]
        return perClient.reduce(0) { sum, kv in sum + (kv.key == client ? kv.value : min(kv.value, own + 1)) }
    }

    /// The order in which dispatch tries the waiting requests (see the type's comment).
    var inDispatchOrder: [UInt64] {
        var queues: [PeerAddress: [UInt64]] = [:]
        var clients: [PeerAddress] = []   // by their oldest waiting arrival, since entries are sorted
        for e in entries {
            if queues[e.client] == nil { clients.append(e.client) }
            queues[e.client, default: []].append(e.requestID)
        }
        var order: [UInt64] = []
        order.reserveCapacity(entries.count)
        var round = 0
        while order.count < entries.count {
            for c in clients {
                if let q = queues[c], round < q.count { order.append(q[round]) }
            }
            round += 1
        }
        return order
    }
}
