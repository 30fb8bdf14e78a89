import Foundation

/// The summary of one (mode, config, length) batch. The property names are the keys of results.json
/// and the columns of results.csv (part of the bench's output contract, hence snake_case).
public struct BenchRow: Codable, Sendable, Equatable {
    public var mode: BenchMode
    public var config: String
    public var method: String
    public var kv_rate: Double?
    public var tsp_rate: Double?
    public var target_tokens: Int
    /// Of the first successful request (every request of a batch sends the same prompt); 0 if none.
    public var prompt_tokens: Int
    public var requests: Int
    public var errors: Int
    public var ttft_p50_ms: Double?
    public var ttft_p90_ms: Double?
    public var prefill_p50_ms: Double?
    public var wire_bytes_p50: Double?
    public var header_bytes_p50: Double?
    public var full_kv_wire_bytes: Double?
    public var wire_ratio_to_full: Double?
    public var transfer_p50_ms: Double?
    /// The KV transfer not hidden behind prefill compute: prefill end (prefill worker) → KV installed
    /// (decode worker, after KVEnd). Layers stream while prefill runs, so this is what the transfer
    /// adds to TTFT: the last layer and KVEnd crossing the link, plus whatever backlog the link has left.
    public var exposed_transfer_p50_ms: Double?
    public var second_token_p50_ms: Double?
    public var decode_tokens_per_s_p50: Double?
    public var e2e_p50_ms: Double?
    public var e2e_p90_ms: Double?
    /// Successful requests per second of the batch's wall time.
    public var throughput_rps: Double?
    public var queueing_p50_ms: Double?
    public var prefill_compute_p50_ms: Double?
    public var kv_encode_p50_ms: Double?
    public var wire_p50_ms: Double?
    public var install_p50_ms: Double?

    /// Summarises a batch: nearest-rank p50/p90 of each measured stage over the successful samples.
    /// - Parameters:
    ///   - errors: requests of the batch that failed (not in `samples`).
    ///   - wallMs: the batch's wall time, first request started → last finished.
    public init(mode: BenchMode, config: BenchConfig, targetTokens: Int, samples: [BenchSample], errors: Int,
                wallMs: Double) {
        self.mode = mode
        self.config = config.label
        method = config.method.rawValue
        kv_rate = config.kvRate
        tsp_rate = config.tspRate
        target_tokens = targetTokens
        prompt_tokens = samples.first?.promptTokens ?? 0
        requests = samples.count + errors
        self.errors = errors
        func p(_ path: KeyPath<BenchSample, Double?>, _ q: Double = 0.5) -> Double? {
            Statistics.percentile(samples.map { $0[keyPath: path] }, q)
        }
        func pi(_ path: KeyPath<BenchSample, Int?>) -> Double? {
            Statistics.percentile(samples.map { $0[keyPath: path].map(Double.init) }, 0.5)
        }
        ttft_p50_ms = p(\.ttftMs)
        ttft_p90_ms = p(\.ttftMs, 0.9)
        prefill_p50_ms = p(\.prefillMs)
        wire_bytes_p50 = pi(\.wireBytes)
        header_bytes_p50 = pi(\.headerBytes)
        full_kv_wire_bytes = pi(\.fullKVWireBytes)
        if let w = wire_bytes_p50, let f = full_kv_wire_bytes, f > 0 { wire_ratio_to_full = w / f }
        transfer_p50_ms = p(\.transferMs)
        exposed_transfer_p50_ms = p(\.exposedTransferMs)
        second_token_p50_ms = p(\.secondTokenMs)
        decode_tokens_per_s_p50 = p(\.decodeTokensPerSecond)
        e2e_p50_ms = Statistics.percentile(samples.map(\.endToEndMs), 0.5)
        e2e_p90_ms = Statistics.percentile(samples.map(\.endToEndMs), 0.9)
        throughput_rps = wallMs > 0 && !samples.isEmpty ? Double(samples.count) / (wallMs / 1000) : nil
        queueing_p50_ms = p(\.queueingMs)
        prefill_compute_p50_ms = p(\.prefillComputeMs)
        kv_encode_p50_ms = p(\.kvEncodeMs)
        wire_p50_ms = p(\.wireMs)
        install_p50_ms = p(\.installMs)
    }

    /// The results.csv header, in column order.
    public static let csvColumns = [
        "mode", "config", "method", "kv_rate", "tsp_rate", "target_tokens", "prompt_tokens", "requests", "errors",
        "ttft_p50_ms", "ttft_p90_ms", "prefill_p50_ms", "wire_bytes_p50", "header_bytes_p50", "full_kv_wire_bytes",
        "wire_ratio_to_full", "transfer_p50_ms", "second_token_p50_ms", "decode_tokens_per_s_p50", "e2e_p50_ms",
        "e2e_p90_ms", "throughput_rps", "queueing_p50_ms", "prefill_compute_p50_ms", "kv_encode_p50_ms", "wire_p50_ms",
        "install_p50_ms", "exposed_transfer_p50_ms",
    ]

    /// This row's results.csv fields (unquoted), in `csvColumns` order; absent values are empty.
    public var csvFields: [String] {
        // Whole numbers (byte counts) print as integers; other values keep 10 significant digits.
        func d(_ v: Double?) -> String {
            guard let v else { return "" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.10g", v)
        }
        return [mode.rawValue, config, method, d(kv_rate), d(tsp_rate), String(target_tokens), String(prompt_tokens),
                String(requests), String(errors), d(ttft_p50_ms), d(ttft_p90_ms), d(prefill_p50_ms), d(wire_bytes_p50),
                d(header_bytes_p50), d(full_kv_wire_bytes), d(wire_ratio_to_full), d(transfer_p50_ms),
                d(second_token_p50_ms), d(decode_tokens_per_s_p50), d(e2e_p50_ms), d(e2e_p90_ms), d(throughput_rps),
                d(queueing_p50_ms), d(prefill_compute_p50_ms), d(kv_encode_p50_ms), d(wire_p50_ms), d(install_p50_ms),
                d(exposed_transfer_p50_ms)]
    }
}
