import Foundation
import RequestVocabulary
import TestSupport
import Testing
import Transport
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// SmolLM2-135M's KV geometry (what the wire-size checks are computed from).
private let layerCount = 30, kvHeads = 3, headDim = 64

private func paragraph() throws -> String {
    guard let text = try Fixtures.json("golden/pub_para300.json")["text"] as? String else {
        throw HarnessError.badOutput("pub_para300.json has no text")
    }
    return text
}

private func tokens(_ json: [String: Any]?) -> [Int] { (json?["tokens"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }
private func int(_ json: [String: Any]?, _ key: String) -> Int { (json?[key] as? NSNumber)?.intValue ?? -1 }

/// The aggregated reference: `fastkv generate` in one process, same prompt and knobs.
private func generate(_ args: [String], selectionOut: String? = nil) throws -> [String: Any] {
    var all = ["generate", "--model", FastKVBinary.model, "--json"] + args
    if let selectionOut { all += ["--selection-out", selectionOut] }
    let out = try FastKVBinary.run(all)
    guard out.status == 0, let json = out.json else { throw HarnessError.badOutput("generate: \(out.stderr)") }
    return json
}

@Suite("Cluster end to end (real processes on loopback)", .serialized)
struct ClusterEndToEndTests {
    @Test("greedy output through the cluster equals fastkv generate (every method, f32 wire); wire bytes add up")
    func parityAndWireBytes() throws {
        let cluster = try LocalCluster(prefill: 2, decode: 2)
        defer { cluster.stop() }
        let text = try paragraph()
        let methods = [["--method", "full"], ["--method", "fastkv", "--kv-rate", "0.1", "--tsp-rate", "0.2"],
                       ["--method", "adakv", "--kv-rate", "0.1", "--ada-alpha", "0.3"],
                       // A β other than the default: the wire bytes check below fails unless the knob
                       // reaches the prefill worker (β moves the per-layer totals).
                       ["--method", "headkv", "--kv-rate", "0.1", "--headkv-beta", "1.5"],
                       ["--method", "h2o", "--kv-rate", "0.1"],
                       ["--method", "pyramidinfer", "--kv-rate", "0.1"]]
        for method in methods {
            let knobs = ["--prompt", text, "--max-tokens", "16"] + method
            let selection = cluster.directory.appendingPathComponent("selection-\(method[1]).json").path
            let reference = try generate(knobs, selectionOut: selection)
            let out = try cluster.submit(knobs + ["--wire-dtype", "f32", "--json", "--timeout", "60"])
            #expect(out.status == 0, "submit failed: \(out.stderr)")
            let json = out.json
            #expect(tokens(json) == tokens(reference), "\(method[1]): cluster \(tokens(json)) vs generate \(tokens(reference))")
            #expect((json?["text"] as? String) == (reference["text"] as? String))

            // wire bytes = Σ_ℓ Σ_h 2·C_ℓ,h·d·4 (f32; exactly the kept entries, ragged or not) + the header overhead.
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: selection))) as? [String: Any]
            let layers = record?["layers"] as? [[String: Any]] ?? []
            let headCounts = layers.map { (($0["kept"] as? [[Any]]) ?? []).map(\.count) }
            let counts = headCounts.map { $0.reduce(0, +) }
            #expect(counts.count == layerCount)
            let n = int(json, "prompt_tokens")
            #expect(n == int(reference, "prompt_tokens"))
            if method[1] != "full" {
                #expect(counts.allSatisfy { $0 < kvHeads * n }, "\(method[1]) must really compress: \(counts)")
            }
            if method[1] == "adakv" || method[1] == "headkv" {
                #expect(headCounts.contains { Set($0).count > 1 }, "\(method[1]) should give heads different counts: \(headCounts)")
            }
            let payload = counts.reduce(0) { $0 + 2 * $1 * headDim * 4 }
            let header = int(json, "header_bytes")
            #expect(int(json, "payload_bytes") == payload)
            #expect(header > 0 && header < 64 * 1024)
            #expect(int(json, "wire_bytes") == payload + header)
            #expect(int(json, "full_kv_wire_bytes") == layerCount * 2 * kvHeads * n * headDim * 4)
            for key in ["ttft_ms", "prefill_ms", "transfer_ms", "decode_tokens_per_s", "time_to_second_token_ms"] {
                #expect(json?[key] is NSNumber, "missing \(key)")
            }
            #expect((json?["breakdown"] as? [String: Any])?["prefill_compute_ms"] is NSNumber)
            #expect(int(json, "prefill_worker") > 0 && int(json, "decode_worker") > 0)
        }
        try expectNoKVReserved(cluster)
    }

    @Test("16 concurrent requests all finish with the right answers")
    func concurrentRequests() throws {
        let cluster = try LocalCluster(prefill: 2, decode: 2)
        defer { cluster.stop() }
        let prompts = ["What is the capital of France?", "What is 2 + 2?"]
        let references = try prompts.map { try generate(["--chat", "--prompt", $0, "--max-tokens", "24"]) }
        let outputs = LockedOutputs()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let result = Result {
                try cluster.submit(["--chat", "--prompt", prompts[i % 2], "--max-tokens", "24", "--json", "--timeout", "90"],
                                   timeout: 120)
            }
            outputs.set(i, result)
        }
        var decodeWorkers = Set<Int>()
        for i in 0..<16 {
            guard let out = try outputs.get(i)?.get() else { Issue.record("request \(i) has no outcome"); continue }
            #expect(out.status == 0, "request \(i): \(out.stderr)")
            #expect(tokens(out.json) == tokens(references[i % 2]), "request \(i)")
            decodeWorkers.insert(int(out.json, "decode_worker"))
        }
        #expect(decodeWorkers.count == 2, "both decode workers should have served: \(decodeWorkers)")
        try expectNoKVReserved(cluster)
    }

    @Test("a prefill worker killed mid-prefill: the request is retried elsewhere and still answers correctly")
    func prefillWorkerKilled() throws {
        let cluster = try LocalCluster(prefill: 2, decode: 1)
        defer { cluster.stop() }
        let text = Array(repeating: try paragraph(), count: 4).joined(separator: "\n\n")
        // The prefill worker that took the request shows queued tokens; its endpoint is "pid N".
        try expectAnswerSurvivesKill(cluster, knobs: ["--prompt", text, "--max-tokens", "8"], role: "prefill",
                                     busy: { int($0, "queued_prompt_tokens") > 0 },
                                     pid: { Int32(($0["endpoint"] as? String ?? "").replacingOccurrences(of: "pid ", with: "")) })
    }

    @Test("a decode worker killed mid-decode: the request is prefilled again on the other pair and answers correctly")
    func decodeWorkerKilled() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 2)
        defer { cluster.stop() }
        // The decode worker holding the sequence (or its incoming KV) shows an active sequence.
        try expectAnswerSurvivesKill(cluster, knobs: ["--prompt", try paragraph(), "--max-tokens", "160"], role: "decode",
                                     busy: { int($0, "active_sequences") > 0 },
                                     pid: { cluster.pid(ofDecodeWorkerWithEndpoint: $0["endpoint"] as? String ?? "") })
    }

    @Test("SIGTERM drains a decode worker: the request it holds finishes there, then it deregisters and exits 0")
    func decodeWorkerDrains() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 2)
        defer { cluster.stop() }
        try expectAnswerSurvivesKill(cluster, knobs: ["--prompt", try paragraph(), "--max-tokens", "160"], role: "decode",
                                     busy: { int($0, "active_sequences") > 0 },
                                     pid: { cluster.pid(ofDecodeWorkerWithEndpoint: $0["endpoint"] as? String ?? "") },
                                     signal: SIGTERM)
    }

    @Test("SIGTERM drains a prefill worker: its prefill finishes, then it deregisters and exits 0")
    func prefillWorkerDrains() throws {
        let cluster = try LocalCluster(prefill: 2, decode: 1)
        defer { cluster.stop() }
        let text = Array(repeating: try paragraph(), count: 4).joined(separator: "\n\n")
        try expectAnswerSurvivesKill(cluster, knobs: ["--prompt", text, "--max-tokens", "8"], role: "prefill",
                                     busy: { int($0, "queued_prompt_tokens") > 0 },
                                     pid: { Int32(($0["endpoint"] as? String ?? "").replacingOccurrences(of: "pid ", with: "")) },
                                     signal: SIGTERM)
    }

    /// Submits `knobs`, sends `signal` to the `role` worker `busy` picks out while it serves the
    /// request, and expects the full greedy answer (exactly once), with nothing left reserved.
    /// SIGKILL: the answer comes from the workers that are left. SIGTERM: the worker drains, so the
    /// answer comes from it, and then it leaves (deregistered at once, exit status 0).
    private func expectAnswerSurvivesKill(_ cluster: LocalCluster, knobs: [String], role: String,
                                          busy: ([String: Any]) -> Bool,
                                          pid: ([String: Any]) -> Int32?, signal: Int32 = SIGKILL) throws {
        let reference = try generate(knobs)
        let outcome = LockedOutputs()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome.set(0, Result { try cluster.submit(knobs + ["--json", "--timeout", "90"], timeout: 120) })
            done.signal()
        }
        var killed: Int?
        var killedPid: Int32?
        let deadline = Date(timeIntervalSinceNow: 30)
        while killed == nil && Date() < deadline {
            for w in (try? cluster.status()) ?? [] where (w["role"] as? String) == role && busy(w) {
                guard let target = pid(w) else { continue }
                kill(target, signal)
                killed = int(w, "id")
                killedPid = target
                break
            }
            usleep(20_000)
        }
        #expect(killed != nil, "no \(role) worker was seen serving the request")
        #expect(done.wait(timeout: .now() + 120) == .success)
        let out = try outcome.get(0)?.get()
        #expect(out?.status == 0, "submit failed after the signal: \(out?.stderr ?? "")")
        #expect(tokens(out?.json) == tokens(reference), "the answer must be the full greedy continuation, once")
        if signal == SIGTERM {
            #expect(int(out?.json, "\(role)_worker") == killed, "a draining worker finishes what it holds")
            let process = cluster.processes.first { $0.process.processIdentifier == killedPid }?.process
            let exitBy = Date(timeIntervalSinceNow: 15)
            while process?.isRunning == true && Date() < exitBy { usleep(50_000) }
            #expect(process?.isRunning == false, "the drained worker must exit")
            #expect(process.map { !$0.isRunning && $0.terminationStatus == 0 } == true)
            #expect(cluster.logText("coordinator").contains("left: drained"))
            #expect(try cluster.status().allSatisfy { int($0, "id") != killed }, "deregistered, not waiting for a timeout")
        } else {
            #expect(int(out?.json, "\(role)_worker") != killed)
            #expect(cluster.logText("coordinator").contains("lost"))
        }
        try expectNoKVReserved(cluster)
    }

    @Test("malformed frames to the coordinator and to a decode worker's KV endpoint are rejected; both keep serving")
    func malformedFrames() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 1)
        defer { cluster.stop() }
        let context = try ZMQContext()
        let toCoordinator = try context.socket(.dealer)
        try toCoordinator.connect(cluster.endpoint)
        func expectError(_ socket: ZMQSocket, _ what: String, code: ErrorCode = .malformed) throws {
            let reply = try socket.receive(timeout: .seconds(5))
            let message = try Message.decode(frame: reply.header)
            guard case .error(let e) = message else { Issue.record("\(what): expected an error, got \(message.kind)"); return }
            #expect(e.code == code, "\(what): \(e.message)")
        }
        var rng = SystemRandomNumberGenerator()
        let garbage = (0..<200).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try toCoordinator.send(header: garbage, timeout: .seconds(2))
        try expectError(toCoordinator, "random bytes to the coordinator")
        let submit = try Message.submit(Submit(requestID: 7, prompt: .text("hello"), stream: true)).encoded()
        try toCoordinator.send(header: Array(submit.prefix(submit.count / 2)), timeout: .seconds(2))
        try expectError(toCoordinator, "truncated envelope to the coordinator")

        // The decode worker's KV endpoint, and the model fingerprint from the coordinator's log.
        let decode = try cluster.status().first { ($0["role"] as? String) == "decode" }
        let kvEndpoint = try #require(decode?["endpoint"] as? String)
        let capacity = int(decode, "free_kv_bytes")
        let log = cluster.logText("coordinator")
        let fingerprint = try #require(log.firstMatch(of: /\((llama-[0-9a-z-]+)\)/)?.1)
        let toDecode = try context.socket(.dealer)
        try toDecode.connect(kvEndpoint)
        try toDecode.send(header: garbage, timeout: .seconds(2))
        try expectError(toDecode, "random bytes to the KV endpoint")
        try toDecode.send(header: Array(submit.prefix(submit.count / 2)), timeout: .seconds(2))
        try expectError(toDecode, "truncated envelope to the KV endpoint")
        let shape = ModelShape(fingerprint: Array(fingerprint.utf8), layerCount: layerCount, kvHeads: kvHeads, headDim: headDim)
        let begin = KVBegin(requestID: 99, model: shape, wireDType: .f16, promptLength: 4,
                            entryCounts: Array(repeating: 2 * kvHeads, count: layerCount), sampling: try SamplingParameters(maxTokens: 4),
                            compression: .full, deadlineUnixMillis: nil, prefillWorkerID: 1)
        try toDecode.send(header: try Message.kvBegin(begin).encoded(), timeout: .seconds(2))
        let tensorBytes = kvHeads * 2 * headDim * 2
        let twoEach = Array(repeating: 2, count: kvHeads), twoPositions: [Int32] = (0..<kvHeads).flatMap { _ -> [Int32] in [0, 1] }
        let layer = KVLayerHeader(requestID: 99, layerIndex: 0, headEntryCounts: twoEach, positions: twoPositions,
                                  frameByteCounts: [tensorBytes, tensorBytes], keyFrameCount: 1)
        try toDecode.send([.bytes(try Message.kvLayer(layer).encoded()), .bytes(Array(repeating: 0, count: 100)),
                           .bytes(Array(repeating: 0, count: tensorBytes))], timeout: .seconds(2))
        try expectError(toDecode, "KVLayer with wrong frame lengths")

        // An entry count other than KVBegin announced is refused before anything is sized by it.
        let other = KVBegin(requestID: 100, model: shape, wireDType: .f16, promptLength: 4,
                            entryCounts: Array(repeating: 2 * kvHeads, count: layerCount), sampling: try SamplingParameters(maxTokens: 4),
                            compression: .full, deadlineUnixMillis: nil, prefillWorkerID: 1)
        try toDecode.send(header: try Message.kvBegin(other).encoded(), timeout: .seconds(2))
        let inflated = KVLayerHeader(requestID: 100, layerIndex: 1, headEntryCounts: Array(repeating: 3, count: kvHeads),
                                     positions: (0..<kvHeads).flatMap { _ -> [Int32] in [0, 1, 2] },
                                     frameByteCounts: [tensorBytes * 3 / 2, tensorBytes * 3 / 2], keyFrameCount: 1)
        try toDecode.send([.bytes(try Message.kvLayer(inflated).encoded()), .bytes(Array(repeating: 0, count: tensorBytes * 3 / 2)),
                           .bytes(Array(repeating: 0, count: tensorBytes * 3 / 2))], timeout: .seconds(2))
        try expectError(toDecode, "KVLayer with more entries than KVBegin announced")

        // A complete transfer whose timestamps are impossible (sent at UInt64.max, prefill ending
        // before it started): installed and decoded, durations saturate, nothing traps.
        var skewed = other
        skewed.requestID = 101
        skewed.sentUnixMicros = .max
        skewed.attempt = 1
        try toDecode.send(header: try Message.kvBegin(skewed).encoded(), timeout: .seconds(2))
        // A stale attempt's KVBegin for the same request (another sender) never replaces attempt 1's.
        let stale = try context.socket(.dealer)
        try stale.connect(kvEndpoint)
        var staleBegin = skewed
        staleBegin.attempt = 0
        try stale.send(header: try Message.kvBegin(staleBegin).encoded(), timeout: .seconds(2))
        try expectError(stale, "a stale attempt's KVBegin", code: .cancelled)
        stale.close()
        for l in 0..<layerCount {
            let h = KVLayerHeader(requestID: 101, layerIndex: l, headEntryCounts: twoEach, positions: twoPositions,
                                  frameByteCounts: [tensorBytes, tensorBytes], keyFrameCount: 1)
            try toDecode.send([.bytes(try Message.kvLayer(h).encoded()), .bytes(Array(repeating: 0, count: tensorBytes)),
                               .bytes(Array(repeating: 0, count: tensorBytes))], timeout: .seconds(2))
        }
        let end = KVEnd(requestID: 101, firstToken: 1, layerCount: layerCount, payloadBytes: 2 * tensorBytes * layerCount,
                        times: StageTimes(prefillStartUnixMicros: .max, prefillEndUnixMicros: 1, kvSentUnixMicros: 5))
        try toDecode.send(header: try Message.kvEnd(end).encoded(), timeout: .seconds(2))
        usleep(500_000)

        // A message of 1,100 empty frames (over the 1,024-frame limit) to either role is dropped with
        // a log line; before, it escaped the coordinator's loop and the process exited.
        let flood = [OutgoingFrame](repeating: .bytes([]), count: 1100)
        try toCoordinator.send(flood, timeout: .seconds(2))
        try toDecode.send(flood, timeout: .seconds(2))
        usleep(300_000)
        toDecode.close()
        toCoordinator.close()

        // Both still serve, and the refused transfer's reservation is gone.
        let out = try cluster.submit(["--chat", "--prompt", "What is the capital of France?", "--max-tokens", "16", "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect((out.json?["text"] as? String)?.contains("Paris") == true)
        usleep(700_000)
        let after = try cluster.status().first { ($0["role"] as? String) == "decode" }
        #expect(int(after, "free_kv_bytes") == capacity)
    }

    @Test("an impossible deadline ends in DEADLINE_EXCEEDED; a decode worker without room answers BUSY")
    func deadlineAndBusy() throws {
        // 200 kB of KV: room for a few positions (46 kB each on this model at f32), not for the chat question.
        let cluster = try LocalCluster(prefill: 1, decode: 1, decodeArgs: ["--max-kv-bytes", "200000"])
        defer { cluster.stop() }
        let late = try cluster.submit(["--prompt", "Hello", "--max-tokens", "1", "--timeout", "0.001"], timeout: 30)
        #expect(late.status != 0)
        #expect(late.stderr.contains("DEADLINE_EXCEEDED"), "\(late.stderr)")
        let busy = try cluster.submit(["--chat", "--prompt", "What is the capital of France?", "--max-tokens", "16",
                                       "--timeout", "30"], timeout: 60)
        #expect(busy.status != 0)
        #expect(busy.stderr.contains("BUSY"), "\(busy.stderr)")
        usleep(700_000)
        let decode = try cluster.status().first { ($0["role"] as? String) == "decode" }
        #expect(int(decode, "free_kv_bytes") == 200_000, "a refused request must not keep KV reserved")
    }

    @Test("an f16 decode worker is planned at 2 bytes per element: a request that fits only at f16 is served")
    func f16DecodeWorkerPlannedAtItsElementSize() throws {
        let knobs = ["--chat", "--prompt", "What is the capital of France?", "--max-tokens", "16"]
        let n = int(try generate(knobs), "prompt_tokens")
        #expect(n > 0)
        // Full KV for n + 16 positions: 30 layers · 2 · 3 heads · 64 · 2 bytes = 23040 B per position at
        // f16, twice that at f32. Room for the f16 plan and 8 positions more, well under the f32 plan.
        let f16Bytes = layerCount * 2 * kvHeads * headDim * 2 * (n + 16)
        let capacity = f16Bytes + layerCount * 2 * kvHeads * headDim * 2 * 8
        #expect(capacity < 2 * f16Bytes * 9 / 10)
        let cluster = try LocalCluster(prefill: 1, decode: 1,
                                       decodeArgs: ["--kv-dtype", "f16", "--max-kv-bytes", "\(capacity)"])
        defer { cluster.stop() }
        let out = try cluster.submit(knobs + ["--json", "--timeout", "60"], timeout: 90)
        #expect(out.status == 0, "the coordinator must plan the f16 worker's KV at 2 bytes per element: \(out.stderr)")
        #expect((out.json?["text"] as? String)?.contains("Paris") == true, "\(out.stdout)")
        #expect(cluster.logText("coordinator").contains("\(capacity) KV bytes, 2 per element"))
        usleep(700_000)
        let decode = try cluster.status().first { ($0["role"] as? String) == "decode" }
        #expect(int(decode, "free_kv_bytes") == capacity, "the request must release its KV")
    }
}

/// Every decode worker is back to its full capacity once all requests ended.
private func expectNoKVReserved(_ cluster: LocalCluster) throws {
    usleep(700_000)   // one heartbeat
    for w in try cluster.status() where (w["role"] as? String) == "decode" {
        #expect(int(w, "free_kv_bytes") == 2 << 30, "decode worker \(int(w, "id")) still holds KV: \(w)")
        #expect(int(w, "active_sequences") == 0)
    }
}

final class LockedOutputs: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Result<CommandOutput, any Error>] = [:]
    func set(_ i: Int, _ r: Result<CommandOutput, any Error>) { lock.lock(); values[i] = r; lock.unlock() }
    func get(_ i: Int) -> Result<CommandOutput, any Error>? { lock.lock(); defer { lock.unlock() }; return values[i] }
}
