import Foundation

/// The human- and plot-readable forms of bench results: the Markdown table, results.csv, the
/// gnuplot data blocks and the results README. Pure functions of the rows.
public enum BenchReport {
    /// One line per row, in row order; absent values print as "–".
    public static func markdownTable(_ rows: [BenchRow]) -> String {
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
            lines.append("| \(r.mode.rawValue) | \(r.config) | \(r.prompt_tokens) | \(f(r.ttft_p50_ms)) | \(f(r.ttft_p90_ms)) | \(f(r.prefill_p50_ms)) | "
                + "\(bytes(r.wire_bytes_p50)) | \(f(r.wire_ratio_to_full, "%.3f")) | \(f(r.transfer_p50_ms, "%.1f")) | "
                + "\(f(r.exposed_transfer_p50_ms, "%.1f")) | "
                + "\(f(r.second_token_p50_ms)) | \(f(r.decode_tokens_per_s_p50, "%.1f")) | \(f(r.e2e_p50_ms)) | "
                + "\(f(r.throughput_rps, "%.2f")) | \(f(r.queueing_p50_ms, "%.1f")) | \(f(r.prefill_compute_p50_ms)) | "
                + "\(f(r.kv_encode_p50_ms, "%.1f")) | \(f(r.wire_p50_ms, "%.1f")) | \(f(r.install_p50_ms, "%.1f")) | \(r.errors) |")
        }
        return lines.joined(separator: "\n")
    }

    /// results.csv: the header, then one line per row; a field holding a comma or quote is quoted.
    public static func csv(_ rows: [BenchRow]) -> String {
        func quote(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return ([BenchRow.csvColumns.joined(separator: ",")] + rows.map { $0.csvFields.map(quote).joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }

    /// gnuplot data: one block per (mode, config) series, blocks separated by two blank lines, each
    /// starting with a title line (read by `title columnheader(1)`). Columns: prompt tokens, TTFT p50 ms,
    /// wire bytes p50 (NaN where the mode moves no KV; gnuplot skips it), second-token p50 ms.
    public static func chartData(_ rows: [BenchRow]) -> (text: String, seriesCount: Int) {
        chartData(rows, where: { _ in true })
    }

    public static func chartData(_ rows: [BenchRow], where include: (BenchRow) -> Bool) -> (text: String, seriesCount: Int) {
        var order: [String] = []
        var blocks: [String: [BenchRow]] = [:]
        for r in rows where include(r) {
            let key = "\(r.mode.rawValue) \(r.config)"
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

    /// README.md of a run: machine and settings, the column glossary, the table, and the charts in
    /// `charts` (file names in the run directory). A partial run says so above the table.
    public static func readme(_ results: BenchResults, charts: [String]) -> String {
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
        - requests per config and length: \(s.requests); concurrency: \(s.concurrency); max tokens: \(s.max_tokens); wire dtype: \(s.wire_dtype.rawValue)
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

        \(markdownTable(results.rows))

        Files: results.json, results.csv\(charts.isEmpty ? "" : ", " + charts.joined(separator: ", ")).

        """
        if charts.contains("ttft.svg") { text += "\n![TTFT vs length](ttft.svg)\n\n![wire bytes vs length](wire.svg)\n" }
        return text
    }
}
