import Cluster
import RequestVocabulary
import Testing
import Wire

/// A request's life in the scheduler from Submit to its answer: deadlines, cancellation, a client
/// that goes away, streaming, the Result's timings, exclusion and re-admission of workers, and the
/// admission bounds.
@Suite("Scheduler request lifecycle")
struct SchedulerLifecycleTests {
    @Test("a request waiting for workers past its deadline gets DEADLINE_EXCEEDED")
    func deadlineWhileWaiting() {
        var h = SchedulerHarness()
        h.submit(1, timeout: .seconds(2))
        h.advance(.seconds(2))
        #expect(h.send(.tick).errorReplies.isEmpty, "the deadline is not past yet")
        h.advance(.milliseconds(1))
        let d = h.send(.tick)
        #expect(d.errorReplies.map(\.code) == [.deadlineExceeded])
        #expect(d.errorReplies.first?.message.contains("while waiting for workers") == true)
        #expect(h.scheduler.requestCount == 0)
        #expect(h.scheduler.waitingRequestIDs.isEmpty)
    }

    @Test("a running request past its deadline gets DEADLINE_EXCEEDED and both workers are told to drop it")
    func deadlineWhileRunning() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1, timeout: .seconds(1))
        h.advance(.milliseconds(1001))
        let d = h.send(.tick)
        #expect(d.errorReplies.map(\.code) == [.deadlineExceeded])
        #expect(d.errorReplies.first?.message.contains("while prefilling on 1") == true)
        #expect(d.cancels == [[1, 1], [1, 2]])
        #expect(d.droppedWorkers.isEmpty)
    }

    @Test("a failure reported after the deadline reaches the client as DEADLINE_EXCEEDED, naming the failure")
    func lateFailureIsReportedAsDeadline() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1, timeout: .seconds(1))
        h.advance(.milliseconds(1500))
        let e = h.error(1, .internal, from: 2).errorReplies
        #expect(e.map(\.code) == [.deadlineExceeded])
        #expect(e.first?.message.contains("INTERNAL") == true)
    }

    @Test("exclusion is per request: a worker lost and registered again gets new work, but not the request it failed")
    func exclusionAndReadmission() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.heartbeat(3, freeKV: 1000)
        h.submit(1)
        #expect(h.send(.workerLost(2, reason: "test")).assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 1)])
        h.registerDecode(2)   // back, with all its capacity free: the best decode worker again
        #expect(h.submit(2).assignments == [Assigned(request: 2, prefill: 1, decode: 2, attempt: 0)])
        // Request 1 still excludes D2, so losing D3 leaves it waiting rather than placed on D2.
        let d = h.send(.workerLost(3, reason: "test"))
        #expect(d.assignments.isEmpty)
        #expect(h.scheduler.phase(of: 1)?.isWaiting == true)
        #expect(h.placement(of: 2) == Placement(prefill: 1, decode: 2, attempt: 0))
    }

    @Test("the client can cancel its own request (both workers are told); another client cannot")
    func cancelByClient() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1)
        #expect(h.send(.cancel(requestID: 1, client: SchedulerHarness.otherClient, reason: "not mine")).isEmpty)
        #expect(h.scheduler.requestCount == 1)
        let d = h.send(.cancel(requestID: 1, client: SchedulerHarness.client, reason: "bored"))
        #expect(d.errorReplies.map(\.code) == [.cancelled])
        #expect(d.replies.map(\.1) == [SchedulerHarness.client])
        #expect(d.cancels == [[1, 1], [1, 2]])
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("a client that went away: its request is dropped without an answer and the workers are told")
    func clientGoneAway() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1, stream: true)
        #expect(h.chunk(1, from: 2, index: 0, tokens: [5]).chunkReplies.count == 1)
        let d = h.send(.clientUnreachable(requestID: 1))
        #expect(d.replies.isEmpty)
        #expect(d.cancels == [[1, 1], [1, 2]])
        #expect(h.scheduler.requestCount == 0)
        #expect(h.chunk(1, from: 2, index: 1, tokens: [6]).isEmpty)
    }

    @Test("chunks reach only streaming clients; the Result carries the coordinator's stages and TTFT")
    func streamingAndResultTimings() throws {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        let received = h.now
        h.submit(1, stream: false)
        h.advance(.milliseconds(100))
        #expect(h.chunk(1, from: 2, index: 0, tokens: [5]).chunkReplies.isEmpty)
        h.advance(.milliseconds(50))
        #expect(h.result(1, from: 1).results.isEmpty, "only the decode worker of the placement answers")
        let r = try #require(h.result(1, from: 2).results.first)
        #expect(r.timings.stages.receivedUnixMicros == received.unixMicros)
        #expect(r.timings.stages.assignedUnixMicros == received.unixMicros)
        #expect(r.timings.timeToFirstToken == .milliseconds(100))
        #expect(h.scheduler.requestCount == 0)

        h.submit(2, stream: true)
        #expect(h.chunk(2, from: 2, index: 0, tokens: [5, 6]).chunkReplies.map(\.tokenIDs) == [[5, 6]])
    }

    @Test("a second Submit with an active request id is refused")
    func duplicateRequestID() {
        var h = SchedulerHarness()
        h.submit(1)
        #expect(h.submit(1, client: SchedulerHarness.otherClient).errorReplies.map(\.code) == [.badRequest])
        #expect(h.scheduler.requestCount == 1)
    }

    @Test("admission is bounded: a full waiting queue or request table answers BUSY at once; re-queued requests always go back")
    func boundedAdmission() {
        var h = SchedulerHarness { $0.maxWaitingRequests = 1 }
        h.registerPrefill(1)
        h.registerDecode(2)
        h.submit(1)
        h.heartbeat(2, health: .degraded)
        h.submit(2)
        #expect(h.submit(3).errorReplies.map(\.code) == [.busy])
        h.send(.workerLost(2, reason: "test"))
        #expect(h.scheduler.waitingRequestIDs == [1, 2], "request 1 was admitted already")
        #expect(h.scheduler.requestCount == 2)

        var t = SchedulerHarness { $0.maxRequests = 2 }
        t.registerPrefill(1)
        t.registerDecode(2)
        t.submit(1)
        t.submit(2)
        #expect(t.scheduler.waitingRequestIDs.isEmpty)
        #expect(t.submit(3).errorReplies.map(\.code) == [.busy])
    }

    @Test("refuseWhatNoDecodeWorkerCanHold: BUSY before any compute for a request larger than every decode worker")
    func cannotFitAnywhere() {
        var h = SchedulerHarness()
        #expect(h.submit(1, reservedKVBytes: 6000).errorReplies.isEmpty, "no decode worker yet: it waits")
        h.registerPrefill(1)
        h.registerDecode(2, capacity: 5000)
        h.heartbeat(2, freeKV: 100)   // capacity counts, not what is free now
        let d = h.submit(2, reservedKVBytes: 6000)
        #expect(d.assignments.isEmpty)
        #expect(d.errorReplies.map(\.requestID) == [2], "refused at admission")
        #expect(d.errorReplies.map(\.code) == [.busy])
        #expect(h.send(.tick).errorReplies.map(\.requestID) == [1], "the waiting one is refused when next placed")
        // 5000 fits the capacity but not what is free now: it waits for room instead.
        #expect(h.submit(3, reservedKVBytes: 5000).assignments.isEmpty)
        h.heartbeat(2, freeKV: 5000)
        #expect(h.send(.tick).assignments.map(\.request) == [3])

        var off = SchedulerHarness { $0.refuseWhatNoDecodeWorkerCanHold = false }
        off.registerPrefill(1)
        off.registerDecode(2, capacity: 5000)
        let kept = off.submit(1, reservedKVBytes: 6000)
        #expect(kept.assignments.isEmpty && kept.errorReplies.isEmpty, "off: it waits (for a bigger worker or its deadline)")
    }
}
