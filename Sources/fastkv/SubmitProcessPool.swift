import Foundation

/// Drives requests through `fastkv submit --json` subprocesses, at most `concurrency` in flight, so
/// the bench depends only on the submit CLI contract, never on the cluster's Swift internals.
struct SubmitProcessPool {
    var executable: String
    var coordinator: String
    var concurrency: Int
    var timeoutSeconds: Double
    var scratchDirectory: URL

    struct Outcome {
        var result: Result<BenchSample, BenchError>
    }

    /// Runs one submit per argument list; returns outcomes in the same order and the batch's wall time.
    /// `onDone` is called (on this thread) after each request finishes.
    func run(_ requests: [[String]], onDone: (Int) -> Void) throws -> (outcomes: [Outcome], wallMs: Double) {
        struct Running { var index: Int; var process: Process; var out: URL; var err: URL; var start: ContinuousClock.Instant }
        let clock = ContinuousClock()
        let batchStart = clock.now
        var outcomes = [Outcome?](repeating: nil, count: requests.count)
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
                    throw BenchError.io("cannot start \(executable): \(error.localizedDescription)")
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
                let result: Result<BenchSample, BenchError>
                if r.process.terminationStatus != 0 {
                    result = .failure(.submitFailed(status: r.process.terminationStatus, stderr: String(stderr.suffix(400))))
                } else {
                    // The JSON object is the last non-empty line of stdout.
                    let line = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
                    do { result = .success(try BenchSample(submitJSON: Data(line.utf8), wallMs: elapsedMs)) } catch let e as BenchError {
                        result = .failure(e)
                    } catch {
                        result = .failure(.badSubmitOutput("\(error)"))
                    }
                }
                try? FileManager.default.removeItem(at: r.out)
                try? FileManager.default.removeItem(at: r.err)
                outcomes[r.index] = Outcome(result: result)
                done += 1
                onDone(done)
            }
            running = still
        }
        return (outcomes.map { $0! }, (clock.now - batchStart).milliseconds)
    }
}
