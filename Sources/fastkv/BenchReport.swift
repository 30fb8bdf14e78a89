import Foundation

/// The summary of one (mode, config, length) batch. Keys are the results.json/results.csv contract.
struct BenchRow: Codable {
    var mode: String          // "cluster" or "aggregated"
    var config: String
    var method: String
    var kv_rate: Double?
    var tsp_rate: Double?
    var target_tokens: Int
    var prompt_tokens: Int
    var requests: Int
    var errors: Int
    var ttft_p50_ms: Double?
    var ttft_p90_ms: Double?
    var prefill_p50_ms: Double?
    var wire_bytes_p50: Double?
    var header_bytes_p50: Double?
    var full_kv_wire_bytes: Double?
    var wire_ratio_to_full: Double?
    var transfer_p50_ms: Double?
    /// The KV transfer not hidden behind prefill compute: prefill end (prefill worker) → KV installed
    /// (decode worker, after KVEnd). Layers stream while prefill runs, so this is what the transfer
    /// adds to TTFT: the last layer and KVEnd crossing the link, plus whatever backlog the link has left.
    var exposed_transfer_p50_ms: Double?
    var second_token_p50_ms: Double?
    var decode_tokens_per_s_p50: Double?
    var e2e_p50_ms: Double?
    var e2e_p90_ms: Double?
    var throughput_rps: Double?
    var queueing_p50_ms: Double?
    var prefill_compute_p50_ms: Double?
    var kv_encode_p50_ms: Double?
    var wire_p50_ms: Double?
    var install_p50_ms: Double?

    init(mode: String, config: BenchConfig, targetTokens: Int, samples: [BenchSample], errors: Int, wallMs: Double) {
        self.mode = mode
        self.config = config.label
        method = config.method.rawValue
        kv_rate = config.kvRate
        tsp_rate = config.tspRate
        target_tokens = targetTokens
        prompt_tokens = samples.first?.promptTokens ?? 0
        requests = samples.count + errors
        self.errors = errors
        func p(_ path: KeyPath<BenchSample, Double?>, _ q: Double = 0.5) -> Double? { percentile(samples.map { $0[keyPath: path] }, q) }
        func pi(_ path: KeyPath<BenchSample, Int?>) -> Double? { percentile(samples.map { $0[keyPath: path].map(Double.init) }, 0.5) }
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
        e2e_p50_ms = percentile(samples.map(\.endToEndMs), 0.5)
        e2e_p90_ms = percentile(samples.map(\.endToEndMs), 0.9)
        throughput_rps = wallMs > 0 && !samples.isEmpty ? Double(samples.count) / (wallMs / 1000) : nil
        queueing_p50_ms = p(\.queueingMs)
        prefill_compute_p50_ms = p(\.prefillComputeMs)
        kv_encode_p50_ms = p(\.kvEncodeMs)
        wire_p50_ms = p(\.wireMs)
        install_p50_ms = p(\.installMs)
    }

    static let csvColumns = [
        "mode", "config", "method", "kv_rate", "tsp_rate", "target_tokens", "prompt_tokens", "requests", "errors",
        "ttft_p50_ms", "ttft_p90_ms", "prefill_p50_ms", "wire_bytes_p50", "header_bytes_p50", "full_kv_wire_bytes",
        "wire_ratio_to_full", "transfer_p50_ms", "second_token_p50_ms", "decode_tokens_per_s_p50", "e2e_p50_ms",
        "e2e_p90_ms", "throughput_rps", "queueing_p50_ms", "prefill_compute_p50_ms", "kv_encode_p50_ms", "wire_p50_ms",
        "install_p50_ms", "exposed_transfer_p50_ms",
    ]

