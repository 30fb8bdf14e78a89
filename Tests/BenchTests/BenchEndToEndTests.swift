import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// SmolLM2-135M's KV geometry: full KV on the wire is 2 · layers · kv_heads · head_dim · N · bytes(dtype).
private let layerCount = 30, kvHeads = 3, headDim = 64

/// The release fastkv binary (scripts/test.sh builds it first); `FASTKV_BIN` overrides.
private let fastkvBinary: String = ProcessInfo.processInfo.environment["FASTKV_BIN"]
    ?? TestPaths.packageRoot.appendingPathComponent(".build/release/fastkv").path

/// The binary that runs the cluster (coordinator, workers, submit): `FASTKV_CLUSTER_BIN`, else the
/// same fastkv. Lets the bench be tested against a cluster built from another branch before a merge.
private let clusterBinary: String = ProcessInfo.processInfo.environment["FASTKV_CLUSTER_BIN"] ?? fastkvBinary

/// scripts/cluster.sh, or `FASTKV_CLUSTER_SCRIPT`.
private let clusterScript: String = ProcessInfo.processInfo.environment["FASTKV_CLUSTER_SCRIPT"]
    ?? TestPaths.packageRoot.appendingPathComponent("scripts/cluster.sh").path

/// Runs a command in the package root (TestSupport's one child-process runner; output in files, so
/// the background processes the cluster scripts leave behind cannot hold it open). `dir` is where
/// the test keeps its scratch; no bench step here may take longer than 20 minutes.
private func run(_ executable: String, _ args: [String], environment: [String: String] = [:],
                 in dir: URL) throws -> CommandResult {
    try CommandRunner.run(executable, args, timeout: 1200, environment: environment)
}

/// Why the cluster cannot be started here, or nil when it can (binary with `submit`, cluster script, model).
private func clusterUnavailableReason(scratch: URL) throws -> String? {
    guard FileManager.default.isExecutableFile(atPath: fastkvBinary) else {
        return "no fastkv binary at \(fastkvBinary) (swift build -c release --product fastkv)"
    }
    guard FileManager.default.fileExists(atPath: TestPaths.smolLMGGUF.path) else { return "model missing (scripts/fetch-model.sh)" }
    guard FileManager.default.fileExists(atPath: clusterScript) else {
        return "\(clusterScript) is missing (the cluster is not merged into this branch)"
    }
    let help = try run(clusterBinary, ["submit", "--help"], in: scratch)
    guard help.status == 0 else { return "this fastkv has no submit command (the cluster is not merged into this branch)" }
    return nil
}

private func object(_ url: URL) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: url)) }

@Suite("fastkv bench end to end", .serialized)
struct BenchEndToEndTests {
    @Test("bench rejects malformed --configs with a message naming the entry")
    func rejectsBadConfigs() throws {
        guard FileManager.default.isExecutableFile(atPath: fastkvBinary) else {
            print("skipped: no fastkv binary at \(fastkvBinary)"); return
        }
        let tmp = try TemporaryDirectory("bench-args")
        for (bad, needle) in [("full:0.1", "full"), ("snapkv:0.1:0.2", "tsp_rate"), ("fastkv:1.5", "kv_rate"), ("nope", "method")] {
            let r = try run(fastkvBinary, ["bench", "--configs", bad, "--lengths", "300"], in: tmp.url)
            #expect(r.status != 0, "\(bad) was accepted")
            #expect(r.stderr.contains(needle), "\(bad): \(r.stderr)")
        }
    }

