/// Which KV compression a request asks for (spec §1, §3). The raw values are the names users type
/// (`--method fastkv`, `"method": "fastkv"`) and the names reports print.
public enum CompressionMethod: String, Sendable, Hashable, Codable, CaseIterable {
    /// No eviction: the whole prompt's KV.
    case full
    /// Token-Selective Propagation + GQA-aware selection (arXiv 2502.01068).
    case fastKV = "fastkv"
    /// SnapKV's window scoring at every layer on the full context (GQA-aware here).
    case snapKV = "snapkv"
    /// 4 attention sinks plus the most recent tokens.
    case streamingLLM = "streamingllm"
    /// Filter-layer selection, then a second full pass over the selected tokens.
    case gemFilter = "gemfilter"
    /// Ada-KV: SnapKV scores, each layer's budget split between its KV heads by the pooled top scores
    /// (α = 0.2 floor per head); heads keep different counts (arXiv 2407.11550).
    case adaKV = "adakv"
    /// HeadKV (retrieval-reasoning variant): fixed per-head budgets from offline head-importance
    /// scores (`fastkv headscores`), SnapKV selection inside each head (arXiv 2410.19258).
    case headKV = "headkv"
    /// Heavy hitters by accumulated causal attention of all prompt queries, plus the recent window
    /// (arXiv 2306.14048, as the FastKV repo's baselines use it).
    case h2o = "h2o"
    /// SnapKV selection under the pyramid schedule: budgets shrinking with depth, same total.
    case pyramidInfer = "pyramidinfer"

    /// The comma-separated list users pick from, for help texts and error messages.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Whether the method changes the prefill forward pass itself (TSP, GemFilter's second pass),
    /// rather than only choosing what each layer stores.
    public var changesPrefill: Bool { self == .fastKV || self == .gemFilter }

    /// Whether a layer's KV heads may keep different numbers of entries (a ragged layer).
    public var hasPerHeadBudgets: Bool { self == .adaKV || self == .headKV }
}

/// Pooling of observation-window attention scores before top-k selection (spec §1.2 step 3).
public enum Pooling: String, Sendable, Hashable, Codable, CaseIterable {
    /// −∞ padding: each edge element is the max of the positions that exist.
    case max
    /// Zero padding with divisor k_s (count_include_pad), as the reference's avgpool.
    case avg
}