    var csvFields: [String] {
        // Byte counts stay exact integers; times keep 10 significant digits.
        func d(_ v: Double?) -> String {
            guard let v else { return "" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.10g", v)
        }
        return [mode, config, method, d(kv_rate), d(tsp_rate), String(target_tokens), String(prompt_tokens),
                String(requests), String(errors), d(ttft_p50_ms), d(ttft_p90_ms), d(prefill_p50_ms), d(wire_bytes_p50),
                d(header_bytes_p50), d(full_kv_wire_bytes), d(wire_ratio_to_full), d(transfer_p50_ms),
                d(second_token_p50_ms), d(decode_tokens_per_s_p50), d(e2e_p50_ms), d(e2e_p90_ms), d(throughput_rps),
                d(queueing_p50_ms), d(prefill_compute_p50_ms), d(kv_encode_p50_ms), d(wire_p50_ms), d(install_p50_ms),
                d(exposed_transfer_p50_ms)]
    }
}

/// Everything a run produced; written as results.json.
struct BenchResults: Codable {
    struct Machine: Codable {
        var nproc: Int
        var cpu_model: String
        var memory_bytes: Int
        var cpu_steal_share_during_run: Double?
    }
    struct Settings: Codable {
        var coordinator: String?
        var lengths: [Int]
        var configs: [String]
        var requests: Int
        var concurrency: Int
        var max_tokens: Int
        var wire_dtype: String
        var prompt: String
        var aggregated_model: String?
        var submit_executable: String?
    }
    var commit: String?
    var date: String
    /// false while the sweep runs (and in the files an interrupted sweep leaves): `rows` holds the
    /// rows finished so far, out of `rows_expected`.
    var complete: Bool
    var rows_expected: Int
    var machine: Machine
    var settings: Settings
    var rows: [BenchRow]
}

enum BenchReport {
    static func markdownTable(_ rows: [BenchRow]) -> String {
        func f(_ v: Double?, _ fmt: String = "%.0f") -> String { v.map { String(format: fmt, $0) } ?? "–" }
        func bytes(_ v: Double?) -> String {
            guard let v else { return "–" }
            return v >= 1048576 ? String(format: "%.2f MiB", v / 1048576) : String(format: "%.1f KiB", v / 1024)
        }
        var lines = [
            "| mode | config | N | TTFT p50 | TTFT p90 | prefill | wire | wire/full | transfer | exposed | 2nd token | decode tok/s | e2e p50 | req/s | queue | compute | encode | wire ms | install | err |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows {
            lines.append("| \(r.mode) | \(r.config) | \(r.prompt_tokens) | \(f(r.ttft_p50_ms)) | \(f(r.ttft_p90_ms)) | \(f(r.prefill_p50_ms)) | "
                + "\(bytes(r.wire_bytes_p50)) | \(f(r.wire_ratio_to_full, "%.3f")) | \(f(r.transfer_p50_ms, "%.1f")) | "
                + "\(f(r.exposed_transfer_p50_ms, "%.1f")) | "
                + "\(f(r.second_token_p50_ms)) | \(f(r.decode_tokens_per_s_p50, "%.1f")) | \(f(r.e2e_p50_ms)) | "
                + "\(f(r.throughput_rps, "%.2f")) | \(f(r.queueing_p50_ms, "%.1f")) | \(f(r.prefill_compute_p50_ms)) | "
                + "\(f(r.kv_encode_p50_ms, "%.1f")) | \(f(r.wire_p50_ms, "%.1f")) | \(f(r.install_p50_ms, "%.1f")) | \(r.errors) |")
        }
        return lines.joined(separator: "\n")
    }

