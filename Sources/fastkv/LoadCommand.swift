import ArgumentParser
import Cluster
import Foundation
import RequestVocabulary

/// `fastkv load`: a steady stream of requests against a cluster, each outcome classified and
/// written as one JSON line, a summary at the end. The load side of the chaos, overload and soak
/// runs (scripts/chaos.py): one client per request in flight (a DEALER each), so a slow request
/// never holds up another, and every request waits at most its own deadline plus a margin.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Send requests at a set rate or concurrency; classify every outcome (correct, wrong, error by code, late).",
        discussion: """
        --prompts is a JSON-lines file, one request per line: {"prompt": "...", "chat": false, "method": "full", \
        "max_tokens": 12, "expect": [token ids]} ("method" is any --method value; "expect", when present, is the \
        greedy answer the request must produce). Requests cycle through the lines. Outcomes: ok (matched or no \
        expectation), wrong (a different answer: a bug), an error code (BUSY, DEADLINE_EXCEEDED, WORKER_LOST, \
        UNAVAILABLE, COORDINATOR_LOST, ...), late (no answer within the deadline plus --late-margin: a hang).
        """)

    @OptionGroup var endpoint: ClusterEndpointOptions
    @OptionGroup var curveOptions: CurveOptions
    @Option(help: "JSON-lines file of requests (see above).")
    var prompts: String
    @Option(help: "Open loop: start this many requests per second (0 = closed loop with --concurrency).")
    var rate: Double = 0
    @Option(help: "Closed loop: requests in flight at once. Open loop: the most in flight (more are counted as client_busy).")
    var concurrency: Int = 4
    @Option(help: "Seconds to keep starting requests.")
    var duration: Double = 30
    @Option(help: "Per-request deadline in seconds (the cluster's).")
    var timeout: Double = 30
    @Option(help: "Seconds past the deadline after which a request with no answer counts as late (hung).")
    var lateMargin: Double = 10
    @Option(help: "Write one JSON line per request here.")
    var out: String?

    func validate() throws {
        guard rate >= 0, rate.isFinite, concurrency >= 1, duration > 0, timeout > 0, lateMargin >= 0 else {
            throw ValidationError("--rate ≥ 0, --concurrency ≥ 1, --duration and --timeout > 0, --late-margin ≥ 0")
        }
    }

    struct Spec: Decodable, Sendable {
        var prompt: String
        var chat: Bool?
        var method: String?
        var max_tokens: Int?
        var expect: [Int32]?
    }

    struct Outcome: Encodable, Sendable {
        var index: Int
        var spec: Int
        var start_s: Double
        var latency_ms: Double
        var ttft_ms: Double?
        var outcome: String
        var retry_after_ms: Int64?
        var message: String?
    }

    func run() throws {
        try runReportingErrors {
            let specs = try Self.readSpecs(prompts)
            let requests = try specs.map { s -> GenerationRequest in
                let method = try CompressionMethod(rawValue: s.method ?? "full").orThrow("unknown method \(s.method ?? "")")
                return GenerationRequest(prompt: .text(s.prompt), chat: s.chat ?? false,
                                         sampling: try SamplingParameters(maxTokens: s.max_tokens ?? 16),
                                         compression: try CompressionConfig(method: method),
                                         timeout: .milliseconds(Int64(timeout * 1000)), stream: true)
            }
            let curve = try curveOptions.credentials()
            let log = OutcomeLog(path: out)
            let clock = ContinuousClock()
            let start = clock.now
            let end = start + .milliseconds(Int64(duration * 1000))
            let inFlight = InFlight()
            let group = DispatchGroup()
            var index = 0
            while clock.now < end {
                if rate > 0 {
                    let due = start + .milliseconds(Int64(Double(index) / rate * 1000))
                    if due > clock.now { Thread.sleep(forTimeInterval: (due - clock.now).seconds) }
                    guard clock.now < end else { break }
                    guard inFlight.tryEnter(limit: concurrency) else {
                        log.write(Outcome(index: index, spec: index % specs.count, start_s: (clock.now - start).seconds,
                                          latency_ms: 0, outcome: "client_busy"))
                        index += 1
                        continue
                    }
                } else {
                    inFlight.enter(limit: concurrency)
                }
                let i = index, which = index % specs.count
                index += 1
                let request = requests[which], expect = specs[which].expect
                let startedAt = (clock.now - start).seconds
                group.enter()
                let thread = Thread { [self] in
                    defer { inFlight.leave(); group.leave() }
                    log.write(self.one(i, spec: which, request: request, expect: expect, startedAt: startedAt, curve: curve))
                }
                thread.start()
            }
            _ = group.wait(timeout: .now() + timeout + lateMargin + 30)
            let summary = log.summary(seconds: (clock.now - start).seconds)
            print(summary)
        }
    }

    private func one(_ i: Int, spec: Int, request: GenerationRequest, expect: [Int32]?, startedAt: Double,
                     curve: CurveCredentials?) -> Outcome {
        let clock = ContinuousClock()
        let t0 = clock.now
        var o = Outcome(index: i, spec: spec, start_s: startedAt, latency_ms: 0, outcome: "ok")
        do {
            let client = try ClusterClient(coordinator: endpoint.coordinator, curve: curve)
            let r = try client.submit(request, clientTimeout: .milliseconds(Int64((timeout + lateMargin) * 1000)))
            o.ttft_ms = r.clientTimeToFirstToken?.milliseconds
            if let expect, r.result.tokenIDs != expect {
                o.outcome = "wrong"
                o.message = "got \(r.result.tokenIDs), expected \(expect)"
            }
        } catch ClusterError.remote(let e) {
            o.outcome = e.code.label
            o.retry_after_ms = e.retryAfter?.wholeMilliseconds
            o.message = e.message
        } catch ClusterError.deadlineExceeded(let op, _) {
            // The client's own wait (deadline + margin) ran out: the cluster never answered.
            o.outcome = "late"
            o.message = op
        } catch ClusterError.coordinatorLost(_, let reason) {
            o.outcome = "COORDINATOR_LOST"
            o.message = reason
        } catch {
            o.outcome = "client_error"
            o.message = "\(error)"
        }
        o.latency_ms = (clock.now - t0).milliseconds
        return o
    }

    static func readSpecs(_ path: String) throws -> [Spec] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("cannot read --prompts \(path)")
        }
        var specs: [Spec] = []
        for (n, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            do { specs.append(try JSONDecoder().decode(Spec.self, from: Data(line.utf8))) } catch {
                throw ValidationError("--prompts \(path) line \(n + 1): \(error)")
            }
        }
        guard !specs.isEmpty else { throw ValidationError("--prompts \(path) has no requests") }
        return specs
    }
}

