/// The scheduler's only source of time: the caller reads both clocks once per event and passes them
/// in, so the scheduler has no clock of its own and tests move time by hand.
///
/// Two readings because they answer different questions. Deadlines and stage timestamps cross
/// processes, so they are wall-clock Unix instants (`Assignment.deadlineUnixMillis`, `StageTimes`).
/// Heartbeat silence is local and must not jump when the wall clock is stepped, so it is measured
/// on a monotonic clock, as the offset from an origin the caller chooses (the coordinator's start).
public struct SchedulerTime: Sendable, Hashable {
    /// Wall clock, microseconds since the Unix epoch.
    public var unixMicros: UInt64
    /// Monotonic clock, since the caller's origin.
    public var monotonic: Duration

    public init(unixMicros: UInt64, monotonic: Duration) {
        self.unixMicros = unixMicros
        self.monotonic = monotonic
    }

    public var unixMillis: UInt64 { unixMicros / 1000 }

    /// Both readings moved on by `d` (tests).
    public func advanced(by d: Duration) -> SchedulerTime {
        let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
        let unix = micros >= 0 ? unixMicros &+ UInt64(micros) : unixMicros &- UInt64(-micros)
        return SchedulerTime(unixMicros: unix, monotonic: monotonic + d)
    }
}
