import Cluster
import Testing
import Transport
import Wire

/// A decode worker installs KV only from the prefill worker the coordinator assigned (issue 11).
@Suite("KVSenderGate: KV only from the assigned prefill worker")
struct KVSenderGateTests {
    static let key = String(repeating: "a", count: 40)
    static let otherKey = String(repeating: "b", count: 40)

    static func begin(_ request: UInt64, attempt: Int = 0, prefill: UInt64 = 7) -> KVBegin {
        KVBegin(requestID: request, model: ModelShape(fingerprint: [1], layerCount: 1, kvHeads: 1, headDim: 4),
                wireDType: .f16, promptLength: 4, entryCounts: [4], sampling: .greedy, compression: .full,
                deadlineUnixMillis: nil, prefillWorkerID: prefill, attempt: attempt)
    }

    static func expect(_ request: UInt64, attempt: Int = 0, prefill: UInt64 = 7, key: String? = key) -> KVExpect {
        KVExpect(requestID: request, attempt: attempt, prefillWorkerID: prefill, prefillKey: key)
    }

    static let assigned = PeerIdentity(publicKey: key)

    @Test("the assigned worker id over its registered key is accepted")
    func assignedAccepted() {
        var gate = KVSenderGate(enforced: true)
        gate.expect(Self.expect(1))
        #expect(gate.verdict(for: Self.begin(1), sender: Self.assigned) == .accept)
    }

    @Test("another key, no key, or another worker id for an assigned (request, attempt) is refused, naming the assignment")
    func wrongSenderRefused() {
        var gate = KVSenderGate(enforced: true)
        gate.expect(Self.expect(1))
        for (begin, sender) in [(Self.begin(1), PeerIdentity(publicKey: Self.otherKey)), (Self.begin(1), nil),
                                (Self.begin(1, prefill: 8), Self.assigned)] {
            guard case .refuse(let why) = gate.verdict(for: begin, sender: sender) else {
                Issue.record("accepted \(begin.prefillWorkerID) over \(String(describing: sender))")
                continue
            }
            #expect(why.contains("request 1 attempt 0") && why.contains("prefill worker 7"), "\(why)")
        }
    }

    @Test("KV for a request the coordinator has not announced waits; a stale attempt is refused, a newer one waits")
    func unannouncedWaitsStaleRefused() {
        var gate = KVSenderGate(enforced: true)
        #expect(gate.verdict(for: Self.begin(2), sender: Self.assigned) == .wait)
        gate.expect(Self.expect(2, attempt: 1))
        if case .refuse(let why) = gate.verdict(for: Self.begin(2, attempt: 0), sender: Self.assigned) {
            #expect(why.contains("stale"))
        } else { Issue.record("a stale attempt was not refused") }
        #expect(gate.verdict(for: Self.begin(2, attempt: 2), sender: Self.assigned) == .wait)
        // An older attempt's late KVExpect never replaces the newer one's.
        gate.expect(Self.expect(2, attempt: 0))
        #expect(gate.verdict(for: Self.begin(2, attempt: 1), sender: Self.assigned) == .accept)
        gate.forget(2)
        #expect(gate.verdict(for: Self.begin(2, attempt: 1), sender: Self.assigned) == .wait)
    }

    @Test("bounded: beyond capacity the oldest expectation goes")
    func bounded() {
        var gate = KVSenderGate(enforced: true)
        gate.capacity = 2
        for r in 1...3 as ClosedRange<UInt64> { gate.expect(Self.expect(r)) }
        #expect(gate.count == 2)
        #expect(gate.verdict(for: Self.begin(1), sender: Self.assigned) == .wait)
        #expect(gate.verdict(for: Self.begin(3), sender: Self.assigned) == .accept)
    }

    @Test("without CURVE nothing is enforced (plain links are loopback only)")
    func notEnforcedWithoutCurve() {
        var gate = KVSenderGate(enforced: false)
        gate.expect(Self.expect(1))
        #expect(gate.verdict(for: Self.begin(1, prefill: 9), sender: nil) == .accept)
        #expect(gate.verdict(for: Self.begin(5), sender: nil) == .accept)
    }
}
