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
