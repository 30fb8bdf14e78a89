extension Duration {
    /// This duration in (fractional) milliseconds, for reports and latency figures.
    public var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1000 + Double(atto) / 1e15
    }

    /// This duration in seconds, for APIs that take a `Double` (condition waits, Prometheus).
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// Whole milliseconds, rounded toward zero (wire timeouts, deadlines).
    public var wholeMilliseconds: Int64 {
        let (s, atto) = components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
