import Llama
import RequestVocabulary

/// A policy chosen at run time, for the generic `LlamaModel.prefill`: the wrapped policy's
/// `select` is called through the existential (one dynamic call per layer).
public struct AnySelectionPolicy: KVSelectionPolicy {
    var base: any KVSelectionPolicy

    public init(_ base: any KVSelectionPolicy) { self.base = base }

    public mutating func select(_ activations: LayerActivations) -> LayerSelection { base.select(activations) }
}

/// One full-KV prefill whose per-layer KV several selection policies choose from, each into its own
/// cache.
///
/// Why: methods that only choose what each layer stores (full, SnapKV, StreamingLLM, AdaKV, H2O,
/// PyramidInfer, …) see exactly the same activations as full KV, because nothing is dropped from the
/// forward pass: the layer's QKV, and so every later layer, do not depend on what is cached. One
/// forward pass therefore serves them all, and each policy's cache is what its own prefill would
/// have stored (`SharedPrefillTests` checks the entries, positions and logits bit for bit). Methods
/// that change the forward (FastKV's TSP, GemFilter's second pass) are refused: they need their own
/// `CompressedPrefill.run`.
public enum SharedPrefill {
    /// What one shared run produced: a result per config (in `configs` order) and the time each
    /// policy spent choosing and copying its entries, so a caller can tell the forward's cost from
    /// the policies' own.
    public struct Output: Sendable {
        public var results: [CompressedPrefillResult]
        /// Per config: the time spent in its `select` and in copying its kept entries.
        public var selectionDurations: [Duration]
    }

    /// - Parameters:
    ///   - tokens: prompt ids, N ≥ 1.
    ///   - configs: methods with `changesPrefill == false`, validated for this model.
    ///   - decodeReserve: decode steps to reserve room for in every cache.
    /// - Throws: `FastKVError.changesPrefill` for FastKV or GemFilter, `RequestError` for bad knobs,
    ///   `FastKVError.policyChangedForward` if a policy asked to drop tokens or stop after all.
    public static func run(model: LlamaModel, tokens: [Int32], configs: [CompressionConfig],
                           decodeReserve: Int = 0) throws -> Output {
        let c = model.config
        for config in configs {
            guard !config.method.changesPrefill else { throw FastKVError.changesPrefill(config.method) }
            try config.validate(layerCount: c.layerCount)
        }
        let n = tokens.count
        let caches = configs.map { config in
            let planned = KVPlan.perHeadEntryCounts(config: config, promptLength: n, layerCount: c.layerCount).max() ?? n
            return model.makeCache(capacity: planned + decodeReserve)
        }
        var fanOut = FanOutPolicy(policies: configs.map { CompressedPrefill.policy(for: $0, layerCount: c.layerCount) },
                                  caches: caches)
        // The model's own cache stores nothing: the fan-out returns empty row lists.
        let unused = model.makeCache(capacity: 1)
        let output = try model.prefill(tokens: tokens, cache: unused, policy: &fanOut)
        if let (index, layer) = fanOut.firstViolation {
            throw FastKVError.policyChangedForward(configs[index].method, layer: layer)
        }
        let flops = PrefillFlops.estimate(config: c, enteringTokens: output.enteringTokenCounts)
        let results = caches.map { cache in
            cache.nextPosition = unused.nextPosition
            cache.reserveDecode(decodeReserve)
            let record = SelectionRecord(cache: cache, promptLength: n, enteringTokens: output.enteringTokenCounts,
                                         tspLayer: nil, tspPositions: nil)
            return CompressedPrefillResult(cache: cache, logits: output.logits!, record: record, flops: flops,
                                           fullFlops: flops)
        }
        return Output(results: results, selectionDurations: fanOut.durations)
    }
}

/// Asks every policy about each layer and stores its choice in its own cache; tells the model to
/// store nothing and to run the layer on every token.
struct FanOutPolicy: KVSelectionPolicy {
    var policies: [AnySelectionPolicy]
    let caches: [KVCache]
    var durations: [Duration]
    /// The first (policy index, layer) whose selection dropped tokens or stopped the pass.
    var firstViolation: (Int, Int)?

    init(policies: [AnySelectionPolicy], caches: [KVCache]) {
        self.policies = policies
        self.caches = caches
        durations = Array(repeating: .zero, count: policies.count)
    }

    mutating func select(_ a: LayerActivations) -> LayerSelection {
        let clock = ContinuousClock()
        for i in policies.indices {
            let start = clock.now
            let s = policies[i].select(a)
            if s.stop || (s.propagatedRows.map { $0.count < a.tokenCount } ?? false), firstViolation == nil {
                firstViolation = (i, a.layer)
            }
            let rows = s.keptRows ?? Array(repeating: Array(0..<a.tokenCount), count: a.kvHeadCount)
            caches[i].layers[a.layer].append(fromQKV: a.qkv, rowStride: a.rowStride, kColumn: a.keyColumn,
                                             vColumn: a.valueColumn, rows: rows, positions: a.positions)
            durations[i] += clock.now - start
        }
        return LayerSelection(keptRows: Array(repeating: [], count: a.kvHeadCount))
    }
}
