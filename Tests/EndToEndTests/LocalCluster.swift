import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the end-to-end harness, with the context needed to debug a failed run.
enum HarnessError: Error, CustomStringConvertible {
    case binaryMissing(String)
    case startFailed(String)
    case timedOut(String)
    case badOutput(String)

    var description: String {
        switch self {
        case .binaryMissing(let p): "the fastkv binary is missing at \(p): run `swift build -c release --product fastkv` (scripts/test.sh does)"
        case .startFailed(let m): "could not start the cluster: \(m)"
        case .timedOut(let m): "timed out: \(m)"
        case .badOutput(let m): "unexpected output: \(m)"
        }
    }
}

/// What a finished `fastkv` invocation printed.
struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
    var json: [String: Any]? {
        guard let line = stdout.split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object
    }
}

/// The release `fastkv` binary, run as a child process with a deadline.
enum FastKVBinary {
    static var path: String { TestPaths.packageRoot.appendingPathComponent(".build/release/fastkv").path }
    static var model: String { TestPaths.smolLMGGUF.path }

    static func check() throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw HarnessError.binaryMissing(path) }
        guard FileManager.default.fileExists(atPath: model) else {
            throw HarnessError.binaryMissing("model \(model) (run scripts/fetch-model.sh)")
        }
    }

    /// Runs `fastkv args…` to completion (killed after `timeout`, which is an error here).
    static func run(_ args: [String], timeout: TimeInterval = 120) throws -> CommandOutput {
        let r = try CommandRunner.run(URL(fileURLWithPath: path), args, timeout: timeout)
        if r.timedOut { throw HarnessError.timedOut("fastkv \(args.joined(separator: " ")) after \(timeout) s") }
        return CommandOutput(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }
}

/// A coordinator plus workers on loopback (the coordinator binds an OS-chosen port, so concurrent
/// runs never collide). `stop()` kills every process it started; call it in a `defer`.
final class LocalCluster: @unchecked Sendable {
    let directory: URL
    private(set) var endpoint = ""
    private(set) var processes: [(name: String, process: Process)] = []
    /// With `curve`: the key files (`fastkv keys generate`) of every role and of the test's client,
    /// and `authorized_keys` admitting all of them (coordinator and decode workers use it).
    let keys: URL?
    /// What `cluster-status` and `submit` add to talk to this cluster (the client's keys, or nothing).
    private(set) var clientArgs: [String] = []

