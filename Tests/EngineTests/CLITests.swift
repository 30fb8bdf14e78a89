import Foundation
import Testing
import TestSupport

/// The `fastkv` executable as users run it: flags, outputs and errors.
@Suite(.serialized) struct CLITests {
    @Test func generateJSONCarriesTheContractKeys() throws {
        let r = try CommandRunner.fastkv(["generate", "--chat", "--prompt", "What is the capital of France?",
                                          "--max-tokens", "16", "--json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["text", "tokens", "prompt_tokens", "prefill_ms", "decode_tokens_per_s", "kv_kept_entries",
                    "kv_full_entries", "kv_kept_bytes", "kv_full_bytes", "prefill_flops_skipped_share"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect((object["text"] as! String).contains("Paris"))
        #expect((object["prompt_tokens"] as! Int) == 37, "SmolLM2's template with its default system prompt")
    }

    @Test func logitsOutMatchesTheReference() throws {
        let golden = try Fixtures.json("golden/pub_capital.json")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-logits-\(getpid()).npy")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try CommandRunner.fastkv(["generate", "--prompt", golden["text"] as! String, "--max-tokens", "1",
                                          "--logits-out", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let data = try Data(contentsOf: out)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'<f4'") && header.contains("(49152,)"))
        let ours = data[(10 + headerLength)...].withUnsafeBytes { raw in
            (0..<49152).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        let reference = try Fixtures.npyFloats("golden/pub_capital_logits.npy")
        let worst = zip(ours, reference).map { abs($0 - $1) }.max()!
        #expect(worst <= 2e-3, "max |Δlogit| \(worst)")
    }

    @Test func selectionOutDescribesEveryLayer() throws {
        let text = try Fixtures.json("golden/pub_para300.json")["text"] as! String
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-sel-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try CommandRunner.fastkv(["generate", "--prompt", text, "--max-tokens", "2", "--method", "fastkv",
                                          "--kv-rate", "0.2", "--tsp-rate", "0.2", "--selection-out", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stderr.contains("prefill FLOPs skipped"))
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
        #expect(object["n_layers"] as? Int == 30 && object["prompt_tokens"] as? Int == 271 && object["tsp_layer"] as? Int == 14)
        #expect((object["tsp_positions"] as! [Int]).count == 54)
        let layers = object["layers"] as! [[String: Any]]
        #expect(layers.count == 30)
        #expect(layers[0]["entering_tokens"] as? Int == 271 && layers[29]["entering_tokens"] as? Int == 54)
        #expect((layers[0]["kept"] as! [[Int]]).count == 3)
    }

    @Test func tokenizePrintsIds() throws {
        let r = try CommandRunner.fastkv(["tokenize", "--text", "Hello world"])
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[19556,905]")
    }

    @Test(arguments: [
        (["generate", "--model", "/nonexistent/model.gguf", "--prompt", "hi"], "no such file"),
        (["generate", "--prompt", "hi", "--method", "fastkv", "--kv-rate", "1.5"], "--kv-rate"),
        (["generate", "--prompt", "hi", "--method", "bogus"], "--method"),
        (["generate", "--prompt", "hi", "--method", "fastkv", "--kernel", "4"], "--kernel"),
        (["generate", "--prompt", "hi", "--temperature", "-1"], "temperature"),
        (["generate", "--prompt-file", "/nonexistent.txt"], "cannot read"),
        (["generate"], "--prompt"),
        (["cluster-status", "--coordinator", "tcp://127.0.0.1:9", "--wait-prefill", "1", "--wait-seconds", "1"],
         "workers not ready within"),
    ])
    func badInputExitsNonZeroWithAMessage(arguments: [String], message: String) throws {
        let r = try CommandRunner.fastkv(arguments, timeout: 60)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "stderr: \(r.stderr)")
    }

    @Test func truncatedModelFileIsAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fastkv-trunc-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try FileHandle(forReadingFrom: Fixtures.requireModel())
        let head = try source.read(upToCount: 1 << 20) ?? Data()
        let truncated = dir.appendingPathComponent("cut.gguf")
        try head.write(to: truncated)
        let r = try CommandRunner.fastkv(["generate", "--model", truncated.path, "--prompt", "hi"], timeout: 60)
        #expect(r.status != 0)
        #expect(r.stderr.contains(truncated.path), "stderr: \(r.stderr)")
    }
}