/// Requests in flight, bounded.
private final class InFlight: @unchecked Sendable {
    private let condition = NSCondition()
    private var count = 0

    func enter(limit: Int) {
        condition.lock()
        while count >= limit { condition.wait() }
        count += 1
        condition.unlock()
    }

    func tryEnter(limit: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard count < limit else { return false }
        count += 1
        return true
    }

    func leave() {
        condition.lock()
        count -= 1
        condition.signal()
        condition.unlock()
    }
}

/// The outcomes so far: appended to the JSON-lines file as they finish, summarised at the end.
private final class OutcomeLog: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?
    private var outcomes: [LoadCommand.Outcome] = []

    init(path: String?) {
        if let path {
            FileManager.default.createFile(atPath: path, contents: nil)
            handle = FileHandle(forWritingAtPath: path)
        } else {
            handle = nil
        }
    }

    func write(_ o: LoadCommand.Outcome) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let line = (try? encoder.encode(o)).map { $0 + Data("\n".utf8) } ?? Data()
        lock.lock()
        outcomes.append(o)
        handle?.write(line)
        lock.unlock()
    }

    func summary(seconds: Double) -> String {
        lock.lock()
        let all = outcomes
        lock.unlock()
        var counts: [String: Int] = [:]
        for o in all { counts[o.outcome, default: 0] += 1 }
        let ok = all.filter { $0.outcome == "ok" }.map(\.latency_ms).sorted()
        func pct(_ p: Double) -> Double? { ok.isEmpty ? nil : ok[min(ok.count - 1, Int((Double(ok.count) * p).rounded(.up)) - 1)] }
        struct Summary: Encodable {
            var requests: Int; var outcomes: [String: Int]; var seconds: Double; var ok_per_second: Double
            var latency_ms_p50: Double?; var latency_ms_p99: Double?; var latency_ms_max: Double?
        }
        let s = Summary(requests: all.count, outcomes: counts, seconds: seconds,
                        ok_per_second: seconds > 0 ? Double(ok.count) / seconds : 0,
                        latency_ms_p50: pct(0.5), latency_ms_p99: pct(0.99), latency_ms_max: ok.last)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

private extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw ValidationError(message) }
        return self
    }
}
