#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock instants for the protocol's `_unix_us` / `_unix_ms` fields. Only for timestamps that
/// cross processes; local waits use `ContinuousClock` / `Deadline`.
public enum UnixTime {
    public static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    public static func nowMillis() -> UInt64 { nowMicros() / 1000 }

    /// The time from `start` to `end`, zero when either is missing or they are reversed, capped at
    /// a day: instants may come from another host or a hostile peer, and must never reach trapping
    /// arithmetic.
    public static func elapsed(from start: UInt64?, to end: UInt64?) -> Duration {
        guard let start, let end, end > start else { return .zero }
        return .microseconds(Int64(min(end - start, 86_400_000_000)))
    }

    /// A wire deadline in Unix ms as Unix µs, saturating instead of overflowing.
    public static func micros(fromMillis ms: UInt64) -> UInt64 {
        let (v, overflow) = ms.multipliedReportingOverflow(by: 1000)
        return overflow ? .max : v
    }

    /// Milliseconds between two optional instants (nil when either is missing or they are reversed).
    public static func millis(from start: UInt64?, to end: UInt64?) -> Double? {
        guard let start, let end, end >= start else { return nil }
        return Double(end - start) / 1000
    }
}
