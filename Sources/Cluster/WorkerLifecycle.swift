import Transport
import Wire

/// A worker's own state as its I/O loop reports it: healthy, degraded (its compute thread ended by
/// itself) or draining (SIGTERM: no new work; it leaves when it holds nothing, or when the drain
/// grace runs out and what it holds is handed back). Shared by both worker roles, so the rules are
/// one: a change of health is announced at once (not an interval later), and leaving says whether
/// everything given to the worker was done.
struct WorkerLifecycle {
    /// Why the worker leaves now, and whether all its work is done (`Deregister.drained`).
    struct Leaving {
        let reason: String
        let drained: Bool
    }

    let drain: StopSignal
    let drainTimeout: Duration
    /// Raised when the compute thread's loop returned.
    let computeEnded: StopSignal
    let log: Log
    private var drainStarted: ContinuousClock.Instant?
    private var computeReportedDead = false
    private let clock = ContinuousClock()

    init(drain: StopSignal, drainTimeout: Duration, computeEnded: StopSignal, log: Log) {
        self.drain = drain
        self.drainTimeout = drainTimeout
        self.computeEnded = computeEnded
        self.log = log
    }

    var health: Health { computeReportedDead ? .degraded : drainStarted != nil ? .draining : .ok }

    /// Once per loop turn. `idle`: the worker holds nothing; `held`: what it holds, for log lines.
    /// Returns when to leave (nil: keep serving).
    mutating func step(link: ControlLink, idle: Bool, held: () -> String) -> Leaving? {
        if computeEnded.isStopped && !computeReportedDead {
            computeReportedDead = true
            log("the compute loop stopped: reporting unhealthy")
            link.sendSoon()
        }
        if drain.isStopped && drainStarted == nil {
            drainStarted = clock.now
            log("draining: no new work; \(held()); leaving within \(drainTimeout)")
            link.sendSoon()
        }
        guard let started = drainStarted else { return nil }
        if idle { return Leaving(reason: "drained", drained: true) }
        if clock.now - started > drainTimeout {
            return Leaving(reason: "drain grace of \(drainTimeout) ran out with \(held()) (handed back)", drained: false)
        }
        return nil
    }
}
