import RequestVocabulary

/// How fast the cluster works through its queue, learned from the completions the coordinator sees
/// while requests were waiting (a saturated cluster), plus how long a placed request takes to finish.
/// Admission uses both to refuse, with a retry-after, the request whose deadline the queue in front of
/// it would eat, instead of queueing it to time out (../shared/notes/peers.md §4: "overload turns into
/// timeouts"). Completions while nothing waited say nothing about capacity (the arrivals were the
/// limit), so they update the service time only.
struct DrainRate: Sendable {
    /// Monotonic instants of the most recent saturated completions, oldest first.
    private var saturatedFinishes: [Duration] = []
    private let window = 32
    /// Exponentially weighted mean of placement → result, for every completion.
    private(set) var serviceTime: Duration?

    /// A request finished at `now` after `service` (placed → result); `queueWasBusy` says whether
    /// other requests were waiting at that moment.
    mutating func record(at now: Duration, service: Duration, queueWasBusy: Bool) {
        serviceTime = serviceTime.map { $0 * 0.8 + service * 0.2 } ?? service
        guard queueWasBusy else { return }
        saturatedFinishes.append(now)
        if saturatedFinishes.count > window { saturatedFinishes.removeFirst(saturatedFinishes.count - window) }
    }

    /// Completions per second while saturated; nil until four have been seen.
    var completionsPerSecond: Double? {
        guard saturatedFinishes.count >= 4, let first = saturatedFinishes.first, let last = saturatedFinishes.last else {
            return nil
        }
        let span = (last - first).seconds
        return span > 0 ? Double(saturatedFinishes.count - 1) / span : nil
    }

    /// How long `queued` requests ahead take to drain: at the saturated rate once known, before
    /// that by Little's law from the mean service time and the `running` requests (a cold cluster's
    /// first burst is judged too); nil before any completion.
    func drainTime(of queued: Int, running: Int) -> Duration? {
        var rate = completionsPerSecond
        if rate == nil, let s = serviceTime, s > .zero { rate = Double(max(1, running)) / s.seconds }
        guard let rate, rate > 0 else { return nil }
        return .milliseconds(Int64((Double(queued) / rate * 1000).rounded(.up)))
    }
}
