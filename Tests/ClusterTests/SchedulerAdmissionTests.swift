import Cluster
import RequestVocabulary
import Testing
import Wire

/// Admission and backpressure (issue 11 §3): bounds answered BUSY with a retry-after, placement
/// that never promises a decode worker more KV or sequences than it has, refusal of what no
/// worker can hold, deadline-aware refusal at the measured drain rate, round robin across clients,
/// and the ways workers and the coordinator leave.
@Suite("Scheduler admission")
struct SchedulerAdmissionTests {
    @Test("a full waiting queue answers BUSY at once, with a retry-after")
    func queueBound() throws {
        var h = SchedulerHarness { $0.maxWaitingRequests = 2 }
        h.submit(1)
        h.submit(2)
        let refused = h.submit(3).errorReplies
        #expect(refused.map(\.code) == [.busy])
        #expect(refused.first?.retryAfter != nil, "BUSY must say when to retry")
        #expect(h.scheduler.requestCount == 2)
    }

    @Test("a request larger than every decode worker's capacity is refused BUSY before any compute")
    func tooBigForAnyWorker() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(9, capacity: 5000)
        let d = h.submit(1, reservedKVBytes: 6000)
        #expect(d.assignments.isEmpty)
        #expect(d.errorReplies.map(\.code) == [.busy])
        #expect(d.errorReplies.first?.message.contains("5000") == true)
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("placement counts every placed request's exact bytes: what does not fit waits, and is placed when KV frees")
    func placementRespectsCapacity() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(9, capacity: 1000)
        #expect(h.submit(1, reservedKVBytes: 600).assignments.count == 1)
        // Even a heartbeat claiming everything is free (taken before the reservation) cannot make
        // room: 600 are placed on D9 whatever it last said.
        h.heartbeat(9, freeKV: 1000)
        #expect(h.submit(2, reservedKVBytes: 600).assignments.isEmpty)
        #expect(h.scheduler.waitingRequestIDs == [2])
        h.chunk(1, from: 9, index: 0, tokens: [5])
        #expect(h.send(.tick).assignments.isEmpty, "request 1 is still decoding on D9")
        h.result(1, from: 9)
        #expect(h.send(.tick).assignments.map(\.request) == [2])
    }

    @Test("a prefill worker holds at most maxAssignmentsPerPrefillWorker assignments; the backlog waits in the coordinator")
    func prefillSlots() {
        var h = SchedulerHarness { $0.maxAssignmentsPerPrefillWorker = 2 }
        h.registerPrefill(1)
        h.registerDecode(9)
        let placed = (1...4).flatMap { h.submit(UInt64($0)).assignments.map(\.request) }
        #expect(placed == [1, 2])
        #expect(h.scheduler.waitingRequestIDs == [3, 4])
        // Request 1's first token means its prefill (and KV transfer) ended: a slot frees.
        h.chunk(1, from: 9, index: 0, tokens: [7])
        #expect(h.send(.tick).assignments.map(\.request) == [3])
    }

    @Test("a decode worker gets no more sequences than it registered")
    func sequenceSlots() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(9)   // maxSequences 8 in the harness
        let placed = (1...10).flatMap { h.submit(UInt64($0), reservedKVBytes: 10).assignments }
        #expect(placed.count == 8)
        #expect(h.scheduler.waitingRequestIDs == [9, 10])
    }

    @Test("once the drain rate is known, a request the queue would make miss its deadline is refused BUSY with a retry-after")
    func deadlineAwareRefusal() throws {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(9)   // 8 sequence slots
        // Saturate: 8 running, 4 waiting. Finish one per second while others wait.
        for id in 1...12 { h.submit(UInt64(id), reservedKVBytes: 10, timeout: .seconds(600)) }
        #expect(h.scheduler.waitingCount == 4)
        var next: UInt64 = 100
        for id in 1...6 {
            h.advance(.seconds(1))
            h.result(UInt64(id), from: 9)
            h.send(.tick)
            h.submit(next, reservedKVBytes: 10, timeout: .seconds(600))   // keep the queue non-empty
            next += 1
        }
        // About 1 completion per second, 4+ waiting: a 2 s timeout cannot be met; 600 s can.
        let refused = h.submit(500, reservedKVBytes: 10, timeout: .seconds(2)).errorReplies
        #expect(refused.map(\.code) == [.busy], "\(refused)")
        let retry = try #require(refused.first?.retryAfter)
        #expect(retry >= .milliseconds(500) && retry <= .seconds(60))
        #expect(h.submit(501, reservedKVBytes: 10, timeout: .seconds(600)).errorReplies.isEmpty)
    }

    @Test("waiting requests are dispatched round robin across clients, FIFO within each")
    func roundRobin() {
        var h = SchedulerHarness()
        for id in 1...4 { h.submit(UInt64(id), client: SchedulerHarness.client) }
        for id in 11...12 { h.submit(UInt64(id), client: SchedulerHarness.otherClient) }
        #expect(h.scheduler.waitingRequestIDs == [1, 11, 2, 12, 3, 4])
        h.registerPrefill(1)
        h.registerDecode(9, capacity: 3000)   // room for three 1000-byte requests
        #expect(h.send(.tick).assignments.map(\.request) == [1, 11, 2])
    }

    @Test("a worker that deregisters is dropped at once and its requests are re-placed")
    func deregister() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(9)
        let first = h.submit(1).assignments
        #expect(first.map(\.prefill) == [1])
        let d = h.send(.deregister(1, reason: "grace ran out", drained: false))
        #expect(d.droppedWorkers == [1])
        #expect(d.assignments == [Assigned(request: 1, prefill: 2, decode: 9, attempt: 1)])
    }

    @Test("a prefill worker that drained (all its KV sent) leaves its requests where they are")
    func drainedPrefillDeregisters() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(9)
        #expect(h.submit(1).assignments.map(\.prefill) == [1])
        let d = h.send(.deregister(1, reason: "drained", drained: true))
        #expect(d.droppedWorkers == [1])
        #expect(d.assignments.isEmpty, "its KV is on the way to D9: no second prefill")
        #expect(h.placement(of: 1)?.attempt == 0)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == nil)
    }

    @Test("shutdown ends every held request UNAVAILABLE and tells the workers")
    func shutdown() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(9)
        h.submit(1)
        h.submit(2, client: SchedulerHarness.otherClient)
        let d = h.send(.shutdown(reason: "the coordinator is shutting down"))
        #expect(d.errorReplies.map(\.code) == [.unavailable, .unavailable])
        #expect(Set(d.cancels.map { $0[0] }) == [1, 2])
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("after its own pause the coordinator does not drop workers whose heartbeats it has not read yet")
    func coordinatorPause() {
        var h = SchedulerHarness { $0.pauseThreshold = .seconds(1) }
        h.registerPrefill(1)
        h.registerDecode(9)
        h.send(.tick)
        h.advance(.seconds(8))   // SIGSTOP of the coordinator, far past the 3 s worker timeout
        #expect(h.send(.tick).droppedWorkers.isEmpty)
        h.advance(.milliseconds(50))
        #expect(h.send(.tick).droppedWorkers.isEmpty)
        // Ticking normally again, silence counts: 3.5 s without heartbeats drops both.
        for _ in 0..<70 { h.advance(.milliseconds(50)); h.send(.tick) }
        #expect(h.scheduler.workerStatus(at: h.now).isEmpty)
    }

    @Test("holds(_:for:) answers only the client that submitted the request")
    func holds() {
        var h = SchedulerHarness()
        h.submit(1)
        #expect(h.scheduler.holds(1, for: SchedulerHarness.client))
        #expect(!h.scheduler.holds(1, for: SchedulerHarness.otherClient))
        #expect(!h.scheduler.holds(2, for: SchedulerHarness.client))
    }

    @Test("BUSY from a prefill worker (queue full) excludes that prefill worker, not the decode worker")
    func prefillBusy() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(9)
        h.submit(1)
        let d = h.error(1, .busy, from: 1, attempt: 0)
        #expect(d.assignments == [Assigned(request: 1, prefill: 2, decode: 9, attempt: 1)])
    }
}
