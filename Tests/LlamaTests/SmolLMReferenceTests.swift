import Checkpoints
import Foundation
import Llama
import Testing
import TestSupport

enum SmolLM {
    static let gguf: Result<LlamaModel, Error> = Result {
        try LlamaModel(checkpoint: openCheckpoint(at: Fixtures.requireModel()))
    }
    static let hf: Result<LlamaModel, Error> = Result {
        try LlamaModel(checkpoint: openCheckpoint(at: Fixtures.requireModel(TestPaths.smolLMHF)))
    }

    static func prefill(_ model: LlamaModel, _ ids: [Int32], reserve: Int = 0) throws -> (KVCache, [Float]) {
        let cache = model.makeCache(capacity: ids.count + reserve)
        var policy = FullKVPolicy()
        let out = try model.prefill(tokens: ids, cache: cache, policy: &policy)
        return (cache, out.logits!)
    }

    static func argmax(_ x: [Float]) -> Int32 {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return Int32(best)
    }
}

/// The engine against HF transformers (f32, SDPA) on the same SmolLM2 weights.
@Suite(.serialized) struct SmolLMReferenceTests {
    static let prompts = ["pub_capital", "pub_chat_capital", "pub_para300"]

    @Test(arguments: prompts)
    func lastLogitsMatchReference(name: String) throws {
        let model = try SmolLM.gguf.get()
        let golden = try Fixtures.json("golden/\(name).json")
        let ids = (golden["ids"] as! [Any]).int32s
        let reference = try Fixtures.npyFloats("golden/\(name)_logits.npy")
        let (_, logits) = try SmolLM.prefill(model, ids)
        #expect(logits.count == reference.count)
        let worst = zip(logits, reference).map { abs($0 - $1) }.max()!
        #expect(worst <= 2e-3, "\(name): max |Δlogit| \(worst) > 2e-3")
    }

    @Test(arguments: prompts)
    func greedyContinuationMatchesReference(name: String) throws {
        let model = try SmolLM.gguf.get()
        let golden = try Fixtures.json("golden/\(name).json")
        let ids = (golden["ids"] as! [Any]).int32s
        let expected = (golden["greedy16"] as! [Any]).int32s
        let margins = (golden["greedy16_top1_minus_top2"] as! [Any]).floats
        let (cache, logits) = try SmolLM.prefill(model, ids, reserve: 16)
        var tokens = [SmolLM.argmax(logits)]
        while tokens.count < 16 {   // the reference never stops at EOS
            tokens.append(SmolLM.argmax(try model.decode(tokens: [tokens.last!], caches: [cache])[0]))
        }
        if let t = zip(tokens, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            #expect(t > 0 && margins[t - 1] < 1e-3, "\(name): greedy token \(t) differs: \(tokens) vs \(expected)")
        }
    }

    /// Post-RoPE K and V (as stored in the cache) for layers 0, 14 and 29, KV head 0, positions 0–3.
    @Test func cachedKeysAndValuesMatchReference() throws {
        let model = try SmolLM.gguf.get()
        let golden = try Fixtures.json("golden/pub_capital.json")
        let ids = (golden["ids"] as! [Any]).int32s
        let samples = golden["kv_samples"] as! [String: Any]
        let perLayer = samples["per_layer"] as! [String: [String: Any]]
        let (cache, _) = try SmolLM.prefill(model, ids)
        var worst: Float = 0
        for (layerName, kv) in perLayer {
            let layer = cache.layers[Int(layerName)!]
            // Wire order: head 0's entries first.
            var keys = [Float](repeating: 0, count: layer.entryCount * 64), values = keys
            keys.withUnsafeMutableBufferPointer { k in
                values.withUnsafeMutableBufferPointer { v in layer.copyEntries(keys: k.baseAddress!, values: v.baseAddress!) }
            }
            for (p, row) in (kv["K"] as! [[Any]]).enumerated() {
                for (c, x) in row.floats.enumerated() { worst = max(worst, abs(keys[p * 64 + c] - x)) }
            }
            for (p, row) in (kv["V"] as! [[Any]]).enumerated() {
                for (c, x) in row.floats.enumerated() { worst = max(worst, abs(values[p * 64 + c] - x)) }
            }
            #expect(layer.positions(head: 0) == [0, 1, 2, 3, 4])
        }
        #expect(worst < 1e-4, "max |ΔK/V| \(worst)")
    }

    /// The same weights through the HF directory (safetensors f32) give the same logits.
    @Test func ggufAndHFDirectoryGiveTheSameLogits() throws {
        let gguf = try SmolLM.gguf.get(), hf = try SmolLM.hf.get()
        #expect(gguf.config == hf.config)
        let ids = (try Fixtures.json("golden/pub_para300.json")["ids"] as! [Any]).int32s
        let (_, a) = try SmolLM.prefill(gguf, ids)
        let (_, b) = try SmolLM.prefill(hf, ids)
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "max |Δlogit| GGUF vs HF \(worst)")
        // Decode goes through the packed Q4_1 kernel on one side and f32 on the other.
        let (ca, la) = try SmolLM.prefill(gguf, ids, reserve: 1)
        let (cb, lb) = try SmolLM.prefill(hf, ids, reserve: 1)
        let t = SmolLM.argmax(la)
        #expect(t == SmolLM.argmax(lb))
        let da = try gguf.decode(tokens: [t], caches: [ca])[0], db = try hf.decode(tokens: [t], caches: [cb])[0]
        let decodeWorst = zip(da, db).map { abs($0 - $1) }.max()!
        #expect(decodeWorst < 1e-3, "max |Δlogit| after one decode step \(decodeWorst)")
    }

    /// Batched decode (one matrix product for several sequences) equals decoding them one by one.
    @Test func batchedDecodeEqualsSingleDecode() throws {
        let model = try SmolLM.gguf.get()
        let prompts: [[Int32]] = ["pub_capital", "pub_chat_capital", "pub_para300"].map {
            (try! Fixtures.json("golden/\($0).json")["ids"] as! [Any]).int32s
        }
        var single: [[Float]] = []
        for ids in prompts {
            let (cache, logits) = try SmolLM.prefill(model, ids, reserve: 2)
            single.append(try model.decode(tokens: [SmolLM.argmax(logits)], caches: [cache])[0])
        }
        var caches: [KVCache] = [], firsts: [Int32] = []
        for ids in prompts {
            let (cache, logits) = try SmolLM.prefill(model, ids, reserve: 2)
            caches.append(cache)
            firsts.append(SmolLM.argmax(logits))
        }
        let batched = try model.decode(tokens: firsts, caches: caches)
        for i in prompts.indices {
            let worst = zip(single[i], batched[i]).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "sequence \(i): max |Δ| \(worst)")
        }
    }

    @Test func badTokensAndOverflowAreErrors() throws {
        let model = try SmolLM.gguf.get()
        var policy = FullKVPolicy()
        #expect(throws: LlamaError.emptyPrompt) {
            try model.prefill(tokens: [], cache: model.makeCache(capacity: 1), policy: &policy)
        }
        #expect(throws: LlamaError.tokenOutOfRange(token: 49152, vocabularySize: 49152)) {
            try model.prefill(tokens: [1, 49152], cache: model.makeCache(capacity: 2), policy: &policy)
        }
        #expect(throws: LlamaError.contextOverflow(needed: 8193, limit: 8192)) {
            try model.prefill(tokens: [1], positions: [8192], cache: model.makeCache(capacity: 1), policy: &policy)
        }
    }
}
