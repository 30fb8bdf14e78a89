import Cluster
import Testing

/// Cancel messages name only the request; the worker must apply them to the attempts it knows of
/// when they arrive, never to a retry assigned afterwards.
struct PrefillAttemptsTests {
    @Test func cancelStopsTheKnownAttemptButNotTheRetryThatFollows() {
        let attempts = PrefillAttempts()
        attempts.register(7, attempt: 0)
        let first = attempts.stopSignal(7, attempt: 0)
        attempts.cancel(7, reason: "decode worker lost")
        attempts.register(7, attempt: 1)
        #expect(first.isStopped)
        #expect(attempts.reason(7, attempt: 0) == "decode worker lost")
        #expect(attempts.reason(7, attempt: 1) == nil)
        #expect(!attempts.stopSignal(7, attempt: 1).isStopped)
    }

    @Test func aNewerAssignmentSupersedesOlderAttempts() {
        let attempts = PrefillAttempts()
        attempts.register(9, attempt: 1)
        attempts.register(9, attempt: 2)
        #expect(attempts.reason(9, attempt: 1) == "superseded by attempt 2")
        #expect(attempts.stopSignal(9, attempt: 1).isStopped)
        #expect(attempts.reason(9, attempt: 2) == nil)
        attempts.finish(9, attempt: 1)
        attempts.finish(9, attempt: 2)
        attempts.cancel(9, reason: "late")   // nothing known any more: a no-op
        attempts.register(9, attempt: 3)
        #expect(attempts.reason(9, attempt: 3) == nil)
        #expect(attempts.reason(8, attempt: 0) == nil)   // other requests are untouched
    }
}
