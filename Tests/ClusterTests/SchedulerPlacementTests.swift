import Cluster
import RequestVocabulary
import Testing
import Wire

/// Where the scheduler puts work: prefill on the fewest queued prompt tokens, decode on the most
/// free KV, both counting what it assigned that is still prefilling; waiting requests in arrival
/// order. No processes: `SchedulerHarness` feeds events and reads the decisions.
@Suite("Scheduler placement")
struct SchedulerPlacementTests {
    @Test("prefill goes to the worker with the fewest queued prompt tokens, counting pending assignments")
    func prefillOnFewestQueuedTokens() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(9)
        h.heartbeat(1, queuedTokens: 100)
        h.heartbeat(2, queuedTokens: 10)
        // P2: 10 → 60 → 110 queued with the pending 50-token prompts; the third goes to P1 (100).
        let placed = [1, 2, 3].flatMap { h.submit($0, tokens: 50).assignments.map(\.prefill) }
        #expect(placed == [2, 2, 1])
    }

    @Test("decode goes to the worker with the most free KV, counting the bytes of pending assignments")
    func decodeOnMostFreeKV() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(8)
        h.registerDecode(9)
        h.heartbeat(8, freeKV: 1000)
        h.heartbeat(9, freeKV: 800)
        // D8: 1000 → 700 after the first; D9: 800 → 500 after the second; the third fits D8 best.
        let placed = [1, 2, 3].flatMap { h.submit($0, reservedKVBytes: 300).assignments.map(\.decode) }
        #expect(placed == [8, 9, 8])
    }

    @Test("an f16 decode worker is charged half a request's f32 reservation, and compared by the KV it holds")
    func f16WorkerReservesHalf() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(8, capacity: 600)                          // f32: 600 bytes hold 600 of f32 KV
        h.registerDecode(9, capacity: 700, kvBytesPerElement: 2)    // f16: 700 bytes hold 1400 of f32 KV
        // 1000 f32 bytes fit only D9 (500 of its bytes); then 1000 more fits nowhere (D9 has 200).
        #expect(h.submit(1, reservedKVBytes: 1000).assignments.map(\.decode) == [9])
        #expect(h.submit(2, reservedKVBytes: 1000).assignments.isEmpty, "D9 has 200 bytes = 400 of f32 KV left")
        // 400 f32 bytes: D8 has 600 free, D9 200 bytes = 400 at f32; D8 holds more and is picked.
        #expect(h.submit(3, reservedKVBytes: 400).assignments.map(\.decode) == [8])
        // 400 more: D8 has 200, D9 exactly 400 at f32 (200 bytes).
        #expect(h.submit(4, reservedKVBytes: 400).assignments.map(\.decode) == [9])
        // Admission compares with capacity at f32: D9's 700 bytes are 1400; 1500 is refused at once.
        var a = SchedulerHarness()
        a.registerPrefill(1)
        a.registerDecode(9, capacity: 700, kvBytesPerElement: 2)
        #expect(a.submit(1, reservedKVBytes: 1400).errorReplies.isEmpty)
        #expect(a.submit(2, reservedKVBytes: 1500).errorReplies.map(\.code) == [.busy])
    }

    @Test("ties go to the lower worker id; degraded or draining workers get no new work")
    func tiesAndHealth() {
        var h = SchedulerHarness()
        h.registerPrefill(2)
        h.registerPrefill(1)
        h.registerDecode(5)
        h.registerDecode(4)
        #expect(h.submit(1).assignments == [Assigned(request: 1, prefill: 1, decode: 4, attempt: 0)])
        // Were health ignored, the load would still pick P1 and D4.
        h.heartbeat(1, queuedTokens: 0, health: .degraded)
        h.heartbeat(2, queuedTokens: 100)
        h.heartbeat(4, health: .draining)
        h.heartbeat(5, freeKV: 5000)
        #expect(h.submit(2).assignments == [Assigned(request: 2, prefill: 2, decode: 5, attempt: 0)])
    }

    @Test("the Assignment keeps the parsed work and carries the placement, the absolute deadline and streaming")
    func assignmentContents() throws {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        let submitted = h.now
        let decisions = h.submit(7, tokens: 5, timeout: .seconds(2), stream: false)
        #expect(decisions.assignmentAddresses == [SchedulerHarness.address(of: 1)])
        let a = try #require(decisions.assignmentMessages.first)
        #expect(a.requestID == 7)
        #expect(a.tokenIDs == [0, 1, 2, 3, 4])
        #expect(a.sampling == SchedulerHarness.sampling)
        #expect(a.decodeWorkerID == 2)
        #expect(a.decodeKVEndpoint == "tcp://127.0.0.1:8002")
        #expect(a.deadlineUnixMillis == submitted.unixMillis + 2000)
        #expect(a.stream, "workers always stream, so a retry can tell which tokens the client has")
        #expect(a.attempt == 0)
    }

    @Test("waiting requests are placed in arrival order once workers appear (register alone places nothing)")
    func waitingQueueIsFIFO() {
        var h = SchedulerHarness()
        for id: UInt64 in [5, 3, 9, 1, 7] { #expect(h.submit(id).assignments.isEmpty) }
        #expect(h.scheduler.waitingRequestIDs == [5, 3, 9, 1, 7])
        #expect(h.registerPrefill(1).assignments.isEmpty)
        #expect(h.registerDecode(2).assignments.isEmpty)
        #expect(h.send(.tick).assignments.map(\.request) == [5, 3, 9, 1, 7])
        #expect(h.scheduler.waitingRequestIDs.isEmpty)
    }

    @Test("a request re-queued after a failure goes back to its arrival position, ahead of later arrivals")
    func requeuedRequestKeepsItsPlace() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        #expect(h.submit(1).assignments.count == 1)
        h.heartbeat(2, health: .degraded)
        h.submit(2)
        h.submit(3)
        #expect(h.scheduler.waitingRequestIDs == [2, 3])
        h.send(.workerLost(2, reason: "test"))
        #expect(h.scheduler.waitingRequestIDs == [1, 2, 3])
        #expect(h.scheduler.phase(of: 1)?.isWaiting == true)
    }

    @Test("a waiting request that cannot be placed does not block the ones behind it")
    func noHeadOfLineBlocking() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1)
        // The prefill worker could not reach D2: request 1 excludes D2 and has no decode worker left.
        h.error(1, .workerLost, from: 1)
        #expect(h.scheduler.waitingRequestIDs == [1])
        #expect(h.submit(2).assignments == [Assigned(request: 2, prefill: 1, decode: 2, attempt: 0)])
        #expect(h.scheduler.waitingRequestIDs == [1])
    }

    @Test("the worker table follows registrations: lookups by address, replacement on re-register")
    func registryFollowsRegistrations() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == 1)
        #expect(h.scheduler.worker(at: PeerAddress("stranger")) == nil)
        // The same worker id registers again from a new connection: the old address is forgotten.
        h.send(.register(SchedulerHarness.registration(1, role: .prefill, capacity: 0), from: PeerAddress("new")))
        #expect(h.scheduler.worker(at: PeerAddress("new")) == 1)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == nil)
        #expect(h.scheduler.workerStatus(at: h.now).map(\.workerID) == [1])
        h.registerDecode(2)
        #expect(h.submit(1).assignmentAddresses == [PeerAddress("new")])
    }
}
