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

    /// Milliseconds between two optional instants (nil when either is missing or they are reversed).
    public static func millis(from start: UInt64?, to end: UInt64?) -> Double? {
        guard let start, let end, end >= start else { return nil }
        return Double(end - start) / 1000
    }
}
