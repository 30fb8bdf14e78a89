import Checkpoints
import FastKV
import Foundation
import Llama
import RequestVocabulary
import TestSupport
import Testing

/// The SmolLM2 model shared by the tests of this target (loaded once).
enum SharedModel {
    static let smolLM: Result<LlamaModel, Error> = Result {
        try LlamaModel(checkpoint: openCheckpoint(at: Fixtures.requireModel()))
    }
    static func get() throws -> LlamaModel { try smolLM.get() }
}

/// FastKV against the reference implementation's selections on SmolLM2 (r = ρ = 0.2, ℓ_T = 14).
@Suite(.serialized) struct FastKVFixtureTests {
    static let fixturePath = "fastkv/pub_para300_r0.2_rho0.2.json"

    @Test func keptPositionsAndTSPListMatchReference() throws {
        let model = try SharedModel.get()
        let fixture = try Fixtures.json(Self.fixturePath)
        let ids = (fixture["ids"] as! [Any]).int32s
        let config = try CompressionConfig(method: .fastKV, retainRate: 0.2, tspRate: 0.2, tspLayer: 14)
        let result = try CompressedPrefill.run(model: model, tokens: ids, config: config)
        let record = result.record
        #expect(record.tsp_positions == (fixture["tsp_positions"] as! [Any]).ints, "TSP list differs")
        let layers = fixture["layers"] as! [[String: Any]]
        var mismatches: [String] = []
        for (l, layer) in layers.enumerated() {
            #expect(record.layers[l].entering_tokens == (layer["n_in"] as! NSNumber).intValue, "layer \(l) entering")
            let expected = (layer["positions"] as! [[Any]]).map(\.ints)
            for (h, positions) in expected.enumerated() where record.layers[l].kept[h] != positions {
                let a = Set(record.layers[l].kept[h]), b = Set(positions)
                let jaccard = Double(a.intersection(b).count) / Double(a.union(b).count)
                mismatches.append("layer \(l) head \(h): Jaccard \(jaccard)")
            }
            #expect(record.layers[l].kept.allSatisfy { $0.count == (layer["kept"] as! NSNumber).intValue },
                    "layer \(l) kept count")
        }
        #expect(mismatches.isEmpty, "kept sets differ: \(mismatches)")
        #expect(Sampler.argmaxIndex(result.logits) == (fixture["first_token"] as! NSNumber).intValue)
    }

    /// The pooled, GQA-summed window scores of layers 0 and 14 (the quantity the top-k runs on).
    @Test func windowScoresMatchReference() throws {
        let model = try SharedModel.get()
        let fixture = try Fixtures.json(Self.fixturePath)
        let ids = (fixture["ids"] as! [Any]).int32s
        let expected = fixture["scores"] as! [String: [String: Any]]
        var probe = ScoreProbe(layers: [0, 14])
        _ = try model.prefill(tokens: ids, cache: model.makeCache(capacity: ids.count), policy: &probe)
        for layer in [0, 14] {
            let reference = (expected["\(layer)"]!["S"] as! [[Any]]).map(\.floats)
            let ours = probe.scores[layer]!
            var worst: Float = 0
            for h in reference.indices {
                for j in reference[h].indices { worst = max(worst, abs(reference[h][j] - ours[h][j])) }
            }
            #expect(worst < 2e-5, "layer \(layer): max |ΔS| \(worst) > 2e-5")
        }
    }

    /// Decode appends to each layer's compressed cache at positions N + t.
    @Test func greedyContinuationMatchesReference() throws {
        let model = try SharedModel.get()
        let fixture = try Fixtures.json(Self.fixturePath)
        let ids = (fixture["ids"] as! [Any]).int32s
        let expected = (fixture["greedy16"] as! [Any]).int32s
        let margins = (fixture["greedy16_top1_minus_top2"] as! [Any]).floats
        let config = try CompressionConfig(method: .fastKV, retainRate: 0.2, tspRate: 0.2, tspLayer: 14)
        let result = try CompressedPrefill.run(model: model, tokens: ids, config: config, decodeReserve: 16)
        var tokens = [Int32(Sampler.argmaxIndex(result.logits))]
        while tokens.count < 16 {
            let logits = try model.decode(tokens: [tokens.last!], caches: [result.cache])[0]
            tokens.append(Int32(Sampler.argmaxIndex(logits)))
        }
        #expect(result.cache.nextPosition == Int32(ids.count + 15))
        let firstDifference = zip(tokens, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        if let t = firstDifference {
            #expect(t > 0 && margins[t - 1] < 1e-3, "greedy token \(t) differs: \(tokens) vs \(expected)")
        }
    }

    /// r = ρ = 1 keeps everything: logits and cache bit-identical to full KV.
    @Test func retainingEverythingReproducesFullBitForBit() throws {
        let model = try SharedModel.get()
        let fixture = try Fixtures.json(Self.fixturePath)
        let ids = (fixture["ids"] as! [Any]).int32s
        let full = try CompressedPrefill.run(model: model, tokens: ids, config: try CompressionConfig(method: .full))
        let all = try CompressedPrefill.run(model: model, tokens: ids,
                                            config: try CompressionConfig(method: .fastKV, retainRate: 1, tspRate: 1))
        #expect(full.logits == all.logits)
        #expect(all.record.tsp_positions == nil)
        for (a, b) in zip(full.cache.layers, all.cache.layers) {
            #expect(a.counts.allSatisfy { $0 == ids.count } && b.counts.allSatisfy { $0 == ids.count })
            for h in 0..<a.kvHeadCount {
                let n = ids.count * a.headDim * a.dtype.bytesPerElement
                let same = a.withHead(h) { ak, av in
                    b.withHead(h) { bk, bv in
                        memcmp(ak, bk, n) == 0 && memcmp(av, bv, n) == 0
                    }
                }
                #expect(same, "head \(h): K/V differ between full KV and r = ρ = 1")
            }
        }
        #expect(full.skippedFlopShare == 0 && all.skippedFlopShare == 0)
    }
}

/// Records WindowScorer output at chosen layers and keeps everything.
struct ScoreProbe: KVSelectionPolicy {
    let layers: Set<Int>
    var scores: [Int: [[Float]]] = [:]
    init(layers: Set<Int>) { self.layers = layers }
    mutating func select(_ a: LayerActivations) -> LayerSelection {
        if layers.contains(a.layer) {
            scores[a.layer] = WindowScorer.scores(a, windowSize: 8, kernelSize: 7, pooling: .max)
        }
        return .keepAll
    }
}

enum Sampler {
    static func argmaxIndex(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }
}
