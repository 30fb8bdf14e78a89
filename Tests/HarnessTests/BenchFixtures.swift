import Foundation
import Harness
import RequestVocabulary

/// Hand-made samples, rows and results whose statistics are worked out in the tests' comments.
enum BenchFixtures {
    /// A cluster sample as `fastkv submit --json` reports it.
    static func clusterSample(ttft: Double, prefill: Double, wire: Int, header: Int, transfer: Double, second: Double,
                              decode: Double, total: Double, queue: Double, compute: Double, wireMs: Double,
                              install: Double, exposed: Double) throws -> BenchSample {
        let object: [String: Any] = [
            "prompt_tokens": 300, "ttft_ms": ttft, "prefill_ms": prefill, "wire_bytes": wire, "header_bytes": header,
            "full_kv_wire_bytes": 4000, "transfer_ms": transfer, "time_to_second_token_ms": second,
            "decode_tokens_per_s": decode, "total_ms": total,
            "breakdown": ["queueing_ms": queue, "prefill_compute_ms": compute, "kv_encode_ms": 0, "wire_ms": wireMs,
                          "install_ms": install, "exposed_transfer_ms": exposed],
        ]
        return try BenchSample(submitJSON: JSONSerialization.data(withJSONObject: object), wallMs: 0)
    }

    /// Three successful requests and one failure. Nearest-rank p50 of three is the middle value,
    /// p90 the largest: TTFT p50 200, p90 300; wire p50 1100 of 4000 full (ratio 0.275); e2e p50
    /// 500, p90 600; 3 successes in 1.5 s = 2 req/s.
    static func clusterRow() throws -> BenchRow {
        let samples = [
            try clusterSample(ttft: 100, prefill: 80, wire: 1000, header: 10, transfer: 5, second: 120, decode: 30,
                              total: 400, queue: 1, compute: 70, wireMs: 2, install: 0.5, exposed: 3),
            try clusterSample(ttft: 300, prefill: 90, wire: 1200, header: 12, transfer: 7, second: 330, decode: 10,
                              total: 600, queue: 3, compute: 85, wireMs: 4, install: 0.25, exposed: 6),
            try clusterSample(ttft: 200, prefill: 70, wire: 1100, header: 11, transfer: 6, second: 210, decode: 20,
                              total: 500, queue: 2, compute: 60, wireMs: 3, install: 0.75, exposed: 4.5),
        ]
        return BenchRow(mode: .cluster, config: try BenchConfig(parsing: "fastkv:0.1:0.2"), targetTokens: 300,
                        samples: samples, errors: 1, wallMs: 1500)
    }

    /// Two aggregated requests: p50 is the lower one (rank 1 of 2).
    static func aggregatedRow(targetTokens: Int = 300) throws -> BenchRow {
        let samples = [
            BenchSample(promptTokens: targetTokens - 2, ttftMs: 90, prefillMs: 85, secondTokenMs: 120.25,
                        decodeTokensPerSecond: 40, endToEndMs: 250),
            BenchSample(promptTokens: targetTokens - 2, ttftMs: 80, prefillMs: 75, secondTokenMs: nil,
                        decodeTokensPerSecond: 50, endToEndMs: 260),
        ]
        return BenchRow(mode: .aggregated, config: try BenchConfig(parsing: "full"), targetTokens: targetTokens,
                        samples: samples, errors: 0, wallMs: 510)
    }

    static func plan(directory: URL, coordinator: String? = "tcp://127.0.0.1:5555") throws -> BenchPlan {
        try BenchPlan(coordinator: coordinator, lengths: [300, 600], configs: BenchConfig.parseList("full,fastkv:0.1:0.2"),
                      requests: 4, concurrency: 2, maxTokens: 8, wireDType: .f16, timeoutSeconds: 60,
                      outputDirectory: directory, promptFile: nil, modelPath: "models/m.gguf", runsAggregated: true,
                      submitExecutable: coordinator == nil ? nil : "/opt/fastkv", chartScript: "scripts/none.gp")
    }

    static func results(rows: [BenchRow], complete: Bool, directory: URL) throws -> BenchResults {
        let plan = try plan(directory: directory)
        return BenchResults(commit: "abc123", date: "2025-01-02T03:04:05Z", complete: complete,
                            rows_expected: plan.expectedRowCount,
                            machine: .init(nproc: 2, cpu_model: "Test CPU", memory_bytes: 3 << 30,
                                           cpu_steal_share_during_run: 0.125),
                            settings: .init(plan), rows: rows)
    }
}
