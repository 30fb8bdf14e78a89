/// The summary statistics of the benchmarks. Every function takes the raw per-request or per-round
/// values and returns nil for no input, so an empty batch (every request failed) reports "no value"
/// rather than a made-up zero.
public enum Statistics {
    /// The middle value; the mean of the two middle values for an even count.
    public static func median(_ values: [Double]) -> Double? {
        let s = values.sorted()
        guard !s.isEmpty else { return nil }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Nearest-rank percentile (`p` in 0...1) of the non-nil values: the smallest value with at least
    /// a share `p` of the values at or below it. Always one of the values (p50 of an even count is
    /// the lower middle one, not a mean).
    public static func percentile(_ values: [Double?], _ p: Double) -> Double? {
        let s = values.compactMap { $0 }.sorted()
        guard !s.isEmpty else { return nil }
        let rank = max(1, Int((p * Double(s.count)).rounded(.up)))
        return s[min(s.count, rank) - 1]
    }

    /// The median of per-round ratios `numerators[i] / denominators[i]`. Taking the ratio within each
    /// round, before the median, cancels a change in the machine's speed that hits both sides of a
    /// round alike. A round whose denominator is not positive counts as ratio 0; extra values on
    /// either side (a round that measured one side only) are ignored.
    public static func medianRatio(_ numerators: [Double], over denominators: [Double]) -> Double? {
        median(zip(numerators, denominators).map { $1 > 0 ? $0 / $1 : 0 })
    }
}
