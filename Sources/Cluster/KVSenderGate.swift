import Transport
import Wire

/// Which KV transfers a decode worker accepts (issue 11): with CURVE, a KVBegin for (request,
/// attempt) only from the prefill worker the coordinator assigned — its worker id in KVBegin, and the
/// key it registered with as the connection's authenticated identity. The coordinator announces each
/// assignment with a `KVExpect` just before the prefill worker gets its Assignment; a KVBegin that
/// overtakes its KVExpect (they travel different paths) waits for it (`wait`), bounded by the caller.
///
/// Without CURVE nothing is enforced [port]: plain links are loopback-only, and the sender's
/// identity is unauthenticated there anyway; the worker id alone would be a claim, not a check.
public struct KVSenderGate: Sendable {
    public enum Verdict: Sendable, Equatable {
        case accept
        /// No expectation for this (request, attempt) yet: hold the transfer until one arrives.
        case wait
        case refuse(String)
    }

    public let enforced: Bool
    /// Expectations kept at most; the oldest go first beyond it.
    public var capacity = 8192
    private var expected: [UInt64: (expect: KVExpect, order: UInt64)] = [:]
    private var nextOrder: UInt64 = 0

    public init(enforced: Bool) { self.enforced = enforced }

    /// Records the coordinator's announcement; an older attempt's never replaces a newer one's.
    public mutating func expect(_ e: KVExpect) {
        guard enforced else { return }
        if let old = expected[e.requestID], old.expect.attempt > e.attempt { return }
        if expected[e.requestID] == nil, expected.count >= capacity,
           let oldest = expected.min(by: { $0.value.order < $1.value.order })?.key {
            expected.removeValue(forKey: oldest)
        }
        expected[e.requestID] = (e, nextOrder)
        nextOrder += 1
    }

    public mutating func forget(_ requestID: UInt64) { expected.removeValue(forKey: requestID) }

    public var count: Int { expected.count }

    public func verdict(for begin: KVBegin, sender: PeerIdentity?) -> Verdict {
        guard enforced else { return .accept }
        guard let e = expected[begin.requestID]?.expect else { return .wait }
        let what = "KV for request \(begin.requestID) attempt \(begin.attempt)"
        if begin.attempt < e.attempt {
            return .refuse("\(what) is stale: the coordinator assigned attempt \(e.attempt) to prefill worker \(e.prefillWorkerID)")
        }
        if begin.attempt > e.attempt { return .wait }
        guard begin.prefillWorkerID == e.prefillWorkerID else {
            return .refuse("\(what) is assigned to prefill worker \(e.prefillWorkerID), not to worker \(begin.prefillWorkerID)")
        }
        guard let key = e.prefillKey, sender?.publicKey == key else {
            let over = sender.map { "\($0)" } ?? "no key"
            return .refuse("\(what) arrived over \(over), not the key prefill worker \(e.prefillWorkerID) registered with")
        }
        return .accept
    }
}
