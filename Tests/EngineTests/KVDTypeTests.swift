import Checkpoints
import Engine
import FastKV
import Foundation
import Llama
import RequestVocabulary
import Tensors
import TestSupport
import Testing

/// `--kv-dtype f16` on the default model: decode over an f16 cache stays close to the f32 cache and
/// picks the same greedy tokens; the dtype changes the KV bytes the plan counts but not the
/// fingerprint. (f32 staying bit-identical is what the existing fixture tests check.)
@Suite(.serialized) struct KVDTypeTests {
    static let f16: Result<LoadedModel, Error> = Result {
        try LoadedModel.load(path: Fixtures.requireModel().path, options: .init(kvDType: .f16))
    }

    /// Largest |Δ logit| between an f16 and an f32 cache allowed per decode step. SmolLM2's logits
    /// span about ±30; binary16 K/V (2^-11 relative per element) moved them by at most 0.02 here
    /// (the measured worst is printed; 0.1 leaves 5× that), and the greedy tokens are checked separately.
    static let logitTolerance: Float = 0.1

    /// Teacher-forced on the f32 cache's greedy tokens: at every step both caches see the same input,
    /// so equal argmaxes at every step mean f16's own greedy run is the same token sequence.
    @Test(arguments: [CompressionMethod.full, .fastKV])
    func f16CacheDecodesCloseToF32(method: CompressionMethod) throws {
        let f32 = try SharedEngine.get(), f16 = try Self.f16.get()
        #expect(f32.model.kvDType == .f32 && f16.model.kvDType == .f16)
        #expect(f16.fingerprint == f32.fingerprint, "the fingerprint is the weights', not the cache's")
        let text = try Fixtures.json("golden/pub_para300.json")["text"] as! String
        let ids = try f32.encodePrompt(text + "\nQuestion: what is this text about?\nAnswer:", chat: false)
        let config = method == .full ? try CompressionConfig(method: .full)
            : try CompressionConfig(method: .fastKV, retainRate: 0.3, tspRate: 0.5)
        let steps = 24
        let a = try CompressedPrefill.run(model: f32.model, tokens: ids, config: config, decodeReserve: steps)
        let b = try CompressedPrefill.run(model: f16.model, tokens: ids, config: config, decodeReserve: steps)
        #expect(a.cache.dtype == .f32 && b.cache.dtype == .f16)
        #expect(a.logits == b.logits, "prefill computes in f32 whatever the cache stores")
        #expect(a.cache.entryCounts == b.cache.entryCounts && b.cache.entryBytes * 2 == a.cache.entryBytes)
        var token = Self.argmax(a.logits)
        var worst: Float = 0
        var tokens: [Int32] = []
        for step in 0..<steps {
            tokens.append(token)
            let la = try f32.model.decode(tokens: [token], caches: [a.cache])[0]
            let lb = try f16.model.decode(tokens: [token], caches: [b.cache])[0]
            let diff = zip(la, lb).map { abs($0 - $1) }.max()!
            worst = max(worst, diff)
            #expect(diff <= Self.logitTolerance, "\(method) step \(step): max |Δ logit| \(diff) > \(Self.logitTolerance)")
            let (ta, tb) = (Self.argmax(la), Self.argmax(lb))
            #expect(ta == tb, "\(method) step \(step): greedy token \(ta) with f32 KV, \(tb) with f16 KV")
            token = ta
        }
        #expect(Set(tokens).count > 3, "the continuation is not degenerate: \(tokens)")
        print("kv-dtype f16 vs f32, \(method), \(ids.count)-token prompt, \(steps) steps: max |Δ logit| \(worst), same greedy tokens")
    }

    @Test func memoryPlanCountsTwoBytesPerElement() throws {
        let checkpoint = try openCheckpoint(at: Fixtures.requireModel())
        let f32 = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(contextLimit: 4096))
        let f16 = try LoadedModel.memoryPlan(checkpoint: checkpoint, options: .init(contextLimit: 4096, kvDType: .f16))
        #expect(f32.kvBytes == 30 * 2 * 3 * 64 * 4 * 4096 && f16.kvBytes * 2 == f32.kvBytes)
        #expect(f16.description.contains("4096 tokens, f16") && f32.description.contains("4096 tokens, f32"))
        #expect(f16.weightBytes == f32.weightBytes && f16.scratchBytes == f32.scratchBytes)
        // A decode worker's reservation per sequence halves too.
        let counts = [Int](repeating: 3 * 100, count: 30)
        let r32 = KVPlan.installBytes(entryCounts: counts, decodeSteps: 10, kvHeads: 3, headDim: 64)
        let r16 = KVPlan.installBytes(entryCounts: counts, decodeSteps: 10, kvHeads: 3, headDim: 64, kvDType: .f16)
        #expect(r32 == 30 * 2 * (300 + 30) * 64 * 4 && r16 * 2 == r32)
    }

    @Test func generateReportsBytesAtTheDType() throws {
        let f16 = try Self.f16.get()
        let ids = try f16.encodePrompt("What is the capital of France?", chat: true)
        let r = try Generator(f16).generate(promptTokens: ids, sampling: try SamplingParameters(maxTokens: 16))
        #expect(r.kvDType == .f16 && r.keptBytes == r.keptEntries * 2 * 64 * 2)
        #expect(r.text.contains("Paris"), "answer with f16 KV: \(r.text)")
    }

    static func argmax(_ x: [Float]) -> Int32 { Int32(x.indices.max { x[$0] < x[$1] }!) }
}
