import RequestVocabulary

/// Budget arithmetic of spec §1.2 step 1, §1.4 and the short-prompt clamps of §7.2 ([port]).
public struct LayerBudget: Sendable, Equatable {
    /// KV capacity C for this layer (before clamping).
    public let capacity: Int
    /// The reference's compression branch runs (scores are computed and TSP may apply):
    /// false when n < C (spec §1.2 step 2) or n ≤ w (too few tokens to score, [port] clamp).
    public let compresses: Bool
    /// Every entering entry is stored (no compression branch, or C ≥ n).
    public let storesAll: Bool
    /// Non-window entries picked per KV head: clamp(C − w, 0, n − w); 0 when storing everything.
    public let selectCount: Int

    /// - Parameters: n: tokens entering the layer; rate: r_ℓ (ignored with a constant budget).
    public init(enteringTokens n: Int, rate: Double, constantBudget: Int?, windowSize w: Int) {
        // Python's int(n * r) on a double: truncation toward zero.
        capacity = constantBudget ?? Int((Double(n) * rate).rounded(.towardZero))
        compresses = !(n < capacity || n <= w)
        storesAll = !compresses || capacity >= n
        selectCount = storesAll ? 0 : min(max(capacity - w, 0), n - w)
    }

    /// Entries stored per KV head: n when storing everything, else the picks plus the window.
    public func storedEntries(enteringTokens n: Int, windowSize w: Int) -> Int {
        storesAll ? n : selectCount + w
    }
}

/// n_T of spec §1.2 step 4 with the [port] clamp of §7.2: TSP applies only if w < n_T < N.
public struct TSPBudget: Sendable, Equatable {
    public let propagatedCount: Int
    public let applies: Bool

    public init(promptLength N: Int, rate: Double, constantLength: Int?, windowSize w: Int) {
        propagatedCount = constantLength ?? Int((Double(N) * rate).rounded(.towardZero))
        applies = w < propagatedCount && propagatedCount < N
    }
}

/// The per-layer rules of FastKV and SnapKV for one prompt, fixed before the run (spec §1.1):
/// r up to and including ℓ_T, r' = r/ρ after it — whether or not TSP then drops any token (a prompt
/// too short for TSP still gets r' after ℓ_T, spec §1.2 step 1), with the clamps of §7.
///
/// `WindowSelectionPolicy` asks it at every layer while prefill runs, and `KVPlan` walks it before
/// prefill starts, so the plan a decode worker reserves for is the same arithmetic that selects.
public struct WindowBudgetSchedule: Sendable, Equatable {
    public let config: CompressionConfig
    public let promptLength: Int
    /// ℓ_T for FastKV; nil for SnapKV (no propagation, one rate everywhere).
    public let tspLayer: Int?

    /// - Parameter config: method `.fastKV` or `.snapKV`.
    public init(config: CompressionConfig, promptLength: Int, layerCount: Int) {
        self.config = config
        self.promptLength = promptLength
        tspLayer = config.method == .fastKV ? config.resolvedTSPLayer(layerCount: layerCount) : nil
    }

    /// r_ℓ, computed in double precision (0.1/0.2 = 0.5 exactly). With a constant TSP length the
    /// propagated share is n_T/N.
    public func rate(layer: Int) -> Double {
        guard let tspLayer, layer > tspLayer else { return config.retainRate }
        let rho = config.tspLength.map { Double($0) / Double(promptLength) } ?? config.tspRate
        return config.retainRate / rho
    }

    /// C and the clamps for `n` tokens entering `layer`.
    public func budget(layer: Int, enteringTokens n: Int) -> LayerBudget {
        LayerBudget(enteringTokens: n, rate: rate(layer: layer), constantBudget: config.kvBudget,
                    windowSize: config.windowSize)
    }

    /// The non-window tokens TSP propagates after `layer` (k_T = clamp(n_T − w, 0, N − w)), or nil
    /// when no propagation happens there: not ℓ_T, no compression branch (§1.2 step 2), or
    /// n_T outside (w, N) (§7.2).
    public func propagatedSelectCount(layer: Int, budget: LayerBudget, enteringTokens n: Int) -> Int? {
        guard layer == tspLayer, budget.compresses, n == promptLength else { return nil }
        let w = config.windowSize
        let tsp = TSPBudget(promptLength: promptLength, rate: config.tspRate, constantLength: config.tspLength,
                            windowSize: w)
        guard tsp.applies else { return nil }
        return min(max(tsp.propagatedCount - w, 0), n - w)
    }
}
