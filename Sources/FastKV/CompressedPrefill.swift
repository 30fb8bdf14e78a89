import RequestVocabulary
import Llama

/// What a compressed prefill leaves behind: the cache, the last-position logits and a record of
/// every choice (for `--selection-out` and the savings report).
public struct CompressedPrefillResult: Sendable {
    public var cache: KVCache
    public var logits: [Float]
    public var record: SelectionRecord
    /// Prefill FLOPs executed, and what full-KV prefill of the same prompt would execute.
    public var flops: Double
    public var fullFlops: Double
    public var skippedFlopShare: Double { fullFlops > 0 ? max(0, 1 - flops / fullFlops) : 0 }
}

/// The forward pass a prefill runs (`CompressedPrefill.forward(of:promptLength:layerCount:)`).
public enum PrefillForward: Hashable, Sendable {
    /// Every layer sees every token: full KV and every method that only selects (FastKV too when its TSP
    /// would drop no token, n_T ≥ N).
    case full
    /// FastKV's: the tokens past ℓ_T are the ones the TSP scores pick (they depend on the scorer's knobs,
    /// not on the KV budget r or C).
    case tsp(rate: Double, length: Int?, layer: Int, window: Int, kernel: Int, pooling: Pooling)
    /// GemFilter's: a filter pass to `filterLayer`, then a second pass per budget.
    case gemFilter(filterLayer: Int)
}

/// Runs prefill under any compression method behind one call.
public enum CompressedPrefill {
    /// The selection policy of a method that runs one forward pass (everything but GemFilter, whose
    /// two passes `run` drives itself). A new method is one more case here and in `CompressionMethod`.
    /// - Throws: `HeadScoresError.missing` for `headkv` without the model's head scores.
    /// - Parameter h2oMemo: shared by the H2O policies of one forward (`SharedPrefill`).
    public static func policy(for config: CompressionConfig, layerCount: Int,
                              headImportance: HeadImportance? = nil, h2oMemo: H2OScoreMemo? = nil) throws -> AnySelectionPolicy {
        AnySelectionPolicy(try base(for: config, layerCount: layerCount, headImportance: headImportance, h2oMemo: h2oMemo))
    }

    private static func base(for config: CompressionConfig, layerCount: Int,
                             headImportance: HeadImportance?, h2oMemo: H2OScoreMemo?) throws -> any KVSelectionPolicy {
        switch config.method {
        case .headKV:
            guard let headImportance else { throw HeadScoresError.missing(fingerprint: nil) }
            return HeadKVPolicy(config: config, importance: headImportance)
        case .fastKV, .snapKV: return WindowSelectionPolicy(config: config, layerCount: layerCount)
        case .streamingLLM: return StreamingLLMPolicy(config: config)
        case .adaKV: return AdaKVPolicy(config: config)
        case .h2o: return H2OPolicy(config: config, memo: h2oMemo)
        case .pyramidInfer: return PyramidPolicy(config: config, layerCount: layerCount)
        case .full, .gemFilter: return FullKVPolicy()
        }
    }

    /// The prefill forward `config` runs on a prompt of `promptLength` tokens. Methods with equal forwards
    /// can share one pass (`SharedPrefill`, `runGemFilter`): what a layer caches never feeds back into
    /// prefill, so only propagation (FastKV's TSP, GemFilter's second pass) changes the forward.
    public static func forward(of config: CompressionConfig, promptLength: Int, layerCount: Int) -> PrefillForward {
        switch config.method {
        case .gemFilter: return .gemFilter(filterLayer: config.resolvedTSPLayer(layerCount: layerCount))
        case .fastKV where TSPBudget(promptLength: promptLength, rate: config.tspRate, constantLength: config.tspLength,
                                     windowSize: config.windowSize).applies:
            return .tsp(rate: config.tspRate, length: config.tspLength, layer: config.resolvedTSPLayer(layerCount: layerCount),
                        window: config.windowSize, kernel: config.kernelSize, pooling: config.pooling)
        default: return .full
        }
    }

