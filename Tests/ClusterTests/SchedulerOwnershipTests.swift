import Cluster
import Testing
import Wire

/// Who owns a worker id (issue 11): with CURVE, the key that registered it; without, today's rule.
@Suite("Scheduler: worker-id ownership")
struct SchedulerOwnershipTests {
    static let realKey = String(repeating: "a", count: 40)
    static let otherKey = String(repeating: "b", count: 40)

    @Test("with CURVE a live id belongs to its key: another key's Register is refused and the live worker keeps serving")
    func hijackFromAnotherKeyRefused() {
        var h = SchedulerHarness()
        h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: SchedulerHarness.address(of: 1),
                         identity: Self.realKey))
        h.registerDecode(2)
        let thief = PeerAddress("thief")
        let out = h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: thief,
                                   identity: Self.otherKey))
        // The thief is told why, by an error reply to its own address; nothing else changes.
        #expect(out.errorReplies.count == 1)
        #expect(out.replies.map(\.1) == [thief])
        #expect(out.errorReplies.first?.code == .badRequest)
        #expect(out.errorReplies.first?.message.contains("registered by another key") == true)
        #expect(h.scheduler.worker(at: thief) == nil)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == 1)
        #expect(h.scheduler.identity(ofWorker: 1) == Self.realKey)
        // Work still goes to the real worker's connection.
        #expect(h.submit(7).assignmentAddresses == [SchedulerHarness.address(of: 1)])
    }

    @Test("a keyless Register cannot take an id a key owns, nor a key an id registered without one")
    func keyAndNoKeyDoNotMix() {
        var h = SchedulerHarness()
        h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: SchedulerHarness.address(of: 1),
                         identity: Self.realKey))
        #expect(h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: PeerAddress("x"))).errorReplies.count == 1)
        h.registerPrefill(3)
        #expect(h.send(.register(SchedulerHarness.registration(3, role: .prefill, capacity: 0), from: PeerAddress("y"),
                                 identity: Self.otherKey)).errorReplies.count == 1)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == 1)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 3)) == 3)
    }

    @Test("the owner may register its id again, from a new connection (a restarted worker with the same key)")
    func ownerReRegisters() {
        var h = SchedulerHarness()
        h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: SchedulerHarness.address(of: 1),
                         identity: Self.realKey))
        let out = h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: PeerAddress("new"),
                                   identity: Self.realKey))
        #expect(out.errorReplies.isEmpty)
        #expect(h.scheduler.worker(at: PeerAddress("new")) == 1)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == nil)
    }

    @Test("after the owner is dropped (silent), the id is free for another key")
    func idFreedWhenOwnerDropped() {
        var h = SchedulerHarness()
        h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: SchedulerHarness.address(of: 1),
                         identity: Self.realKey))
        h.advance(.seconds(10))
        h.send(.tick)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == nil)
        let out = h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: PeerAddress("new"),
                                   identity: Self.otherKey))
        #expect(out.errorReplies.isEmpty)
        #expect(h.scheduler.identity(ofWorker: 1) == Self.otherKey)
    }

    @Test("without CURVE (no identities) a second Register of a live id replaces the first, from any connection")
    func withoutCurveReplacementStays() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        let out = h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: PeerAddress("new")))
        #expect(out.errorReplies.isEmpty)
        #expect(h.scheduler.worker(at: PeerAddress("new")) == 1)
    }

    @Test("the Assignment names the decode worker's registered key, so the KV link authenticates it")
    func assignmentCarriesDecodeKey() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.send(.register(SchedulerHarness.registration(2, role: .decode, capacity: 1 << 30), from: SchedulerHarness.address(of: 2),
                         identity: Self.otherKey))
        #expect(h.submit(5).assignmentMessages.map(\.decodeKVServerKey) == [Self.otherKey])
    }
}
