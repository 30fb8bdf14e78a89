import Llama
import RequestVocabulary

/// A policy chosen at run time, for the generic `LlamaModel.prefill`: the wrapped policy's
/// `select` is called through the existential (one dynamic call per layer).
public struct AnySelectionPolicy: KVSelectionPolicy {
    var base: any KVSelectionPolicy

    public init(_ base: any KVSelectionPolicy) { self.base = base }

    public mutating func select(_ activations: LayerActivations) -> LayerSelection { base.select(activations) }
}

/// One prefill forward whose per-layer KV several selection policies choose from, each into its own
/// cache.
///
/// Why: what a layer caches never feeds back into the forward pass (prefill attention reads the
/// layer's QKV, not the cache), so policies that agree on what the forward does (which tokens
/// propagate) see exactly the same activations and can share one pass. Methods that only choose
/// what each layer stores (full, SnapKV, StreamingLLM, AdaKV, H2O, PyramidInfer, …) all keep the
/// full forward; FastKV configs that differ only in r (same ρ or n_T, same ℓ_T, w, kernel,
/// pooling) propagate the same TSP rows, chosen from scores that do not depend on r. Each policy's
/// cache is then what its own prefill would have stored (`SharedPrefillTests` checks entries,
/// positions and logits bit for bit). GemFilter (two passes) is refused, and so is a group whose
/// policies disagree on the forward at some layer (`FastKVError.policiesDisagree`): run those alone
/// with `CompressedPrefill.run`.
public enum SharedPrefill {
    /// What one shared run produced: a result per config (in `configs` order) and the time each
    /// policy spent choosing and copying its entries, so a caller can tell the forward's cost from
    /// the policies' own.
    public struct Output: Sendable {
        public var results: [CompressedPrefillResult]
        /// Per config: the time its own prefill would spend in `select` and in copying its kept
        /// entries (an H2O budget that reused another's scores is charged their computation too).
        public var selectionDurations: [Duration]
        /// The time all the policies really spent in the shared run (reused scoring counted once),
        /// so the forward alone took the run's time minus this.
        public var spentSelection: Duration
        /// Layers an H2O budget took from another budget's scoring instead of scoring them itself.
        public var h2oScoreReuses: Int
    }

    /// - Parameters:
    ///   - tokens: prompt ids, N ≥ 1.
    ///   - configs: methods other than GemFilter, validated for this model, that agree on the forward.
    ///   - decodeReserve: decode steps to reserve room for in every cache.
    ///   - headImportance: the model's head scores, for `headkv` configs.
    /// - Throws: `FastKVError.changesPrefill` for GemFilter, `HeadScoresError.missing` for headkv without scores, `RequestError` for bad knobs,
    ///   `FastKVError.policiesDisagree` when two policies propagate different tokens at some layer.
    public static func run(model: LlamaModel, tokens: [Int32], configs: [CompressionConfig],
                           decodeReserve: Int = 0, headImportance: HeadImportance? = nil) throws -> Output {
        let c = model.config
        for config in configs {
            guard config.method != .gemFilter else { throw FastKVError.changesPrefill(config.method) }
            try config.validate(layerCount: c.layerCount)
        }
        let n = tokens.count
        let caches = configs.map { config in
            let planned = KVPlan.largestHeadEntryCount(config: config, promptLength: n, layerCount: c.layerCount,
                                                       headImportance: headImportance) ?? n
            return model.makeCache(capacity: planned + decodeReserve)
        }
        let h2oMemo = H2OScoreMemo()   // the H2O budgets score each layer once between them
        var fanOut = FanOutPolicy(policies: try configs.map {
                                      try CompressedPrefill.policy(for: $0, layerCount: c.layerCount, headImportance: headImportance,
                                                                   h2oMemo: h2oMemo)
                                  },
                                  caches: caches, h2oMemo: h2oMemo)
        // The model's own cache stores nothing: the fan-out returns empty row lists.
        let unused = model.makeCache(capacity: 1)
        let output = try model.prefill(tokens: tokens, cache: unused, policy: &fanOut)
        if let (index, layer) = fanOut.firstDisagreement {
            throw FastKVError.policiesDisagree(configs[0].method, configs[index].method, layer: layer)
        }
        let flops = PrefillFlops.estimate(config: c, enteringTokens: output.enteringTokenCounts)
        let fullFlops = PrefillFlops.estimate(config: c, enteringTokens: Array(repeating: n, count: c.layerCount))
        let results = zip(configs, caches).map { config, cache in
            cache.nextPosition = unused.nextPosition
            cache.reserveDecode(decodeReserve)
            let tspLayer = config.method == .fastKV ? config.resolvedTSPLayer(layerCount: c.layerCount) : nil
            let record = SelectionRecord(cache: cache, promptLength: n, enteringTokens: output.enteringTokenCounts,
                                         tspLayer: tspLayer, tspPositions: output.propagatedPositions)
            return CompressedPrefillResult(cache: cache, logits: output.logits!, record: record, flops: flops,
                                           fullFlops: fullFlops)
        }
        return Output(results: results, selectionDurations: fanOut.durations, spentSelection: fanOut.spent,
                      h2oScoreReuses: h2oMemo.hits)
    }
}

/// Asks every policy about each layer and stores its choice in its own cache; tells the model to
/// store nothing and to propagate what the policies agree on (the first policy's choice).
struct FanOutPolicy: KVSelectionPolicy {
    var policies: [AnySelectionPolicy]
    let caches: [KVCache]
    var durations: [Duration]
    /// Wall time in the policies' selection and copies (the reused scoring counted once).
    var spent: Duration = .zero
    /// The first (policy index, layer) whose propagation or stop differs from the first policy's.
    var firstDisagreement: (Int, Int)?
    /// Shared by the H2O policies: a policy answered from it is charged the scoring it reused, so
    /// each budget's selection time is what its own prefill would have spent.
    let h2oMemo: H2OScoreMemo?

    init(policies: [AnySelectionPolicy], caches: [KVCache], h2oMemo: H2OScoreMemo? = nil) {
        self.policies = policies
        self.caches = caches
        self.h2oMemo = h2oMemo
        durations = Array(repeating: .zero, count: policies.count)
    }

    mutating func select(_ a: LayerActivations) -> LayerSelection {
        let clock = ContinuousClock()
        var forward: (rows: [Int]?, stop: Bool)?
        for i in policies.indices {
            let start = clock.now
            let hitsBefore = h2oMemo?.hits ?? 0
            let s = policies[i].select(a)
            let charged = h2oMemo.map { $0.hits > hitsBefore ? $0.lastComputeDuration : .zero } ?? .zero
            // Propagating every row is propagating nothing (the model gathers only when rows < n).
            let choice = (rows: s.propagatedRows.flatMap { $0.count < a.tokenCount ? $0 : nil }, stop: s.stop)
            if let agreed = forward {
                if (agreed.rows != choice.rows || agreed.stop != choice.stop) && firstDisagreement == nil {
                    firstDisagreement = (i, a.layer)
                }
            } else {
                forward = choice
            }
            let rows = s.keptRows ?? Array(repeating: Array(0..<a.tokenCount), count: a.kvHeadCount)
            caches[i].layers[a.layer].append(fromQKV: a.qkv, rowStride: a.rowStride, kColumn: a.keyColumn,
                                             vColumn: a.valueColumn, rows: rows, positions: a.positions)
            let took = clock.now - start
            spent += took
            durations[i] += took + charged
        }
        return LayerSelection(keptRows: Array(repeating: [], count: a.kvHeadCount), propagatedRows: forward?.rows,
                              stop: forward?.stop ?? false)
    }
}