    init(prefill: Int, decode: Int, decodeArgs: [String] = [], curve: Bool = false) throws {
        try FastKVBinary.check()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        keys = curve ? directory.appendingPathComponent("keys") : nil
        do {
            if curve { try generateKeys(prefill: prefill, decode: decode) }
            try start(prefill: prefill, decode: decode, decodeArgs: decodeArgs)
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    private func launch(_ name: String, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FastKVBinary.path)
        p.arguments = args
        p.currentDirectoryURL = TestPaths.packageRoot
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = env
        FileManager.default.createFile(atPath: log(name).path, contents: nil)
        FileManager.default.createFile(atPath: directory.appendingPathComponent("\(name).out").path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: log(name))
        p.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("\(name).out"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        processes.append((name, p))
        return p
    }

    /// `fastkv keys generate` for every role and the client; the authorized keys are all their public files.
    private func generateKeys(prefill: Int, decode: Int) throws {
        guard let keys else { return }
        let names = ["coordinator", "client"] + (0..<prefill).map { "prefill-\($0)" } + (0..<decode).map { "decode-\($0)" }
        var authorized = ""
        for name in names {
            let out = try FastKVBinary.run(["keys", "generate", "--out", keys.path, "--name", name], timeout: 30)
            guard out.status == 0 else { throw HarnessError.startFailed("keys generate \(name): \(out.stderr)") }
            authorized += try String(contentsOf: keys.appendingPathComponent("\(name).public"), encoding: .utf8)
        }
        try authorized.write(to: keys.appendingPathComponent("authorized_keys"), atomically: true, encoding: .utf8)
        clientArgs = curveArgs("client")
    }

    /// The CURVE flags of role `name` (its secret key, the coordinator's public key, the authorized keys).
    func curveArgs(_ name: String, authorized: Bool = false) -> [String] {
        guard let keys else { return [] }
        var args = ["--curve-secret-key", keys.appendingPathComponent("\(name).secret").path]
        if name != "coordinator" { args += ["--curve-server-key", keys.appendingPathComponent("coordinator.public").path] }
        if authorized { args += ["--authorized-keys", keys.appendingPathComponent("authorized_keys").path] }
        return args
    }

    /// Starts one more `fastkv` process (e.g. a hostile worker) that `stop()` will end.
    func launchExtra(_ name: String, _ args: [String]) throws -> Process { try launch(name, args) }

    func log(_ name: String) -> URL { directory.appendingPathComponent("\(name).log") }

    /// SIGKILLs the coordinator and starts a new one on the same endpoint (the workers must find it
    /// and register again by themselves). Its log continues in coordinator-2.log.
    func restartCoordinator() throws {
        guard let old = process(named: "coordinator") else { throw HarnessError.startFailed("no coordinator") }
        kill(old.processIdentifier, SIGKILL)
        old.waitUntilExit()
        processes.removeAll { $0.name == "coordinator" }
        _ = try launch("coordinator-2", ["coordinator", "--listen", endpoint, "--model", FastKVBinary.model])
    }

    func logText(_ name: String) -> String { (try? String(contentsOf: log(name), encoding: .utf8)) ?? "" }

    private func start(prefill: Int, decode: Int, decodeArgs: [String]) throws {
        _ = try launch("coordinator", ["coordinator", "--listen", "tcp://127.0.0.1:*", "--model", FastKVBinary.model]
                       + curveArgs("coordinator", authorized: true))
        let out = directory.appendingPathComponent("coordinator.out")
        let deadline = Date(timeIntervalSinceNow: 30)
        while endpoint.isEmpty {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("coordinator listening on ") }) {
                endpoint = String(line.dropFirst("coordinator listening on ".count))
                break
            }
            guard Date() < deadline else { throw HarnessError.startFailed("no endpoint; log: \(logText("coordinator"))") }
            guard processes[0].process.isRunning else { throw HarnessError.startFailed(logText("coordinator")) }
            usleep(50_000)
        }
        for i in 0..<prefill {
            _ = try launch("prefill-\(i)", ["prefill-worker", "--coordinator", endpoint, "--model", FastKVBinary.model]
                           + curveArgs("prefill-\(i)"))
        }
        for i in 0..<decode {
            _ = try launch("decode-\(i)", ["decode-worker", "--coordinator", endpoint, "--model", FastKVBinary.model]
                           + curveArgs("decode-\(i)", authorized: true) + decodeArgs)
        }
        try waitForWorkers(prefill: prefill, decode: decode, timeout: 60)
    }

    /// `cluster-status --wait-prefill/--wait-decode` (what the scripts use for readiness): returns
    /// when the healthy workers are registered, exits 1 with the reason when they are not in time.
    func waitForWorkers(prefill: Int, decode: Int, timeout: TimeInterval) throws {
        let out = try FastKVBinary.run(["cluster-status", "--coordinator", endpoint, "--wait-prefill", String(prefill),
                                        "--wait-decode", String(decode), "--wait-seconds", String(timeout)] + clientArgs,
                                       timeout: timeout + 15)
        guard out.status == 0 else {
            throw HarnessError.startFailed("\(out.stderr.trimmingCharacters(in: .whitespacesAndNewlines)); logs in \(directory.path)")
        }
    }

    func status() throws -> [[String: Any]] {
        let out = try FastKVBinary.run(["cluster-status", "--coordinator", endpoint, "--json", "--timeout", "2"] + clientArgs, timeout: 10)
        guard out.status == 0, let workers = out.json?["workers"] as? [[String: Any]] else {
            throw HarnessError.badOutput("cluster-status: \(out.stderr)")
        }
        return workers
    }

    func submit(_ args: [String], timeout: TimeInterval = 120) throws -> CommandOutput {
        try FastKVBinary.run(["submit", "--coordinator", endpoint] + clientArgs + args, timeout: timeout)
    }

    func process(named name: String) -> Process? { processes.first { $0.name == name }?.process }

    /// The decode worker whose log says it serves KV on `endpoint` (what `cluster-status` lists).
    func pid(ofDecodeWorkerWithEndpoint endpoint: String) -> Int32? {
        guard !endpoint.isEmpty else { return nil }
        return processes.first { $0.name.hasPrefix("decode-") && logText($0.name).contains("KV endpoint \(endpoint)") }?
            .process.processIdentifier
    }

    /// Kills every process this cluster started (SIGTERM, then SIGKILL) and waits for them.
    func stop() {
        for (_, p) in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }
        let deadline = Date(timeIntervalSinceNow: 3)
        while processes.contains(where: { $0.process.isRunning }) && Date() < deadline { usleep(20_000) }
        for (_, p) in processes where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        processes.removeAll()
    }
}
