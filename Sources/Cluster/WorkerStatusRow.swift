import RequestVocabulary
import Wire

/// One worker as `fastkv cluster-status` shows it (JSON keys are part of the CLI contract).
public struct WorkerStatusRow: Encodable, Sendable, Hashable {
    public var role: String
    public var id: UInt64
    public var endpoint: String
    public var health: String
    public var last_heartbeat_age_ms: Int
    public var queued_prompt_tokens: Int
    public var free_kv_bytes: Int
    public var active_sequences: Int
    /// Decode workers: what `free_kv_bytes` is when nothing is reserved (0 for prefill workers).
    public var kv_capacity_bytes: Int
    /// From the worker's health enum, not its printed name (not part of the JSON).
    public let isHealthy: Bool

    enum CodingKeys: String, CodingKey {
        case role, id, endpoint, health, last_heartbeat_age_ms, queued_prompt_tokens, free_kv_bytes, active_sequences,
             kv_capacity_bytes
    }

    init(_ w: WorkerStatus) {
        isHealthy = w.health == .ok
        role = w.role == .prefill ? "prefill" : w.role == .decode ? "decode" : "other"
        id = w.workerID
        endpoint = w.kvEndpoint.isEmpty ? w.controlEndpoint : w.kvEndpoint
        health = "\(w.health)"
        last_heartbeat_age_ms = Int(w.lastHeartbeatAge.wholeMilliseconds)
        queued_prompt_tokens = w.queuedPromptTokens
        free_kv_bytes = w.freeKVBytes
        active_sequences = w.activeSequences
        kv_capacity_bytes = w.kvCapacityBytes
    }
}

/// The coordinator's view at one moment: its workers and the requests it holds
/// (`fastkv cluster-status --json`; JSON keys are part of the CLI contract).
public struct ClusterSnapshot: Encodable, Sendable, Hashable {
    public var workers: [WorkerStatusRow]
    /// Admitted and not yet placed / placed on a worker pair.
    public var waiting_requests: Int
    public var running_requests: Int
    /// Changes when the coordinator restarts.
    public var coordinator_started_unix_us: UInt64

    init(_ r: StatusReply) {
        workers = r.workers.map(WorkerStatusRow.init)
        waiting_requests = r.waitingRequests
        running_requests = r.runningRequests
        coordinator_started_unix_us = r.coordinatorStartedUnixMicros
    }
}
