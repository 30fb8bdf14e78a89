/// A point in time on the monotonic clock, with the arithmetic `zmq_poll` needs.
struct Deadline {
    let instant: ContinuousClock.Instant
    let budget: Duration

    init(after timeout: Duration) {
        budget = max(timeout, .zero)
        instant = ContinuousClock.now.advanced(by: budget)
    }

    var remaining: Duration { max(ContinuousClock.now.duration(to: instant), .zero) }
    var hasPassed: Bool { ContinuousClock.now >= instant }

    /// Milliseconds for zmq_poll: the remaining time (at most `cap`), rounded up so we never wake
    /// just before the deadline and spin; never negative, never infinite.
    func pollMillis(cap: Duration? = nil) -> Int {
        var d = remaining
        if let cap, cap < d { d = cap }
        let (s, atto) = d.components
        let ms = s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(min(ms, Int64(Int32.max)))
    }
}
