import Engine
import Foundation
import Llama
import TestSupport
import Testing

/// The Llama-3.2-1B-shaped checkpoint (random weights, real geometry: 16 layers, hidden 2048, 32/8
/// heads, vocab 128256, tied embeddings, llama3 RoPE scaling) against llama.cpp on the same weights.
/// The fixtures were written by `scripts/llamacpp-logits.py` from llama.cpp b11312 running an F32
/// copy of each GGUF (f32 products, f32 KV cache); the checkpoints are regenerated here by
/// `scripts/make-llama-checkpoint.py`, which is deterministic (scripts/test.sh writes them).
/// Each fixture holds llama.cpp's tokens (so the Llama-3 tokenizer is checked on the prompts), the
/// last position's 32 largest logits and every 97th one, and an 8-token greedy continuation.
@Suite(.serialized) struct Llama1BShapeReferenceTests {
    enum Stored: String, CaseIterable, Sendable { case f16, q8_0 }

    static func checkpoint(_ s: Stored) -> URL { TestPaths.models.appendingPathComponent("llama-1b-shape.\(s.rawValue).gguf") }
    static func fixture(_ s: Stored) -> URL {
        TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/llama-1b-shape/llamacpp-logits.\(s.rawValue).json")
    }

    /// f32 against f32 on identical weights: what is left is summation order over k = 2048…8192 and
    /// 16 layers (measured 2e-5 at most on the avx512 and avx2 paths, 2026-12-02).
    static let tolerance: Float = 1e-3

    @Test(arguments: Stored.allCases)
    func logitsAndGreedyTokensMatchLlamaCpp(stored: Stored) throws {
        let path = Self.checkpoint(stored)
        guard FileManager.default.fileExists(atPath: path.path) else {
            Issue.record("\(path.path) is missing: python3 scripts/make-llama-checkpoint.py --shape 1b --format \(stored.rawValue) --out \(path.path) (scripts/test.sh does)")
            return
        }
        let data = try Data(contentsOf: Self.fixture(stored))
        let fixture = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompts = try #require(fixture["prompts"] as? [[String: Any]])
        #expect(prompts.count == 3)
        // The longest prompt plus its continuation bounds the plan (the default would plan 131072).
        let loaded = try LoadedModel.load(path: path.path, options: .init(contextLimit: 1024))
        #expect(loaded.model.config.vocabularySize == fixture["vocab_size"] as? Int)
        for prompt in prompts {
            let name = try #require(prompt["name"] as? String), text = try #require(prompt["text"] as? String)
            let expectedIds = try #require(prompt["ids"] as? [Any]).int32s
            let ids = (loaded.tokenizer.addBOS ? [loaded.tokenizer.bosTokenId!] : [])
                + loaded.tokenizer.encode(text, allowSpecial: false)
            if let i = zip(ids, expectedIds).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
                ?? (ids.count == expectedIds.count ? nil : min(ids.count, expectedIds.count)) {
                Issue.record("\(name): tokens differ from llama.cpp's at \(i): ours \(ids.dropFirst(i).prefix(8)), llama.cpp's \(expectedIds.dropFirst(i).prefix(8)) (\(ids.count) and \(expectedIds.count) tokens)")
            }
            let cache = loaded.model.makeCache(capacity: expectedIds.count + 8)
            var policy = FullKVPolicy()
            let logits = try #require(try loaded.model.prefill(tokens: expectedIds, cache: cache, policy: &policy).logits)
            #expect(logits.count == loaded.model.config.vocabularySize)

            let topIds = try #require(prompt["top_ids"] as? [Any]).ints
            let topLogits = try #require(prompt["top_logits"] as? [Any]).floats
            let stride = try #require(prompt["stride"] as? Int)
            let strided = try #require(prompt["strided_logits"] as? [Any]).floats
            #expect(topIds.count == 32 && strided.count == (logits.count + stride - 1) / stride)
            var worst: Float = 0
            for (id, value) in zip(topIds, topLogits) { worst = max(worst, abs(logits[id] - value)) }
            for (i, value) in strided.enumerated() { worst = max(worst, abs(logits[i * stride] - value)) }
            #expect(worst <= Self.tolerance, "\(stored) \(name): max |Δlogit| \(worst) against llama.cpp")
            print("\(stored) \(name) (\(expectedIds.count) tokens): max |Δlogit| against llama.cpp \(worst)")

            // Greedy continuation: equal, or first different where llama.cpp's top two were a tie.
            let expected = try #require(prompt["greedy"] as? [Any]).int32s
            let margins = try #require(prompt["greedy_margins"] as? [Any]).floats
            var tokens = [argmax(logits)]
            while tokens.count < expected.count {
                tokens.append(argmax(try loaded.model.decode(tokens: [tokens.last!], caches: [cache])[0]))
            }
            if let t = zip(tokens, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                #expect(margins[t] < 2 * Self.tolerance,
                        "\(stored) \(name): greedy token \(t) differs (margin \(margins[t])): \(tokens) vs \(expected)")
            }
        }
    }

    func argmax(_ x: [Float]) -> Int32 {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return Int32(best)
    }
}
