/// Streams generated text while watching for stop strings.
///
/// Text that might be the start of a stop string is held back until it is clear either way, so a
/// stop string is never printed, not even partly.
public struct StopMatcher: Sendable {
    public let stopStrings: [String]
    private var pending = ""
    public private(set) var stopped = false

    public init(stopStrings: [String]) { self.stopStrings = stopStrings }

    /// Adds decoded text; returns the part that is safe to emit now.
    public mutating func push(_ text: String) -> String {
        guard !stopped else { return "" }
        pending += text
        if stopStrings.isEmpty { defer { pending = "" }; return pending }
        if let hit = stopStrings.compactMap({ pending.range(of: $0)?.lowerBound }).min() {
            stopped = true
            let out = String(pending[..<hit])
            pending = ""
            return out
        }
        // Hold back the longest suffix that is a proper prefix of some stop string.
        var hold = 0
        for s in stopStrings {
            var k = min(s.count - 1, pending.count)
            while k > 0 {
                if pending.hasSuffix(s.prefix(k)) { hold = max(hold, k); break }
                k -= 1
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -hold)
        let out = String(pending[..<cut])
        pending = String(pending[cut...])
        return out
    }

    /// Flushes what is held back at the end of generation.
    public mutating func finish() -> String {
        defer { pending = "" }
        return stopped ? "" : pending
    }
}
