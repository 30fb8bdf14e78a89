import Foundation
import RequestVocabulary

/// Drives requests through `fastkv submit --json` subprocesses, at most `concurrency` in flight, so
/// the bench depends only on the submit CLI contract, never on the cluster's Swift internals.
public struct SubmitProcessPool: Sendable {
    public let executable: String
    public let coordinator: String
    public let concurrency: Int
    /// submit's `--timeout`; a child that outlives it by 30 s is killed (and counts as failed).
    public let timeoutSeconds: Double
    /// Where each child's stdout and stderr go while it runs (removed after).
    public let scratchDirectory: URL

    public init(executable: String, coordinator: String, concurrency: Int, timeoutSeconds: Double, scratchDirectory: URL) {
        self.executable = executable
        self.coordinator = coordinator
        self.concurrency = max(1, concurrency)
        self.timeoutSeconds = timeoutSeconds
        self.scratchDirectory = scratchDirectory
    }

    /// The results of one batch: per request, in the order given, and the batch's wall time.
    public struct Batch: Sendable {
        public var outcomes: [Result<BenchSample, HarnessError>]
        /// First child started → last child finished.
        public var wallMs: Double
    }

    /// Runs one submit per argument list (after `submit --coordinator … --timeout … --json`).
    /// `onDone` is called on this thread after each request finishes, with the count done so far.
    /// Throws only when a child cannot be started; a child that fails is a failed outcome.
    public func run(_ requests: [[String]], onDone: (Int) -> Void) throws -> Batch {
        struct Running { var index: Int; var process: Process; var out: URL; var err: URL; var start: ContinuousClock.Instant }
        let clock = ContinuousClock()
        let batchStart = clock.now
        var outcomes = [Result<BenchSample, HarnessError>?](repeating: nil, count: requests.count)
        var running: [Running] = []
        var next = 0, done = 0
        while done < requests.count {
            while running.count < concurrency && next < requests.count {
                let out = scratchDirectory.appendingPathComponent("submit-\(next).out")
                let err = scratchDirectory.appendingPathComponent("submit-\(next).err")
                _ = FileManager.default.createFile(atPath: out.path, contents: nil)
                _ = FileManager.default.createFile(atPath: err.path, contents: nil)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: executable)
                p.arguments = ["submit", "--coordinator", coordinator, "--timeout", String(timeoutSeconds), "--json"]
                    + requests[next]
                p.standardOutput = try FileHandle(forWritingTo: out)
                p.standardError = try FileHandle(forWritingTo: err)
                p.standardInput = FileHandle.nullDevice
                do { try p.run() } catch {
                    for r in running { r.process.terminate() }
                    throw HarnessError.cannotStart(executable: executable, reason: error.localizedDescription)
                }
                running.append(Running(index: next, process: p, out: out, err: err, start: clock.now))
                next += 1
            }
            // Poll (2 ms) rather than block on one child: any of them may finish first. A child
            // that outlives its own deadline by a margin is killed, so the bench never hangs.
            Thread.sleep(forTimeInterval: 0.002)
            var still: [Running] = []
            for r in running {
                let elapsedMs = (clock.now - r.start).milliseconds
                if r.process.isRunning {
                    if elapsedMs > (timeoutSeconds + 30) * 1000 { r.process.terminate() }
                    still.append(r)
                    continue
                }
                let stdout = (try? Data(contentsOf: r.out)) ?? Data()
                let stderr = String(decoding: (try? Data(contentsOf: r.err)) ?? Data(), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let result: Result<BenchSample, HarnessError>
                if r.process.terminationStatus != 0 {
                    result = .failure(.submitFailed(status: r.process.terminationStatus, stderr: String(stderr.suffix(400))))
                } else {
                    // The JSON object is the last non-empty line of stdout.
                    let line = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
                    result = Result { () throws(HarnessError) in try BenchSample(submitJSON: Data(line.utf8), wallMs: elapsedMs) }
                }
                try? FileManager.default.removeItem(at: r.out)
                try? FileManager.default.removeItem(at: r.err)
                outcomes[r.index] = result
                done += 1
                onDone(done)
            }
            running = still
        }
        return Batch(outcomes: outcomes.map { $0! }, wallMs: (clock.now - batchStart).milliseconds)
    }
}
