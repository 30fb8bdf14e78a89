import ArgumentParser
import Cluster
import Foundation
import Wire

struct ClusterStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-status", abstract: "List the coordinator's workers and their load.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @Option(help: "Seconds to wait for the coordinator.")
    var timeout: Double = 5
    @Flag(help: "Print one JSON object.")
    var json = false

    struct Row: Encodable {
        var role: String
        var id: UInt64
        var endpoint: String
        var health: String
        var last_heartbeat_age_ms: Int
        var queued_prompt_tokens: Int
        var free_kv_bytes: Int
        var active_sequences: Int
    }

    func run() throws {
        try runReportingErrors {
            let reply = try ClusterClient(coordinator: endpoint.coordinator)
                .status(timeout: .milliseconds(Int64(timeout * 1000)))
            let rows = reply.workers.map { w in
                Row(role: w.role == .prefill ? "prefill" : w.role == .decode ? "decode" : "other", id: w.workerID,
                    endpoint: w.kvEndpoint.isEmpty ? w.controlEndpoint : w.kvEndpoint,
                    health: "\(w.health)", last_heartbeat_age_ms: Int(w.lastHeartbeatAge.components.seconds * 1000
                        + w.lastHeartbeatAge.components.attoseconds / 1_000_000_000_000_000),
                    queued_prompt_tokens: w.queuedPromptTokens, free_kv_bytes: w.freeKVBytes,
                    active_sequences: w.activeSequences)
            }
            if json {
                struct Out: Encodable { var coordinator: String; var workers: [Row] }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(Out(coordinator: endpoint.coordinator, workers: rows)), as: UTF8.self))
                return
            }
            print("coordinator \(endpoint.coordinator): \(rows.count) workers")
            print("ROLE     ID          ENDPOINT                  HEALTH  HB_AGE_MS  QUEUED_TOK  FREE_KV_BYTES  ACTIVE")
            for r in rows {
                func pad(_ v: Any, _ width: Int, left: Bool = true) -> String {
                    let s = "\(v)"
                    let fill = String(repeating: " ", count: max(0, width - s.count))
                    return left ? s + fill : fill + s
                }
                print([pad(r.role, 8), pad(r.id, 11), pad(r.endpoint, 25), pad(r.health, 7),
                       pad(r.last_heartbeat_age_ms, 9, left: false), pad(r.queued_prompt_tokens, 11, left: false),
                       pad(r.free_kv_bytes, 14, left: false), pad(r.active_sequences, 7, left: false)].joined(separator: " "))
            }
        }
    }
}
