import Cluster
import RequestVocabulary
import Testing
import Wire

/// What the scheduler does when workers fail: lost or silent workers, BUSY, WORKER_LOST and other
/// error reports, stale attempts, undeliverable assignments, and the attempt limit.
@Suite("Scheduler failure handling")
struct SchedulerFailureTests {
    @Test("a prefill worker silent past the timeout is dropped and its request retried on another prefill worker")
    func silentPrefillWorkerIsRetriedElsewhere() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(3)
        h.heartbeat(2, queuedTokens: 100)
        #expect(h.submit(1).assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 0)])
        h.advance(.seconds(2))
        h.heartbeat(2, queuedTokens: 100)
        h.heartbeat(3)
        #expect(h.send(.tick).droppedWorkers.isEmpty, "2 s of silence is within the 3 s timeout")
        h.advance(.milliseconds(1500))
        let d = h.send(.tick)
        #expect(d.droppedWorkers == [1])
        #expect(d.assignments == [Assigned(request: 1, prefill: 2, decode: 3, attempt: 1)])
        #expect(d.errorReplies.isEmpty)
        #expect(h.scheduler.worker(at: SchedulerHarness.address(of: 1)) == nil)
    }

    @Test("losing the prefill worker after the KV arrived leaves decoding alone")
    func lostPrefillWorkerAfterTheKVArrived() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(3)
        h.submit(1)
        h.chunk(1, from: 3, index: 0, tokens: [42])
        let d = h.send(.workerLost(1, reason: "test"))
        #expect(d.assignments.isEmpty)
        #expect(d.cancels.isEmpty)
        #expect(h.scheduler.phase(of: 1) == .decoding(Placement(prefill: 1, decode: 3, attempt: 0), forwarded: 1))
    }

    @Test("a lost decode worker: the prefill worker is told to stop, and the request is prefilled again on another pair")
    func lostDecodeWorkerMeansPrefillAgain() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.heartbeat(3, freeKV: 1000)
        #expect(h.submit(1).assignments == [Assigned(request: 1, prefill: 1, decode: 2, attempt: 0)])
        let d = h.send(.workerLost(2, reason: "test"))
        #expect(d.cancels == [[1, 1]])
        #expect(d.assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 1)])
    }

    @Test("a decode worker lost mid-decode: prefill again; the client gets no token twice and only the live decode worker's result")
    func lostDecodeWorkerMidDecode() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.heartbeat(3, freeKV: 1000)
        h.submit(1, stream: true)
        #expect(h.chunk(1, from: 2, index: 0, tokens: [10, 11]).chunkReplies.map(\.tokenIDs) == [[10, 11]])
        let d = h.send(.workerLost(2, reason: "test"))
        #expect(d.assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 1)])
        #expect(d.cancels.isEmpty, "the prefill worker finished long ago")
        #expect(h.chunk(1, from: 3, index: 0, tokens: [10]).chunkReplies.isEmpty, "already forwarded")
        #expect(h.chunk(1, from: 3, index: 1, tokens: [11]).chunkReplies.isEmpty, "already forwarded")
        // A chunk that straddles what was forwarded is held back rather than repeat token 11.
        #expect(h.chunk(1, from: 3, index: 1, tokens: [11, 12]).chunkReplies.isEmpty)
        #expect(h.chunk(1, from: 3, index: 3, tokens: [13]).chunkReplies.map(\.index) == [3])
        #expect(h.result(1, from: 2).results.isEmpty, "a result from the old decode worker is ignored")
        #expect(h.result(1, from: 3).results.map(\.requestID) == [1])
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("BUSY from a decode worker: retried on another decode worker; BUSY to the client when none is left")
    func busyRetriesThenAnswersBusy() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.heartbeat(3, freeKV: 1000)
        h.submit(1)
        let first = h.error(1, .busy, from: 2)
        #expect(first.cancels == [[1, 1], [1, 2]])
        #expect(first.assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 1)])
        #expect(first.errorReplies.isEmpty)
        let second = h.error(1, .busy, from: 3)
        #expect(second.assignments.isEmpty)
        #expect(second.errorReplies.map(\.code) == [.busy])
        #expect(second.errorReplies.first?.workerID == 3)
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("WORKER_LOST from the prefill side excludes the decode worker; from the decode side, the prefill worker")
    func workerLostReportsExcludeTheOtherSide() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(3)
        h.registerDecode(4)
        h.heartbeat(2, queuedTokens: 100)
        h.heartbeat(4, freeKV: 1000)
        #expect(h.submit(1).assignments == [Assigned(request: 1, prefill: 1, decode: 3, attempt: 0)])
        // P1 could not reach D3: D3 is excluded, P1 stays the best prefill worker.
        #expect(h.error(1, .workerLost, from: 1).assignments == [Assigned(request: 1, prefill: 1, decode: 4, attempt: 1)])
        // D4 saw P1's transfer stall: P1 is excluded, and D3 still is.
        #expect(h.error(1, .workerLost, from: 4).assignments == [Assigned(request: 1, prefill: 2, decode: 4, attempt: 2)])
    }

    @Test("any other error code ends the request with the worker's report, and both workers are told")
    func otherErrorsEndTheRequest() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.submit(1)
        let d = h.error(1, .internal, from: 2)
        #expect(d.assignments.isEmpty)
        #expect(d.cancels == [[1, 1], [1, 2]])
        #expect(d.errorReplies == [ErrorReport(requestID: 1, code: .internal, message: "internal from 2", workerID: 2)])
        #expect(d.replies.map(\.1) == [SchedulerHarness.client])
    }

    @Test("a report about a stale attempt, or from a worker no longer serving the request, is ignored")
    func staleAttemptErrorsAreIgnored() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.heartbeat(3, freeKV: 1000)
        h.submit(1)
        #expect(h.error(1, .busy, from: 2, attempt: 0).assignments.map(\.attempt) == [1])
        // P1 serves attempt 1 too, so only the attempt number tells its late report about attempt 0 apart.
        let late = h.error(1, .internal, from: 1, attempt: 0)
        #expect(late.errorReplies.isEmpty && late.cancels.isEmpty && late.assignments.isEmpty)
        // D2 is not in attempt 1's placement: ignored even without an attempt on the report.
        let old = h.error(1, .internal, from: 2)
        #expect(old.errorReplies.isEmpty && old.cancels.isEmpty)
        #expect(h.placement(of: 1) == Placement(prefill: 1, decode: 3, attempt: 1))
        // The live attempt's report counts.
        #expect(h.error(1, .internal, from: 1, attempt: 1).errorReplies.map(\.code) == [.internal])
        // Reports about requests the scheduler does not hold change nothing.
        #expect(h.error(99, .busy, from: 3).filter { if case .log = $0 { false } else { true } }.isEmpty)
    }

    @Test("after maxAttempts placements the request fails with WORKER_LOST, though workers remain")
    func maxAttempts() {
        var h = SchedulerHarness { $0.maxAttempts = 3 }
        for id: UInt64 in [1, 2, 3, 4] { h.registerPrefill(id) }
        h.registerDecode(9)
        #expect(h.submit(1).assignments.map(\.prefill) == [1])
        #expect(h.send(.workerLost(1, reason: "test")).assignments.map(\.prefill) == [2])
        #expect(h.send(.workerLost(2, reason: "test")).assignments.map(\.prefill) == [3])
        let d = h.send(.workerLost(3, reason: "test"))
        #expect(d.assignments.isEmpty)
        #expect(d.errorReplies.map(\.code) == [.workerLost])
        #expect(d.errorReplies.first?.message.contains("gave up after 3 attempts") == true)
        #expect(h.scheduler.requestCount == 0)
    }

    @Test("a retryable report with no attempts left ends the request with that report")
    func retryableErrorWithoutAttemptsLeft() {
        var h = SchedulerHarness { $0.maxAttempts = 1 }
        h.registerPrefill(1)
        h.registerDecode(2)
        h.registerDecode(3)
        h.submit(1)
        let d = h.error(1, .busy, from: 2)
        #expect(d.assignments.isEmpty)
        #expect(d.errorReplies.map(\.workerID) == [2])
        #expect(d.errorReplies.map(\.code) == [.busy])
    }

    @Test("an Assignment that cannot be delivered drops its prefill worker and places the request again")
    func undeliverableAssignment() {
        var h = SchedulerHarness()
        h.registerPrefill(1)
        h.registerPrefill(2)
        h.registerDecode(3)
        h.heartbeat(2, queuedTokens: 100)
        h.submit(1)
        let d = h.send(.assignmentUndeliverable(requestID: 1, attempt: 0, worker: 1))
        #expect(d.droppedWorkers == [1])
        #expect(d.assignments == [Assigned(request: 1, prefill: 2, decode: 3, attempt: 1)])
        #expect(h.send(.assignmentUndeliverable(requestID: 1, attempt: 0, worker: 1)).isEmpty,
                "the worker is gone already: nothing more happens")
    }
}
