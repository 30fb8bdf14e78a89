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
    @Option(help: "Wait until at least this many healthy prefill workers are registered (scripts' readiness check).")
    var waitPrefill = 0
    @Option(help: "Wait until at least this many healthy decode workers are registered.")
    var waitDecode = 0
    @Option(help: "Give up waiting after this many seconds (exit 1).")
    var waitSeconds: Double = 60

    func validate() throws {
        guard timeout > 0, waitSeconds > 0, waitPrefill >= 0, waitDecode >= 0 else {
            throw ValidationError("--timeout and --wait-seconds must be > 0, --wait-prefill/--wait-decode ≥ 0")
        }
    }

    /// Polls the coordinator until the wanted healthy workers are there (or the wait runs out).
    private func waitForWorkers() throws -> StatusReply {
        let client = try ClusterClient(coordinator: endpoint.coordinator)
        let deadline = ContinuousClock.now + .milliseconds(Int64(waitSeconds * 1000))
        var last = "coordinator not reachable"
        while true {
            do {
                let reply = try client.status(timeout: .milliseconds(Int64(min(timeout, waitSeconds) * 1000)))
                let healthy = reply.workers.filter { $0.health == .ok }
                let p = healthy.filter { $0.role == .prefill }.count, d = healthy.filter { $0.role == .decode }.count
                if p >= waitPrefill && d >= waitDecode { return reply }
                last = "\(p) of \(waitPrefill) prefill and \(d) of \(waitDecode) decode workers healthy"
            } catch {
                last = "\(error)"
            }
            guard ContinuousClock.now < deadline else {
                throw ValidationError("workers not ready within \(waitSeconds) s: \(last)")
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

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
            let reply = waitPrefill + waitDecode > 0
                ? try waitForWorkers()
                : try ClusterClient(coordinator: endpoint.coordinator).status(timeout: .milliseconds(Int64(timeout * 1000)))
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
