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
    /// From the worker's health enum, not its printed name (not part of the JSON).
    public let isHealthy: Bool

    enum CodingKeys: String, CodingKey {
        case role, id, endpoint, health, last_heartbeat_age_ms, queued_prompt_tokens, free_kv_bytes, active_sequences
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
    }
}
