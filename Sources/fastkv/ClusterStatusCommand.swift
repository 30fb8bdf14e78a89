import ArgumentParser
import Cluster
import Foundation
import RequestVocabulary

struct ClusterStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-status", abstract: "List the coordinator's workers and their load.")

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var curveOptions: CurveOptions
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

    func run() throws {
        try runReportingErrors {
            let client = try ClusterClient(coordinator: endpoint.coordinator, curve: try curveOptions.credentials())
            if waitPrefill + waitDecode > 0 {
                _ = try client.waitForWorkers(prefill: waitPrefill, decode: waitDecode,
                                              wait: .milliseconds(Int64(waitSeconds * 1000)),
                                              pollTimeout: .milliseconds(Int64(min(timeout, waitSeconds) * 1000)))
            }
            let snapshot = try client.snapshot(timeout: .milliseconds(Int64(timeout * 1000)))
            let rows = snapshot.workers
            if json {
                struct Out: Encodable {
                    var coordinator: String
                    var snapshot: ClusterSnapshot
                    func encode(to encoder: any Encoder) throws {
                        enum K: String, CodingKey { case coordinator }
                        var c = encoder.container(keyedBy: K.self)
                        try c.encode(coordinator, forKey: .coordinator)
                        try snapshot.encode(to: encoder)
                    }
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(Out(coordinator: endpoint.coordinator, snapshot: snapshot)), as: UTF8.self))
                return
            }
            print("coordinator \(endpoint.coordinator): \(rows.count) workers, \(snapshot.running_requests) requests running, \(snapshot.waiting_requests) waiting")
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
