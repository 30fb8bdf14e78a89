/// Per-request KV compression settings (spec §1.1, §3). Knob names follow the paper.
public struct CompressionConfig: Sendable, Equatable, Codable {
    public enum Method: String, Sendable, Codable, CaseIterable {
        case full, fastkv, snapkv, streamingllm, gemfilter
    }
    public enum Pooling: String, Sendable, Codable, CaseIterable { case max, avg }

    public var method: Method = .full
    /// KV retain rate r (proportional budgets: C = ⌊n·r⌋). Ignored when `kvBudget` is set.
    public var retainRate: Double = 0.1
    /// Constant KV budget in entries per layer and head (constant mode), instead of `retainRate`.
    public var kvBudget: Int?
    /// TSP rate ρ (n_T = ⌊N·ρ⌋). Ignored when `tspLength` is set.
    public var tspRate: Double = 0.2
    /// Constant number of propagated tokens, instead of `tspRate`.
    public var tspLength: Int?
    /// The TSP layer ℓ_T (also GemFilter's filter layer); nil = L/2 − 1.
    public var tspLayer: Int?
    /// Observation window w: the last w queries score the keys and are always kept.
    public var windowSize: Int = 8
    /// Pooling kernel k_s (odd).
    public var kernelSize: Int = 7
    public var pooling: Pooling = .max

    public init(method: Method = .full, retainRate: Double = 0.1, kvBudget: Int? = nil, tspRate: Double = 0.2,
                tspLength: Int? = nil, tspLayer: Int? = nil, windowSize: Int = 8, kernelSize: Int = 7,
                pooling: Pooling = .max) {
        self.method = method
        self.retainRate = retainRate
        self.kvBudget = kvBudget
        self.tspRate = tspRate
        self.tspLength = tspLength
        self.tspLayer = tspLayer
        self.windowSize = windowSize
        self.kernelSize = kernelSize
        self.pooling = pooling
    }

    /// Checks every knob against the model's layer count. Messages name the flag.
    public func validate(layerCount: Int) throws {
        func fail(_ message: String) -> CompressionError { .invalidConfig(message) }
        guard retainRate.isFinite, retainRate > 0, retainRate <= 1 else {
            throw fail("--kv-rate must be in (0, 1], got \(retainRate)")
        }
        if let b = kvBudget, b < 1 { throw fail("--kv-budget must be ≥ 1, got \(b)") }
        guard tspRate.isFinite, tspRate > 0, tspRate <= 1 else { throw fail("--tsp-rate must be in (0, 1], got \(tspRate)") }
        if let t = tspLength, t < 1 { throw fail("--tsp-len must be ≥ 1, got \(t)") }
        if let l = tspLayer, l < 0 || l >= layerCount {
            throw fail("--tsp-layer must be in 0...\(layerCount - 1) for this \(layerCount)-layer model, got \(l)")
        }
        if method == .fastkv, resolvedTSPLayer(layerCount: layerCount) >= layerCount - 1 {
            throw fail("--tsp-layer must leave at least one layer after it (model has \(layerCount) layers)")
        }
        guard windowSize >= 1 else { throw fail("--window must be ≥ 1, got \(windowSize)") }
        guard kernelSize >= 1, kernelSize % 2 == 1 else { throw fail("--kernel must be a positive odd number, got \(kernelSize)") }
        if method == .streamingllm, let b = kvBudget, b < 1 { throw fail("--kv-budget must be ≥ 1") }
    }

    /// ℓ_T: the configured layer, or L/2 − 1 (the first half of the layers sees the full context).
    public func resolvedTSPLayer(layerCount: Int) -> Int { tspLayer ?? max(0, layerCount / 2 - 1) }
}

/// Errors of the FastKV module.
public enum CompressionError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)

    public var description: String {
        switch self {
        case let .invalidConfig(m): return "invalid compression configuration: \(m)"
        }
    }
}
