import Foundation
import RequestVocabulary
import Testing
import Transport
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// CURVE links end to end (issue 11): a cluster whose every socket is authenticated answers like a
/// plain one, and each kind of unauthenticated or hijacking peer is refused while it keeps serving.
@Suite("Authenticated links end to end (CURVE, real processes)", .serialized)
struct AuthEndToEndTests {
    static let question = ["--chat", "--prompt", "What is the capital of France?", "--max-tokens", "12", "--json", "--timeout", "90"]

    private func tokens(_ out: CommandOutput) -> [Int] {
        (out.json?["tokens"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
    }

    @Test("a full CURVE cluster (coordinator, 1 prefill, 1 decode, client) answers a greedy request with the plain cluster's tokens")
    func curveClusterMatchesPlain() throws {
        let plainTokens: [Int]
        do {
            let plain = try LocalCluster(prefill: 1, decode: 1)
            defer { plain.stop() }
            let out = try plain.submit(Self.question)
            #expect(out.status == 0, "plain submit: \(out.stderr)")
            plainTokens = tokens(out)
        }
        let cluster = try LocalCluster(prefill: 1, decode: 1, curve: true)
        defer { cluster.stop() }
        let out = try cluster.submit(Self.question)
        #expect(out.status == 0, "CURVE submit: \(out.stderr)")
        #expect(!plainTokens.isEmpty)
        #expect(tokens(out) == plainTokens)
        #expect(cluster.logText("coordinator").contains("(CURVE, 4 authorized keys)"))
        // The secret key `fastkv keys generate` wrote is private to its owner.
        let secret = try #require(cluster.keys).appendingPathComponent("client.secret").path
        #expect((try FileManager.default.attributesOfItem(atPath: secret)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("hostile peers on a CURVE cluster: no key, an unknown key, a fake decode worker, an id hijack, KV from an unknown key or an unassigned sender — each refused while the cluster serves")
    func hostilePeersRefused() throws {
        let cluster = try LocalCluster(prefill: 1, decode: 1, curve: true)
        defer { cluster.stop() }
        let keys = try #require(cluster.keys)

        // A client without keys, and one whose key is not authorized, get nothing from the coordinator.
        let keyless = try FastKVBinary.run(["cluster-status", "--coordinator", cluster.endpoint, "--timeout", "2"], timeout: 30)
        #expect(keyless.status != 0)
        #expect(keyless.stderr.contains("no answer") && keyless.stderr.contains("without CURVE keys"), "\(keyless.stderr)")
        let strangers = cluster.directory.appendingPathComponent("strangers")
        for name in ["mallory", "fake-decode"] {
            let g = try FastKVBinary.run(["keys", "generate", "--out", strangers.path, "--name", name], timeout: 30)
            #expect(g.status == 0, "\(g.stderr)")
        }
        let serverKey = keys.appendingPathComponent("coordinator.public").path
        let unknown = try FastKVBinary.run(["cluster-status", "--coordinator", cluster.endpoint, "--timeout", "2",
                                            "--curve-secret-key", strangers.appendingPathComponent("mallory.secret").path,
                                            "--curve-server-key", serverKey], timeout: 30)
        #expect(unknown.status != 0)
        #expect(cluster.logText("coordinator").contains("is not in the authorized keys"))

        // A decode worker with an unknown key never registers (it would otherwise attract prompts' KV).
        _ = try cluster.launchExtra("fake-decode", [
            "decode-worker", "--coordinator", cluster.endpoint, "--model", FastKVBinary.model,
            "--curve-secret-key", strangers.appendingPathComponent("fake-decode.secret").path,
            "--curve-server-key", serverKey,
            "--authorized-keys", keys.appendingPathComponent("authorized_keys").path])
        let started = Date()
        while !cluster.logText("fake-decode").contains("serving") && Date().timeIntervalSince(started) < 60 { usleep(100_000) }
        usleep(2_500_000)   // > two registration attempts
        let rows = try cluster.status()
        #expect(rows.filter { ($0["role"] as? String) == "decode" }.count == 1, "\(rows)")
        #expect(!cluster.logText("fake-decode").contains("registered with the coordinator"))

        // An authorized key (the client's) registering the live prefill worker's id is refused by name.
        let prefill = try #require(rows.first { ($0["role"] as? String) == "prefill" })
        let prefillID = try #require((prefill["id"] as? NSNumber)?.uint64Value)
        let fingerprint = try #require(cluster.logText("coordinator").firstMatch(of: /\((llama-[0-9a-z-]+)\)/)?.1)
        let context = try ZMQContext()
        var options = SocketOptions()
        options.curve = .client(try Self.keyPair(keys.appendingPathComponent("client.secret")),
                                serverKey: try Self.publicKey(URL(fileURLWithPath: serverKey)))
        let thief = try context.socket(.dealer, options: options)
        try thief.connect(cluster.endpoint)
        let register = Register(workerID: prefillID, role: .prefill, controlEndpoint: "thief",
                                model: ModelShape(fingerprint: Array(fingerprint.utf8), layerCount: 30, kvHeads: 3, headDim: 64),
                                kvCapacityBytes: 0, maxSequences: 1, softwareVersion: "thief")
        try thief.send(header: try Message.register(register).encoded(), timeout: .seconds(5))
        let reply = try Message.decode(frame: try thief.receive(timeout: .seconds(5)).header)
        guard case .error(let e) = reply else {
            Issue.record("the hijacking Register got \(reply.kind), not an error")
            return
        }
        #expect(e.message.contains("registered by another key"), "\(e.message)")
        thief.close()

        // KV pushed to the decode worker's KV endpoint by a key it does not admit never arrives.
        let decodeRow = try #require(rows.first { ($0["role"] as? String) == "decode" })
        let kvEndpoint = try #require(decodeRow["endpoint"] as? String)
        var pushOptions = SocketOptions()
        pushOptions.curve = .client(try Self.keyPair(strangers.appendingPathComponent("mallory.secret")),
                                    serverKey: try Self.publicKey(keys.appendingPathComponent("decode-0.public")))
        let pusher = try context.socket(.dealer, options: pushOptions)
        try pusher.connect(kvEndpoint)
        let begin = KVBegin(requestID: 99, model: register.model, wireDType: .f16, promptLength: 4,
                            entryCounts: Array(repeating: 2, count: 30), sampling: try SamplingParameters(maxTokens: 4),
                            compression: .full, deadlineUnixMillis: nil, prefillWorkerID: prefillID)
        #expect(throws: TransportError.self) { try pusher.send(header: try Message.kvBegin(begin).encoded(), timeout: .seconds(2)) }
        pusher.close()
        #expect(cluster.logText("decode-0").contains("is not in the authorized keys"))

        // An authorized key (the client's) that is not the assigned prefill worker: KV for a request
        // that really ran, claiming its prefill worker's id, is refused at once; KV for a request the
        // coordinator never assigned is refused when no assignment comes. The decode worker serves on.
        let client = try context.socket(.dealer, options: options)
        try client.connect(cluster.endpoint)
        let liveID: UInt64 = 4242
        try client.send(header: try Message.submit(Submit(requestID: liveID, prompt: .text("What is 2 + 2?"), chat: true,
                                                          sampling: try SamplingParameters(maxTokens: 4))).encoded(),
                        timeout: .seconds(5))
        var finished = false
        let until = Date(timeIntervalSinceNow: 90)
        while !finished && Date() < until {
            if case .result(let r) = try Message.decode(frame: try client.receive(timeout: .seconds(90)).header) {
                finished = r.requestID == liveID
            }
        }
        #expect(finished)
        client.close()
        var inside = SocketOptions()
        inside.curve = .client(try Self.keyPair(keys.appendingPathComponent("client.secret")),
                               serverKey: try Self.publicKey(keys.appendingPathComponent("decode-0.public")))
        for (request, reason) in [(liveID, "not the key prefill worker \(prefillID) registered with"),
                                  (UInt64(99), "no assignment of request 99")] {
            let impostor = try context.socket(.dealer, options: inside)
            try impostor.connect(kvEndpoint)
            var claim = begin
            claim.requestID = request
            try impostor.send(header: try Message.kvBegin(claim).encoded(), timeout: .seconds(5))
            let refusal = try Message.decode(frame: try impostor.receive(timeout: .seconds(10)).header)
            if case .error(let e) = refusal {
                #expect(e.message.contains(reason), "\(e.message)")
            } else {
                Issue.record("KV from an unassigned sender got \(refusal.kind)")
            }
            impostor.close()
        }

        // An impostor's KVBegin that arrives before the request is even submitted waits for the
        // assignment, is refused the moment it names the real prefill worker, and the live transfer
        // of that same request completes with the right answer.
        let early = try context.socket(.dealer, options: inside)
        try early.connect(kvEndpoint)
        let raceID: UInt64 = 4343
        var claim = begin
        claim.requestID = raceID
        try early.send(header: try Message.kvBegin(claim).encoded(), timeout: .seconds(5))
        usleep(200_000)
        let racer = try context.socket(.dealer, options: options)
        try racer.connect(cluster.endpoint)
        try racer.send(header: try Message.submit(Submit(requestID: raceID, prompt: .text("What is the capital of France?"), chat: true,
                                                         sampling: try SamplingParameters(maxTokens: 8))).encoded(),
                       timeout: .seconds(5))
        let refusal = try Message.decode(frame: try early.receive(timeout: .seconds(10)).header)
        if case .error(let e) = refusal {
            #expect(e.message.contains("not the key prefill worker \(prefillID) registered with"), "\(e.message)")
        } else {
            Issue.record("the early impostor got \(refusal.kind)")
        }
        var raceResult: RequestResult?
        let raceUntil = Date(timeIntervalSinceNow: 90)
        while raceResult == nil && Date() < raceUntil {
            let m = try Message.decode(frame: try racer.receive(timeout: .seconds(90)).header)
            if case .result(let r) = m, r.requestID == raceID { raceResult = r }
            if case .error(let e) = m { Issue.record("the live request failed: \(e.message)"); break }
        }
        #expect(raceResult?.text.contains("Paris") == true, "\(String(describing: raceResult?.text))")
        early.close()
        racer.close()

        // The real prefill worker is untouched and serves.
        let out = try cluster.submit(Self.question)
        #expect(out.status == 0, "\(out.stderr)")
        #expect((out.json?["text"] as? String)?.contains("Paris") == true)
        #expect((out.json?["prefill_worker"] as? NSNumber)?.uint64Value == prefillID)
    }

    @Test("binding beyond loopback without keys is refused with the way out; --insecure accepts it")
    func nonLoopbackNeedsCurveOrInsecure() throws {
        try FastKVBinary.check()
        let coordinator = try FastKVBinary.run(["coordinator", "--listen", "tcp://0.0.0.0:*", "--model", FastKVBinary.model], timeout: 60)
        #expect(coordinator.status == 1)
        #expect(coordinator.stderr.contains("--listen tcp://0.0.0.0:* is reachable from other hosts") && coordinator.stderr.contains("--insecure"),
                "\(coordinator.stderr)")
        let decode = try FastKVBinary.run(["decode-worker", "--kv-listen", "tcp://0.0.0.0:*", "--model", FastKVBinary.model], timeout: 60)
        #expect(decode.status == 1)
        #expect(decode.stderr.contains("--kv-listen tcp://0.0.0.0:*"), "\(decode.stderr)")
        let advertise = try FastKVBinary.run(["decode-worker", "--kv-advertise", "tcp://10.77.0.101:6001", "--model", FastKVBinary.model], timeout: 60)
        #expect(advertise.status == 1)
        #expect(advertise.stderr.contains("--kv-advertise"), "\(advertise.stderr)")

        // With --insecure the coordinator binds and serves (started as a process, stopped at once).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FastKVBinary.path)
        p.arguments = ["coordinator", "--listen", "tcp://0.0.0.0:*", "--insecure", "--model", FastKVBinary.model]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let line = Self.firstLine(of: pipe.fileHandleForReading, within: 60)
        #expect(line?.hasPrefix("coordinator listening on tcp://0.0.0.0:") == true, "\(line ?? "nothing")")
    }

    // MARK: helpers

    static func firstLine(of handle: FileHandle, within seconds: TimeInterval) -> String? {
        let box = LineBox()
        let done = DispatchSemaphore(value: 0)
        Thread {
            var bytes: [UInt8] = []
            while true {
                let d = handle.readData(ofLength: 1)
                if d.isEmpty || d.first == 10 { break }
                bytes += d
            }
            box.set(String(decoding: bytes, as: UTF8.self))
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return box.get()
    }

    static func keyPair(_ secretFile: URL) throws -> CurveKeyPair {
        let text = try String(contentsOf: secretFile, encoding: .utf8)
        let secret = try #require(text.split(separator: "\n").first { $0.hasPrefix("secret ") }?.split(separator: " ").last)
        return try CurveKeyPair(secretKey: try CurveKey(z85: secret))
    }

    static func publicKey(_ publicFile: URL) throws -> CurveKey {
        let text = try String(contentsOf: publicFile, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { !$0.hasPrefix("#") })
        return try CurveKey(z85: try #require(line.split(separator: " ").last))
    }
}

private final class LineBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    func set(_ v: String) { lock.lock(); value = v; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return value }
}
