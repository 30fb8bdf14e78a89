import FastKV
import Llama
import RequestVocabulary
import Testing

/// Continuous batching over ragged caches: one decode step for a batch mixing an AdaKV cache (heads of
/// different lengths) with a dense FastKV cache gives each sequence the logits it gets alone.
@Suite(.serialized) struct RaggedDecodeTests {
    @Test func batchOfRaggedAndDenseCachesMatchesSingleDecodes() throws {
        let model = try BaselinePolicyTests.model(.tiny)
        let tokens = BaselinePolicyTests.tokens(.tiny)
        let ada = try CompressionConfig(method: .adaKV, retainRate: 0.15)
        let fast = try CompressionConfig(method: .fastKV, retainRate: 0.15, tspRate: 0.3)
        func prefill(_ c: CompressionConfig) throws -> KVCache {
            try CompressedPrefill.run(model: model, tokens: tokens, config: c, decodeReserve: 4).cache
        }
        let (a1, a2, f1, f2) = (try prefill(ada), try prefill(ada), try prefill(fast), try prefill(fast))
        #expect(a1.layers.contains { !$0.isDense }, "the AdaKV cache should be ragged: \(a1.layers.map(\.counts))")
        let before = a1.layers.map(\.counts)
        for step in 0..<3 {
            let t: [Int32] = [Int32(5 + step), Int32(9 + step)]
            let batched = try model.decode(tokens: t, caches: [a1, f1])
            let alone = [try model.decode(tokens: [t[0]], caches: [a2])[0], try model.decode(tokens: [t[1]], caches: [f2])[0]]
            for i in 0..<2 {
                let worst = zip(batched[i], alone[i]).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-4, "step \(step), sequence \(i): batched vs alone max |Δlogit| \(worst) > 1e-4")
            }
        }
        // Each head grew by exactly one entry per step; nothing was padded.
        #expect(a1.layers.map(\.counts) == before.map { $0.map { $0 + 3 } })
        #expect(a1.entryBytes == a1.layers.reduce(0) { $0 + 2 * $1.entryCount * $1.headDim * 4 })
    }
}
