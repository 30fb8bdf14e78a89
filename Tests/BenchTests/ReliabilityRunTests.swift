import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The reliability runs of issue 11 end to end: scripts/chaos.py (faults under load, overload)
/// and scripts/cluster.sh down, against the real release binary. Each run's own pass/fail rules
/// live in the script (so the long runs use the same ones); these tests run short versions and
/// check the report's figures as well.
@Suite("Reliability runs (chaos, overload, shutdown)", .serialized)
struct ReliabilityRunTests {
    private static let binary = ProcessInfo.processInfo.environment["FASTKV_BIN"]
        ?? TestPaths.packageRoot.appendingPathComponent(".build/release/fastkv").path
    private static let root = TestPaths.packageRoot.path

    private static func unavailable() -> String? {
        guard FileManager.default.isExecutableFile(atPath: binary) else { return "no fastkv binary at \(binary)" }
        guard FileManager.default.fileExists(atPath: TestPaths.smolLMGGUF.path) else { return "model missing" }
        return nil
    }

    /// Alive and not a zombie (nothing reaps orphans in some containers; a zombie holds no socket).
    private static func running(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        return state != "Z" && state != "X"
    }

    private func report(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test("chaos: kill -9, SIGSTOP/SIGCONT and SIGTERM of every role, the coordinator included, under load: every request correct or a named error in time, nothing leaked")
    func chaos() throws {
        if let why = Self.unavailable() { print("skipped: \(why)"); return }
        let tmp = try TemporaryDirectory("chaos")
        let out = tmp.url.appendingPathComponent("chaos.json")
        let r = try CommandRunner.run("/usr/bin/env", ["python3", "\(Self.root)/scripts/chaos.py", "chaos", "--bin", Self.binary,
                                                      "--run-dir", tmp.url.appendingPathComponent("run").path,
                                                      "--duration", "110", "--fault-every", "5", "--out", out.path],
                                      timeout: 900)
        #expect(r.status == 0, "chaos failed: \(r.stdout.suffix(3000)) \(r.stderr.suffix(2000))")
        let rep = try report(out)
        #expect(rep["wrong_or_late"] as? Int == 0)
        #expect(rep["past_deadline"] as? Int == 0)
        #expect(rep["settled"] as? Bool == true, "KV reserved or requests held after the run: \(rep["final_status"] ?? "")")
        let faults = rep["faults"] as? [[String: Any]] ?? []
        let processes = Set(faults.compactMap { $0["process"] as? String })
        let kinds = Set(faults.compactMap { $0["fault"] as? String })
        #expect(processes == ["coordinator", "prefill-1", "prefill-2", "decode-1", "decode-2"], "\(faults)")
        #expect(kinds == ["kill", "stop", "term"], "\(faults)")
        let outcomes = (rep["load"] as? [String: Any])?["outcomes"] as? [String: Int] ?? [:]
        #expect((outcomes["ok"] ?? 0) >= 20, "too few requests answered under chaos: \(outcomes)")
    }

    @Test("overload at 10× capacity on 1P+1D: every request gets a result or BUSY (with retry-after) in time; RSS bounded")
    func overload() throws {
        if let why = Self.unavailable() { print("skipped: \(why)"); return }
        let tmp = try TemporaryDirectory("overload")
        let out = tmp.url.appendingPathComponent("overload.json")
        let r = try CommandRunner.run("/usr/bin/env", ["python3", "\(Self.root)/scripts/chaos.py", "overload", "--bin", Self.binary,
                                                      "--run-dir", tmp.url.appendingPathComponent("run").path,
                                                      "--duration", "20", "--capacity-seconds", "10", "--out", out.path],
                                      timeout: 900)
        #expect(r.status == 0, "overload failed: \(r.stdout.suffix(3000)) \(r.stderr.suffix(2000))")
        let rep = try report(out)
        let outcomes = (rep["load"] as? [String: Any])?["outcomes"] as? [String: Int] ?? [:]
        #expect((outcomes["BUSY"] ?? 0) > 0, "10× capacity must be refused in part: \(outcomes)")
        #expect((outcomes["ok"] ?? 0) > 0)
        #expect(outcomes["late"] == nil && outcomes["wrong"] == nil, "\(outcomes)")
        #expect(rep["past_deadline"] as? Int == 0)
        #expect((rep["busy_with_retry_after"] as? Int ?? 0) == outcomes["BUSY"], "every BUSY carries a retry-after")
        #expect(rep["settled"] as? Bool == true)
    }

    @Test("scripts/cluster.sh down leaves no process, pid file or endpoint file behind")
    func clusterDownLeavesNothing() throws {
        if let why = Self.unavailable() { print("skipped: \(why)"); return }
        let tmp = try TemporaryDirectory("cluster-down")
        let dir = tmp.url.appendingPathComponent("run").path
        let env = ["FASTKV_BIN": Self.binary]
        let up = try CommandRunner.run("\(Self.root)/scripts/cluster.sh", ["up", "--run-dir", dir, "--listen", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"],
                                       timeout: 180, environment: env)
        #expect(up.status == 0, "up failed: \(up.stderr)")
        let pids = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pid") }
            .compactMap { Int32((try? String(contentsOfFile: "\(dir)/\($0)", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") }
        #expect(pids.count == 4, "coordinator, prefill, decode and the HTTP gateway: \(pids)")
        let endpoint = up.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = try CommandRunner.run(Self.binary, ["submit", "--coordinator", endpoint, "--prompt", "Hello", "--max-tokens", "4"],
                                           timeout: 60)
        #expect(answer.status == 0, "\(answer.stderr)")
        let down = try CommandRunner.run("\(Self.root)/scripts/cluster.sh", ["down", "--run-dir", dir], timeout: 120, environment: env)
        #expect(down.status == 0)
        for pid in pids { #expect(!Self.running(pid), "process \(pid) survived cluster.sh down") }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pid") || $0.hasSuffix(".endpoint") }
        #expect(left.isEmpty, "left behind: \(left)")
        for name in ["prefill-1", "decode-1"] {
            let log = (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? ""
            #expect(log.contains("leaving: drained"), "\(name) did not drain and leave on SIGTERM: \(log.suffix(500))")
        }
    }
}