    @Test("bench writes each finished row at once: a sweep that dies half way leaves valid, partial results")
    func partialResultsSurviveAFailure() throws {
        let tmp = try TemporaryDirectory("bench-partial")
        guard FileManager.default.isExecutableFile(atPath: fastkvBinary) else { print("skipped: no fastkv binary"); return }
        guard FileManager.default.fileExists(atPath: TestPaths.smolLMGGUF.path) else { print("skipped: model missing"); return }
        // The aggregated row runs and is written; then the cluster half fails (nothing listens on the
        // coordinator endpoint), and the bench exits with an error.
        let out = tmp.file("bench")
        let bench = try run(fastkvBinary, ["bench", "--coordinator", "tcp://127.0.0.1:9", "--lengths", "100",
                                           "--configs", "full", "--requests", "1", "--max-tokens", "2", "--timeout", "3",
                                           "--out", out.path, "--submit-executable", clusterBinary,
                                           "--aggregated-model", TestPaths.smolLMGGUF.path], in: tmp.url)
        #expect(bench.status != 0, "the cluster half should have failed: \(bench.stderr)")
        let results = try #require(try object(out.appendingPathComponent("results.json")) as? [String: Any])
        #expect(results["complete"] as? Bool == false)
        #expect((results["rows_expected"] as? NSNumber)?.intValue == 2)
        let rows = try #require(results["rows"] as? [[String: Any]])
        #expect(rows.count == 1 && rows.first?["mode"] as? String == "aggregated")
        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 2 && csv[0].contains("exposed_transfer_p50_ms") && csv[1].hasPrefix("aggregated,full,"))
        let readme = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("Partial run:** 1 of 2 rows") && readme.contains("| aggregated | full |"))
    }

    @Test("bench on a local cluster (300 and 600 tokens, full and fastkv:0.1:0.2): JSON, CSV and charts agree with the KV size formula")
    func benchAgainstLocalCluster() throws {
        let tmp = try TemporaryDirectory("bench-e2e")
        if let reason = try clusterUnavailableReason(scratch: tmp.url) { print("skipped: \(reason)"); return }
        let runDir = tmp.file("cluster").path
        let env = ["FASTKV_BIN": clusterBinary]
        let up = try run("/bin/bash", [clusterScript, "up", "--prefill", "1", "--decode", "1", "--run-dir", runDir,
                                       "--listen", "tcp://127.0.0.1:*", "--model", TestPaths.smolLMGGUF.path, "--no-http"], environment: env, in: tmp.url)
        defer { _ = try? run("/bin/bash", [clusterScript, "down", "--run-dir", runDir], environment: env, in: tmp.url) }
        try #require(up.status == 0, "cluster.sh up failed: \(up.stderr)")
        let endpoint = try String(contentsOfFile: runDir + "/coordinator.endpoint", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let out = tmp.file("bench")
        let bench = try run(fastkvBinary, ["bench", "--coordinator", endpoint, "--lengths", "300,600",
                                           "--configs", "full,fastkv:0.1:0.2", "--requests", "1", "--max-tokens", "4",
                                           "--wire-dtype", "f16", "--out", out.path, "--submit-executable", clusterBinary,
                                           "--aggregated-model", TestPaths.smolLMGGUF.path], in: tmp.url)
        try #require(bench.status == 0, "bench failed: \(bench.stderr)")
        #expect(bench.stdout.contains("| cluster | fastkv:0.1:0.2 |"))

        let results = try #require(try object(out.appendingPathComponent("results.json")) as? [String: Any])
        let rows = try #require(results["rows"] as? [[String: Any]])
        #expect(rows.count == 8, "2 modes × 2 configs × 2 lengths, got \(rows.count)")
        func num(_ row: [String: Any], _ key: String) -> Double? { (row[key] as? NSNumber)?.doubleValue }
        let cluster = rows.filter { $0["mode"] as? String == "cluster" }
        #expect(cluster.count == 4)
        for target in [300, 600] {
            let full = try #require(cluster.first { $0["config"] as? String == "full" && num($0, "target_tokens") == Double(target) })
            let fast = try #require(cluster.first { $0["config"] as? String == "fastkv:0.1:0.2" && num($0, "target_tokens") == Double(target) })
            #expect(num(full, "errors") == 0 && num(fast, "errors") == 0)
            let n = try #require(num(full, "prompt_tokens"))
            #expect(n <= Double(target) && n >= Double(target) * 0.9, "prompt of \(n) tokens for target \(target)")
            let fullPayload = Double(2 * layerCount * kvHeads * headDim * 2) * n
            #expect(num(full, "full_kv_wire_bytes") == fullPayload)
            let header = try #require(num(full, "header_bytes_p50"))
            // Headers carry every kept entry's position per KV head (varints, ≤ 2 B below 2^14), 30 layers.
            #expect(header > 0 && header < Double(layerCount * kvHeads) * n * 2 + 64 * 1024)
            #expect(num(full, "wire_bytes_p50") == fullPayload + header, "full wire bytes = payload formula + headers")
            #expect(num(full, "wire_ratio_to_full").map { abs($0 - (fullPayload + header) / fullPayload) < 1e-9 } == true)
            let fastWire = try #require(num(fast, "wire_bytes_p50"))
            #expect(fastWire <= fullPayload * 0.2, "fastkv:0.1 moved \(fastWire) B of \(fullPayload)")
            for row in [full, fast] {
                for key in ["ttft_p50_ms", "ttft_p90_ms", "prefill_p50_ms", "e2e_p50_ms", "throughput_rps"] {
                    #expect((num(row, key) ?? -1) > 0, "\(row["config"]!) N=\(target): \(key) = \(String(describing: row[key]))")
                }
                #expect(num(row, "ttft_p90_ms")! >= num(row, "ttft_p50_ms")!)
                // The transfer left after prefill: present, non-negative, inside the request's TTFT and e2e.
                let exposed = try #require(num(row, "exposed_transfer_p50_ms"), "\(row["config"]!) N=\(target): no exposed_transfer_p50_ms")
                #expect(exposed >= 0 && exposed <= num(row, "e2e_p50_ms")! && exposed <= num(row, "ttft_p50_ms")!,
                        "exposed \(exposed) ms vs TTFT \(num(row, "ttft_p50_ms")!) / e2e \(num(row, "e2e_p50_ms")!)")
            }
        }
        #expect(results["complete"] as? Bool == true && num(results, "rows_expected") == 8)
        let aggregated = rows.filter { $0["mode"] as? String == "aggregated" }
        #expect(aggregated.count == 4 && aggregated.allSatisfy { $0["wire_bytes_p50"] == nil && num($0, "ttft_p50_ms")! > 0 })
        #expect(aggregated.allSatisfy { $0["exposed_transfer_p50_ms"] == nil }, "the aggregated path moves no KV")

        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(csv.count == 9 && csv.allSatisfy { $0.count == csv[0].count }, "CSV: header + 8 rows of equal width")
        if let col = csv.first?.firstIndex(of: "wire_bytes_p50"), let cfg = csv.first?.firstIndex(of: "config") {
            let csvFull = csv.dropFirst().filter { $0[cfg] == "full" && !$0[col].isEmpty }.compactMap { Double($0[col]) }
            let jsonFull = cluster.filter { $0["config"] as? String == "full" }.compactMap { num($0, "wire_bytes_p50") }
            #expect(Set(csvFull) == Set(jsonFull), "CSV and JSON wire bytes agree")
        }
        let exposedColumn = try #require(csv.first?.firstIndex(of: "exposed_transfer_p50_ms"), "CSV has exposed_transfer_p50_ms")
        if let mode = csv.first?.firstIndex(of: "mode"), let cfg = csv.first?.firstIndex(of: "config"),
           let tokens = csv.first?.firstIndex(of: "prompt_tokens") {
            for line in csv.dropFirst() {
                let value = line[exposedColumn]
                if line[mode] == "aggregated" { #expect(value.isEmpty, "aggregated rows have no exposed transfer"); continue }
                let json = cluster.first { $0["config"] as? String == String(line[cfg]) && num($0, "prompt_tokens") == Double(line[tokens]) }
                #expect(Double(value) != nil && Double(value).map { abs($0 - (json.flatMap { num($0, "exposed_transfer_p50_ms") } ?? -1)) < 1e-6 } == true,
                        "CSV exposed \(value) vs JSON")
            }
        }
        let readme = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("commit:") && readme.contains("machine:") && readme.contains("fastkv:0.1:0.2"))
        #expect(readme.contains("| exposed |") && !readme.contains("Partial run"))
        if (try? run("/usr/bin/env", ["gnuplot", "--version"], in: tmp.url).status) == 0 {
            for chart in ["ttft.svg", "ttft.png", "wire.svg", "wire.png"] {
                let size = (try? FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(chart).path)[.size] as? Int) ?? 0
                #expect(size > 1000, "\(chart) missing or empty")
            }
            let svg = try String(contentsOf: out.appendingPathComponent("wire.svg"), encoding: .utf8)
            #expect(svg.contains("cluster fastkv:0.1:0.2"), "the wire chart has a fastkv series")
        } else {
            print("gnuplot not installed: chart files not checked")
        }
    }

    /// Why the netns tests cannot run here (nil when they can): they need the cluster binary, root,
    /// a working `ip netns` (iproute2) and no fkv-* namespaces of another run.
    private func netnsSkipReason(_ tmp: TemporaryDirectory) throws -> String? {
        if let reason = try clusterUnavailableReason(scratch: tmp.url) { return reason }
        guard getuid() == 0 else { return "network namespaces need root" }
        let probe = try run("/usr/bin/env", ["ip", "netns", "list"], in: tmp.url)
        guard probe.status == 0 else { return "ip netns unusable (iproute2 installed?): \(probe.stderr)" }
        if probe.stdout.contains("fkv-") { return "an fkv-* netns cluster is already running" }
        return nil
    }

    /// Here rather than in ReliabilityRunTests: netns runs share the fkv-* namespace names, and this
    /// suite is the one that runs them one at a time.
    @Test("chaos on emulated hosts: link cuts between hosts and kill -9 under load; every request correct or a named error in time, nothing leaked")
    func netnsChaos() throws {
        let tmp = try TemporaryDirectory("chaos-netns")
        if let reason = try netnsSkipReason(tmp) { print("skipped: \(reason)"); return }
        let out = tmp.file("chaos.json")
        let r = try run("/usr/bin/env", ["python3", TestPaths.packageRoot.appendingPathComponent("scripts/chaos.py").path, "chaos",
                                         "--netns", "--faults", "cut,kill", "--duration", "50", "--fault-every", "5",
                                         "--bin", clusterBinary, "--run-dir", tmp.file("run").path, "--out", out.path], in: tmp.url)
        #expect(r.status == 0, "netns chaos failed: \(r.stdout.suffix(3000)) \(r.stderr.suffix(2000))")
        let report = try #require(try object(out) as? [String: Any])
        #expect(report["wrong_or_late"] as? Int == 0)
        #expect(report["settled"] as? Bool == true)
        // A worker chaos restarted has a pid netns-cluster.sh never recorded; it must not outlive the run.
        #expect((report["left_running_after_down"] as? [String]) == [], "still running after down: \(report["left_running_after_down"] ?? "none reported")")
        let kinds = Set((report["faults"] as? [[String: Any]] ?? []).compactMap { $0["fault"] as? String })
        #expect(kinds.contains("cut"), "no link was cut: \(report["faults"] ?? "")")
        let probe = try run("/usr/bin/env", ["ip", "netns", "list"], in: tmp.url)
        #expect(!probe.stdout.contains("fkv-"), "namespaces left behind: \(probe.stdout)")
    }

    @Test("netns cluster (1+1 workers, 1gbit link) serves a request from the root namespace and tears down cleanly")
    func netnsCluster() throws {
        let tmp = try TemporaryDirectory("bench-netns")
        if let reason = try netnsSkipReason(tmp) { print("skipped: \(reason)"); return }

        let runDir = tmp.file("netns").path
        let env = ["FASTKV_BIN": clusterBinary]
        // Through a command substitution, as users script it: it returns only if no process the
        // script started kept the caller's stdout (the timeout fails the test otherwise).
        let up = try CommandRunner.run("/bin/bash", ["-c", #"out=$(scripts/netns-cluster.sh "$@") || exit $?; printf '%s\n' "$out""#,
                                                     "netns-up", "up", "--prefill", "1", "--decode", "1", "--link", "1gbit",
                                                     "--run-dir", runDir, "--model", TestPaths.smolLMGGUF.path],
                                       timeout: 300, environment: env)
        #expect(!up.timedOut, "out=$(netns-cluster.sh up …) did not return: a started process holds the caller's stdout")
        defer {
            _ = try? run("/bin/bash", ["scripts/netns-cluster.sh", "down", "--run-dir", runDir], environment: env, in: tmp.url)
            let after = (try? run("/usr/bin/env", ["ip", "netns", "list"], in: tmp.url).stdout) ?? ""
            #expect(!after.contains("fkv-"), "namespaces left behind: \(after)")
        }
        if up.status != 0 && up.stderr.contains("cannot create network namespaces") { print("skipped: \(up.stderr)"); return }
        try #require(up.status == 0, "netns-cluster.sh up failed: \(up.stderr)")
        let r = try run(clusterBinary, ["submit", "--coordinator", "tcp://10.77.0.1:5555", "--prompt",
                                       String(repeating: "The grass is green. ", count: 20), "--max-tokens", "4",
                                       "--method", "fastkv", "--kv-rate", "0.1", "--tsp-rate", "0.2", "--json", "--timeout", "120"],
                        in: tmp.url)
        #expect(r.status == 0, "submit through the namespaces failed: \(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last.map(String.init)?.utf8 ?? "".utf8)) as? [String: Any]
        #expect(((json?["wire_bytes"] as? NSNumber)?.intValue ?? 0) > 0)
        #expect(((json?["tokens"] as? [Any])?.count ?? 0) >= 1)
    }

    @Test("netns cluster with a 20 ms link delay: KV and control go through the delay relays, which `down` stops")
    func netnsClusterWithDelay() throws {
        let tmp = try TemporaryDirectory("bench-netns-delay")
        if let reason = try netnsSkipReason(tmp) { print("skipped: \(reason)"); return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { print("skipped: no python3"); return }

        let runDir = tmp.file("netns").path
        let env = ["FASTKV_BIN": clusterBinary]
        let up = try run("/bin/bash", ["scripts/netns-cluster.sh", "up", "--prefill", "1", "--decode", "1",
                                       "--link", "1gbit,20ms", "--run-dir", runDir, "--model", TestPaths.smolLMGGUF.path],
                         environment: env, in: tmp.url)
        var relayPids: [pid_t] = []
        defer {
            _ = try? run("/bin/bash", ["scripts/netns-cluster.sh", "down", "--run-dir", runDir], environment: env, in: tmp.url)
            let after = (try? run("/usr/bin/env", ["ip", "netns", "list"], in: tmp.url).stdout) ?? ""
            #expect(!after.contains("fkv-"), "namespaces left behind: \(after)")
            // Gone, or a zombie awaiting its reaper (empty cmdline), within a couple of seconds.
            func running(_ pid: pid_t) -> Bool {
                ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("delay-relay")
            }
            for pid in relayPids {
                for _ in 0..<40 where running(pid) { usleep(50_000) }
                #expect(!running(pid), "relay \(pid) still running after down")
            }
        }
        if up.status != 0 && up.stderr.contains("cannot create network namespaces") { print("skipped: \(up.stderr)"); return }
        try #require(up.status == 0, "netns-cluster.sh up failed: \(up.stderr)")
        #expect(up.stderr.contains("delay relays"), "up: \(up.stderr)")
        for name in ["relay-coordinator.pid", "relay-decode-1.pid"] {
            let text = try String(contentsOfFile: runDir + "/" + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let pid = try #require(pid_t(text), "\(name): '\(text)'")
            #expect(kill(pid, 0) == 0, "\(name) is not running")
            relayPids.append(pid)
        }
        // The decode worker advertises the relay in its namespace, not its bound endpoint.
        let status = try run(clusterBinary, ["cluster-status", "--coordinator", "tcp://10.77.0.1:5555", "--json"], in: tmp.url)
        let workers = (try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["workers"] as? [[String: Any]]
        #expect(workers?.contains { $0["role"] as? String == "decode" && $0["endpoint"] as? String == "tcp://10.77.0.101:6001" } == true,
                "cluster-status: \(status.stdout)")

        let r = try run(clusterBinary, ["submit", "--coordinator", "tcp://10.77.0.1:5555", "--prompt",
                                       String(repeating: "The grass is green. ", count: 20), "--max-tokens", "4",
                                       "--method", "fastkv", "--kv-rate", "0.1", "--tsp-rate", "0.2", "--json", "--timeout", "120"],
                        in: tmp.url)
        try #require(r.status == 0, "submit through the relays failed: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last.map(String.init)?.utf8 ?? "".utf8)) as? [String: Any])
        let breakdown = json["breakdown"] as? [String: Any] ?? [:]
        let exposed = (breakdown["exposed_transfer_ms"] as? NSNumber)?.doubleValue ?? -1
        let ttft = (json["ttft_ms"] as? NSNumber)?.doubleValue ?? -1
        let prefill = (json["prefill_ms"] as? NSNumber)?.doubleValue ?? -1
        // Lower bounds the relays guarantee: KVEnd crosses one delayed link after prefill; Assignment,
        // KV and the first token each cross one between Submit and the first token.
        #expect(exposed >= 20, "exposed transfer \(exposed) ms with a 20 ms link")
        #expect(ttft - prefill >= 60, "TTFT \(ttft) − prefill \(prefill) ms with a 20 ms link")
        #expect(((json["tokens"] as? [Any])?.count ?? 0) >= 1)
    }
}