    /// - Parameters:
    ///   - decodeReserve: decode steps to reserve room for in every layer.
    ///   - onLayerStored: called as each layer's final cache entries are ready (pipelined transfer).
    ///   - headImportance: the model's head scores; required by `headkv` (`HeadScoresError.missing`).
    public static func run(model: LlamaModel, tokens: [Int32], config: CompressionConfig,
                           decodeReserve: Int = 0, headImportance: HeadImportance? = nil,
                           onLayerStored: ((Int, LayerKV) throws -> Void)? = nil) throws -> CompressedPrefillResult {
        let c = model.config
        try config.validate(layerCount: c.layerCount)
        let n = tokens.count
        let fullFlops = PrefillFlops.estimate(config: c, enteringTokens: Array(repeating: n, count: c.layerCount))
        switch config.method {
        case .full, .fastKV, .snapKV, .streamingLLM, .adaKV, .headKV, .h2o, .pyramidInfer:
            if config.method == .headKV && headImportance == nil { throw HeadScoresError.missing(fingerprint: nil) }
            // Reserve what the method will keep (its budgets are known before the pass), not N.
            let planned = KVPlan.largestHeadEntryCount(config: config, promptLength: n, layerCount: c.layerCount,
                                                       headImportance: headImportance) ?? n
            let cache = model.makeCache(capacity: planned + decodeReserve)
            var policy = try policy(for: config, layerCount: c.layerCount, headImportance: headImportance)
            let output = try model.prefill(tokens: tokens, cache: cache, policy: &policy, onLayerStored: onLayerStored)
            cache.reserveDecode(decodeReserve)
            let tspLayer = config.method == .fastKV ? config.resolvedTSPLayer(layerCount: c.layerCount) : nil
            let record = SelectionRecord(cache: cache, promptLength: n, enteringTokens: output.enteringTokenCounts,
                                         tspLayer: tspLayer, tspPositions: output.propagatedPositions)
            return CompressedPrefillResult(
                cache: cache, logits: output.logits!, record: record,
                flops: PrefillFlops.estimate(config: c, enteringTokens: output.enteringTokenCounts),
                fullFlops: fullFlops)
        case .gemFilter:
            return try runGemFilter(model: model, tokens: tokens, configs: [config], decodeReserve: decodeReserve,
                                    onLayerStored: onLayerStored).results[0]
        }
    }

    /// What `runGemFilter` produced: a result per config, and what each would have cost alone (the
    /// shared first pass plus its own second pass).
    public struct GemFilterOutput {
        public var results: [CompressedPrefillResult]
        public var durations: [Duration]
    }

    /// GemFilter (spec §3) at several budgets with one filter layer: pass 1 (layers 0…f on everything,
    /// caching nothing) runs once, since its scores do not depend on the budget; then per config the
    /// top k positions by those scores and pass 2, the whole model on them, renumbered 0..<k.
    /// Each result is exactly that config's own two-pass run.
    public static func runGemFilter(model: LlamaModel, tokens: [Int32], configs: [CompressionConfig], decodeReserve: Int = 0,
                                    onLayerStored: ((Int, LayerKV) throws -> Void)? = nil) throws -> GemFilterOutput {
        let c = model.config, n = tokens.count
        guard let firstConfig = configs.first else { return GemFilterOutput(results: [], durations: []) }
        for config in configs {
            guard config.method == .gemFilter else { throw FastKVError.policiesDisagree(.gemFilter, config.method, layer: 0) }
            try config.validate(layerCount: c.layerCount)
        }
        let fullFlops = PrefillFlops.estimate(config: c, enteringTokens: Array(repeating: n, count: c.layerCount))
        let clock = ContinuousClock()
        let start = clock.now
        var filter = GemFilterPolicy(config: firstConfig, layerCount: c.layerCount)
        for config in configs.dropFirst() where config.resolvedTSPLayer(layerCount: c.layerCount) != filter.filterLayer {
            throw FastKVError.policiesDisagree(.gemFilter, .gemFilter, layer: filter.filterLayer)
        }
        let scratch = model.makeCache(capacity: 1)
        let first = try model.prefill(tokens: tokens, cache: scratch, policy: &filter)
        let firstDuration = clock.now - start
        var output = GemFilterOutput(results: [], durations: [])
        for config in configs {
            let secondStart = clock.now
            let rows = filter.selectedRows(count: GemFilterPolicy.keptCount(config: config, promptLength: n)) ?? Array(0..<n)
            let cache = model.makeCache(capacity: rows.count + decodeReserve)
            var full = FullKVPolicy()
            let second = try model.prefill(tokens: rows.map { tokens[$0] }, cache: cache, policy: &full,
                                           onLayerStored: onLayerStored)
            cache.reserveDecode(decodeReserve)
            var record = SelectionRecord(cache: cache, promptLength: n, enteringTokens: second.enteringTokenCounts,
                                         tspLayer: filter.filterLayer, tspPositions: rows.map { Int32($0) })
            record.mapPositions { rows[Int($0)] }
            let flops = PrefillFlops.estimate(config: c, enteringTokens: first.enteringTokenCounts)
                + PrefillFlops.estimate(config: c, enteringTokens: second.enteringTokenCounts)
            output.results.append(CompressedPrefillResult(cache: cache, logits: second.logits!, record: record, flops: flops,
                                                          fullFlops: fullFlops))
            output.durations.append(firstDuration + (clock.now - secondStart))
        }
        return output
    }
}
