import Checkpoints
import Cluster
import FastKV
import Llama
import RequestVocabulary
import TestSupport
import Testing
import Wire

/// The prefill worker announces per-layer entry counts in KVBegin before prefill runs; the decode
/// worker reserves from them. These must equal what `CompressedPrefill` really stores (layer totals over
/// the KV heads: AdaKV's per-head shares vary with the scores, its totals never do).
@Suite("KVPlan predicts CompressedPrefill's entry counts")
struct KVPlanTests {
    static let model: LlamaModel? = try? LlamaModel(checkpoint: openCheckpoint(at: Fixtures.requireModel()))

    static let configs: [CompressionConfig] = [
        try! CompressionConfig(method: .full),
        try! CompressionConfig(method: .fastKV, retainRate: 0.1, tspRate: 0.2),
        try! CompressionConfig(method: .fastKV, retainRate: 0.3, tspRate: 0.2),
        try! CompressionConfig(method: .fastKV, kvBudget: 12, tspLength: 30),
        try! CompressionConfig(method: .snapKV, retainRate: 0.2),
        try! CompressionConfig(method: .streamingLLM, retainRate: 0.25),
        try! CompressionConfig(method: .gemFilter, retainRate: 0.2),
        try! CompressionConfig(method: .adaKV, retainRate: 0.2),
        try! CompressionConfig(method: .adaKV, kvBudget: 20),
        try! CompressionConfig(method: .h2o, retainRate: 0.2),
        try! CompressionConfig(method: .pyramidInfer, retainRate: 0.2),
        try! CompressionConfig(method: .pyramidInfer, kvBudget: 30),
    ]

    @Test(arguments: [5, 9, 40, 123])
    func planMatchesPrefill(promptLength: Int) throws {
        let model = try #require(Self.model)
        let tokens = (0..<promptLength).map { Int32(100 + ($0 * 37) % 5000) }
        for config in Self.configs {
            let planned = KVPlan.entryCounts(config: config, promptLength: promptLength, layerCount: model.config.layerCount,
                                             kvHeadCount: model.config.kvHeadCount)
            let actual = try CompressedPrefill.run(model: model, tokens: tokens, config: config).cache.entryCounts
            #expect(planned == actual, "\(config.method) N=\(promptLength): planned \(planned) vs stored \(actual)")
        }
    }

    /// The HTTP gateway reports prefill FLOPs skipped from the plan alone (the Result does not carry
    /// them): the planned entering-token counts must give exactly the FLOPs the prefill counted.
    @Test(arguments: [9, 123])
    func plannedEnteringTokensGiveThePrefillsFlops(promptLength: Int) throws {
        let model = try #require(Self.model)
        let tokens = (0..<promptLength).map { Int32(100 + ($0 * 37) % 5000) }
        for config in Self.configs {
            let planned = KVPlan.enteringTokenCounts(config: config, promptLength: promptLength, layerCount: model.config.layerCount)
            guard config.method != .gemFilter else { #expect(planned == nil); continue }
            let entering = try #require(planned)
            let actual = try CompressedPrefill.run(model: model, tokens: tokens, config: config)
            #expect(PrefillFlops.estimate(config: model.config, enteringTokens: entering) == actual.flops,
                    "\(config.method) N=\(promptLength): planned entering \(entering)")
        }
    }

    /// Rates travel as doubles: what the user typed is what the prefill worker budgets with.
    @Test func ratesCrossTheWireExactly() throws {
        for rate in [0.1, 0.3, 1.0 / 3.0, 0.05] {
            let c = try CompressionConfig(method: .fastKV, retainRate: rate, tspRate: rate)
            let a = Assignment(requestID: 1, tokenIDs: [1], sampling: .greedy, compression: c, wireDType: .f16,
                               decodeWorkerID: 2, decodeKVEndpoint: "tcp://127.0.0.1:1", deadlineUnixMillis: nil)
            guard case .assignment(let back) = try Message.decode(try Message.assignment(a).encoded()) else {
                Issue.record("not an assignment"); return
            }
            #expect(back.compression == c && back.compression.tspLayer == nil)
        }
    }
}
