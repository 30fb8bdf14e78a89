/// How a bench row's requests were served.
public enum BenchMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Through the cluster, as `fastkv submit --json` subprocesses (prefill and decode on different
    /// workers, KV on the wire).
    case cluster
    /// Prefill and decode in the bench process: the baseline without KV transfer.
    case aggregated
}