    static func csv(_ rows: [BenchRow]) -> String {
        func quote(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return ([BenchRow.csvColumns.joined(separator: ",")] + rows.map { $0.csvFields.map(quote).joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }

    /// gnuplot data: one block per (mode, config) series, blocks separated by two blank lines, each
    /// starting with a title line (read by `title columnheader(1)`). Columns: prompt tokens, TTFT p50 ms,
    /// wire bytes p50 (0 where the mode moves no KV), second-token p50 ms.
    static func chartData(_ rows: [BenchRow]) -> (text: String, seriesCount: Int) {
        chartData(rows, where: { _ in true })
    }

    static func chartData(_ rows: [BenchRow], where include: (BenchRow) -> Bool) -> (text: String, seriesCount: Int) {
        var order: [String] = []
        var blocks: [String: [BenchRow]] = [:]
        for r in rows where include(r) {
            let key = "\(r.mode) \(r.config)"
            if blocks[key] == nil { order.append(key) }
            blocks[key, default: []].append(r)
        }
        var text = ""
        for key in order {
            text += "\"\(key)\" ttft wire second\n"
            for r in blocks[key]!.sorted(by: { $0.prompt_tokens < $1.prompt_tokens }) {
                func d(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "NaN" }
                text += "\(r.prompt_tokens) \(d(r.ttft_p50_ms)) \(d(r.wire_bytes_p50)) \(d(r.second_token_p50_ms))\n"
            }
            text += "\n\n"
        }
        return (text, order.count)
    }

    static func readme(_ results: BenchResults, table: String, charts: [String]) -> String {
        let s = results.settings, m = results.machine
        let partial = results.complete ? "" : "**Partial run:** \(results.rows.count) of \(results.rows_expected) rows so far "
            + "(the sweep is still running or was interrupted).\n\n"
        var text = """
        # fastkv bench results

        - date: \(results.date)
        - commit: \(results.commit ?? "unknown (not a git checkout)")
        - machine: \(m.nproc) CPUs (\(m.cpu_model)), \(String(format: "%.1f", Double(m.memory_bytes) / 1073741824)) GiB memory\
        \(m.cpu_steal_share_during_run.map { String(format: ", CPU steal during the run %.1f%%", 100 * $0) } ?? "")
        - coordinator: \(s.coordinator ?? "none (aggregated only)")
        - lengths: \(s.lengths.map(String.init).joined(separator: ", ")) tokens; prompt: \(s.prompt)
        - configs: \(s.configs.joined(separator: ", "))
        - requests per config and length: \(s.requests); concurrency: \(s.concurrency); max tokens: \(s.max_tokens); wire dtype: \(s.wire_dtype)
        - aggregated baseline model: \(s.aggregated_model ?? "not run")

        \(partial)Times in ms (medians unless marked p90); "cluster" rows go through `fastkv submit --json`, "aggregated"
        rows run prefill and decode in the bench process (no KV transfer).

        - transfer: KVBegin sent → KVEnd received, i.e. the whole KV stream, most of it overlapped with prefill.
        - exposed: the part of the transfer not hidden behind prefill compute, prefill end (prefill worker's
          clock) → KV installed (decode worker's clock, after KVEnd): the last layer and KVEnd crossing the
          link plus any backlog. This, not "transfer", is what moving KV adds to TTFT.
        - queue / compute / encode / wire ms / install split the cluster TTFT from the workers' timestamps:
          queueing at the coordinator, prefill compute, KV encode *after* prefill, KVEnd sent → received,
          decode-side install after KVEnd. "encode" is 0 by construction: each layer is converted to wire
          frames and sent inside the prefill loop as soon as it is stored, so encoding is part of "compute"
          and nothing is left to encode once prefill ends (the prefill worker logs the summed per-layer
          encode time). "install" is near 0 for the same reason: layers are installed as they arrive.

        \(table)

        Files: results.json, results.csv\(charts.isEmpty ? "" : ", " + charts.joined(separator: ", ")).

        """
        if charts.contains("ttft.svg") { text += "\n![TTFT vs length](ttft.svg)\n\n![wire bytes vs length](wire.svg)\n" }
        return text
    }
}

/// Facts about this machine for the results README.
enum MachineInfo {
    static func cpuModel() -> String {
        guard let s = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in s.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        }
        return "unknown"
    }

    /// (steal, total) jiffies of all CPUs from /proc/stat.
    static func stealCounters() -> (steal: Double, total: Double)? {
        guard let s = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = s.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard v.count >= 8 else { return nil }
        return (v[7], v.prefix(8).reduce(0, +))
    }

    static func gitCommit() -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "rev-parse", "HEAD"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }
}
