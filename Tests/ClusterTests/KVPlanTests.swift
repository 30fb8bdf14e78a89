import Checkpoints
import Cluster
import FastKV
import Llama
import TestSupport
import Testing
import Wire

/// The prefill worker announces per-layer entry counts in KVBegin before prefill runs; the decode
/// worker reserves from them. These must equal what `CompressedPrefill` really stores.
@Suite("KVPlan predicts CompressedPrefill's entry counts")
struct KVPlanTests {
    static let model: LlamaModel? = try? LlamaModel(checkpoint: openCheckpoint(at: Fixtures.requireModel()))

    static let configs: [FastKV.CompressionConfig] = [
        FastKV.CompressionConfig(method: .full),
        FastKV.CompressionConfig(method: .fastkv, retainRate: 0.1, tspRate: 0.2),
        FastKV.CompressionConfig(method: .fastkv, retainRate: 0.3, tspRate: 0.2),
        FastKV.CompressionConfig(method: .fastkv, kvBudget: 12, tspLength: 30),
        FastKV.CompressionConfig(method: .snapkv, retainRate: 0.2),
        FastKV.CompressionConfig(method: .streamingllm, retainRate: 0.25),
        FastKV.CompressionConfig(method: .gemfilter, retainRate: 0.2),
    ]

    @Test(arguments: [5, 9, 40, 123])
    func planMatchesPrefill(promptLength: Int) throws {
        let model = try #require(Self.model)
        let tokens = (0..<promptLength).map { Int32(100 + ($0 * 37) % 5000) }
        for config in Self.configs {
            let planned = KVPlan.entryCounts(config: config, promptLength: promptLength, layerCount: model.config.layerCount)
            let actual = try CompressedPrefill.run(model: model, tokens: tokens, config: config).cache.entryCounts
            #expect(planned == actual, "\(config.method) N=\(promptLength): planned \(planned) vs stored \(actual)")
        }
    }

    @Test func wireConversionKeepsTheTypedRates() {
        let c = FastKV.CompressionConfig(method: .fastkv, retainRate: 0.1, tspRate: 0.2)
        let back = WireConversion.compression(WireConversion.compression(c))
        #expect(back == c)
    }
}
