import Cluster
import Foundation
import RequestVocabulary
import TestSupport
import Testing
import Wire
#if canImport(Glibc)
import Glibc
#endif

private func int(_ json: [String: Any]?, _ key: String) -> Int { (json?[key] as? NSNumber)?.intValue ?? -1 }

/// Faults issue 11 §4 names, against real processes: a paused (SIGSTOP) worker, a coordinator
/// that restarts, and a Submit the coordinator cannot decode.
@Suite("Faults end to end (real processes on loopback)", .serialized)
struct FaultEndToEndTests {
    private func paragraph() throws -> String {
        try #require(try Fixtures.json("golden/pub_para300.json")["text"] as? String)
    }

    @Test("a Submit the coordinator cannot decode fails in the client at once, not at its deadline")
    func undecodableSubmitFailsAtOnce() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 1)
        defer { cluster.stop() }
        let client = try ClusterClient(coordinator: cluster.endpoint)
        let start = ContinuousClock.now
        // Request id 0 encodes but does not decode (ids are nonzero): the coordinator never learns it.
        #expect {
            _ = try client.submit(Submit(requestID: 0, prompt: .text("hello")), clientTimeout: .seconds(60))
        } throws: { error in
            guard case ClusterError.remote(let e) = error else { return false }
            return e.code == .malformed
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        // An oversized request is refused before it is sent, naming the limit.
        let huge = String(repeating: "a", count: WireLimits.default.maxEnvelopeBytes + 1)
        #expect {
            _ = try client.submit(GenerationRequest(prompt: .text(huge)), clientTimeout: .seconds(60))
        } throws: { error in
            guard case ClusterError.badRequest(let message) = error else { return false }
            return message.contains("at most \(WireLimits.default.maxEnvelopeBytes)")
        }
    }

    @Test("a decode worker paused (SIGSTOP) past the worker timeout: its request runs elsewhere; resumed, it drops its stale work and rejoins")
    func pausedWorkerRejoins() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 2)
        defer { cluster.stop() }
        let knobs = ["--prompt", try paragraph(), "--max-tokens", "160"]
        let reference = try FastKVBinary.run(["generate", "--model", FastKVBinary.model, "--json"] + knobs)
        let expected = reference.json?["tokens"] as? [Int]
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedOutputs()
        DispatchQueue.global().async {
            outcome.set(0, Result { try cluster.submit(knobs + ["--json", "--timeout", "90"], timeout: 120) })
            done.signal()
        }
        var paused: (id: Int, pid: Int32)?
        let until = Date(timeIntervalSinceNow: 30)
        while paused == nil && Date() < until {
            for w in (try? cluster.status()) ?? [] where (w["role"] as? String) == "decode" && int(w, "active_sequences") > 0 {
                if let pid = cluster.pid(ofDecodeWorkerWithEndpoint: w["endpoint"] as? String ?? "") {
                    kill(pid, SIGSTOP)
                    paused = (int(w, "id"), pid)
                    break
                }
            }
            usleep(20_000)
        }
        let target = try #require(paused, "no decode worker was seen holding the request")
        usleep(5_000_000)   // past the 3 s worker timeout
        kill(target.pid, SIGCONT)
        #expect(done.wait(timeout: .now() + 120) == .success)
        let out = try #require(try outcome.get(0)?.get())
        #expect(out.status == 0, "\(out.stderr)")
        #expect((out.json?["tokens"] as? [Int]) == expected, "the answer is the full greedy one, once")
        #expect(int(out.json, "decode_worker") != target.id)
        // It rejoins (registers again) and holds nothing: its stale sequence was dropped.
        let rejoinBy = Date(timeIntervalSinceNow: 20)
        var row: [String: Any]?
        while Date() < rejoinBy {
            row = try cluster.status().first { int($0, "id") == target.id }
            if let row, int(row, "free_kv_bytes") == int(row, "kv_capacity_bytes"), int(row, "active_sequences") == 0 { break }
            usleep(200_000)
        }
        #expect(row != nil, "the resumed worker did not register again")
        #expect(int(row, "free_kv_bytes") == int(row, "kv_capacity_bytes"), "stale KV still reserved: \(row ?? [:])")
        let log = cluster.logText(cluster.processes.first { $0.process.processIdentifier == target.pid }?.name ?? "")
        #expect(log.contains("dropped all held work"), "\(log.suffix(800))")
    }

    @Test("a Submit held up on the way to the coordinator (coordinator paused 4 s): the client waits for the coordinator's own answer at its deadline instead of giving up first")
    func delayedSubmitGetsTheCoordinatorsAnswer() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 1)
        defer { cluster.stop() }
        let coordinator = try #require(cluster.process(named: "coordinator"))
        let client = try ClusterClient(coordinator: cluster.endpoint)
        _ = try client.workers()   // the connection is up, so the Submit waits in its TCP stream
        // More than the deadline can serve (1000 tokens in 2 s would be 500 tok/s), EOS ignored.
        let request = GenerationRequest(prompt: .text(try paragraph()),
                                        sampling: try SamplingParameters(maxTokens: 1000, stopAtEOS: false),
                                        timeout: .seconds(2), stream: true)
        let pid = coordinator.processIdentifier
        kill(pid, SIGSTOP)
        let resumed = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { usleep(4_000_000); kill(pid, SIGCONT); resumed.signal() }
        defer { resumed.wait() }
        let started = ContinuousClock.now
        // The client's own bound (deadline + 1 s) is shorter than the pause: before the client
        // counted it from the coordinator's first word, it gave up at 3 s while the coordinator,
        // which receives the Submit at 4 s, would answer DEADLINE_EXCEEDED at about 6 s.
        do {
            let outcome = try client.submit(request, clientTimeout: .seconds(3))
            Issue.record("a 1000-token request finished within a 2 s deadline: \(outcome.result.tokenIDs.count) tokens")
        } catch ClusterError.remote(let e) {
            #expect(e.code == .deadlineExceeded, "\(e.code.label): \(e.message)")
        } catch {
            Issue.record("expected the coordinator's DEADLINE_EXCEEDED, got \(error)")
        }
        let waited = ContinuousClock.now - started
        #expect(waited > .seconds(4) && waited < .seconds(9), "answered after \(waited)")
    }

    @Test("a coordinator restart: the waiting client is told COORDINATOR_LOST within seconds; workers re-register by themselves and serve again")
    func coordinatorRestart() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 1)
        defer { cluster.stop() }
        let knobs = ["--prompt", try paragraph(), "--max-tokens", "200"]
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedOutputs()
        let started = Date()
        DispatchQueue.global().async {
            outcome.set(0, Result { try cluster.submit(knobs + ["--json", "--timeout", "90"], timeout: 120) })
            done.signal()
        }
        // Restart once the request is being served.
        let until = Date(timeIntervalSinceNow: 30)
        while Date() < until, !((try? cluster.status()) ?? []).contains(where: { int($0, "active_sequences") > 0 || int($0, "queued_prompt_tokens") > 0 }) {
            usleep(20_000)
        }
        try cluster.restartCoordinator()
        #expect(done.wait(timeout: .now() + 60) == .success)
        let out = try #require(try outcome.get(0)?.get())
        #expect(out.status != 0)
        #expect(out.stderr.contains("COORDINATOR_LOST"), "\(out.stderr)")
        #expect(Date().timeIntervalSince(started) < 45, "the client must not wait out its 90 s deadline")
        try cluster.waitForWorkers(prefill: 1, decode: 1, timeout: 30)
        let again = try cluster.submit(["--prompt", "Hello", "--max-tokens", "4", "--json"], timeout: 60)
        #expect(again.status == 0, "\(again.stderr)")
        // The dropped stale sequence gives its KV back.
        let freeBy = Date(timeIntervalSinceNow: 20)
        var decode: [String: Any]?
        while Date() < freeBy {
            decode = try cluster.status().first { ($0["role"] as? String) == "decode" }
            if int(decode, "free_kv_bytes") == int(decode, "kv_capacity_bytes") { break }
            usleep(200_000)
        }
        #expect(int(decode, "free_kv_bytes") == int(decode, "kv_capacity_bytes"))
    }
}
