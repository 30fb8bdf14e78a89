/// Per-request KV compression knobs (spec §1.1, §3), named as in the paper and its reference code.
///
/// One type from the flag or JSON field to the selection code: the CLI, the HTTP API, the wire and
/// the policies all use it. Its initializer is the only place the model-independent rules are
/// checked, so a value that exists is valid; `validate(layerCount:)` adds the rules that need the
/// model. Every default is in `Defaults`.
public struct CompressionConfig: Sendable, Hashable {
    /// The defaults of the current paper's setting (spec §1.1, HEAD scripts).
    public enum Defaults {
        public static let retainRate = 0.1
        public static let tspRate = 0.2
        public static let windowSize = 8
        public static let kernelSize = 7
        public static let pooling = Pooling.max
        /// AdaKV's α: the share of each head's budget it keeps whatever the other heads' scores
        /// (0.2 in the Ada-KV authors' runs).
        public static let adaAlpha = 0.2
        /// HeadKV's β: ⌊B/β⌋ of every head's budget B goes to the shared pool (1.2, the HeadKV runs).
        public static let headKVBeta = 1.2
        /// HeadKV's temperature τ on the head scores before the pool is split (1 = the scores as
        /// detected; larger sharpens, smaller flattens).
        public static let headKVTemperature = 1.0
    }

    public let method: CompressionMethod
    /// KV retain rate r in (0, 1]: C = ⌊n·r⌋ per layer. Ignored when `kvBudget` is set.
    public let retainRate: Double
    /// Constant KV budget in entries per layer and KV head (constant mode), instead of `retainRate`.
    public let kvBudget: Int?
    /// TSP rate ρ in (0, 1]: n_T = ⌊N·ρ⌋. Ignored when `tspLength` is set.
    public let tspRate: Double
    /// Constant number of propagated tokens, instead of `tspRate`.
    public let tspLength: Int?
    /// The TSP layer ℓ_T (also GemFilter's filter layer); nil = the model's L/2 − 1.
    public let tspLayer: Int?
    /// Observation window w: the last w queries score the keys and are always kept.
    public let windowSize: Int
    /// Pooling kernel k_s (odd, spec §7.5).
    public let kernelSize: Int
    public let pooling: Pooling
    /// AdaKV's α floor in [0, 1] (method `adakv` only).
    public let adaAlpha: Double
    /// HeadKV's β ≥ 1 (method `headkv` only): β = 1 pools every entry, large β pools almost none.
    public let headKVBeta: Double
    /// HeadKV's temperature τ > 0 on the head scores (method `headkv` only).
    public let headKVTemperature: Double

    /// Checks every rule that does not depend on the model; messages name the knob.
    public init(method: CompressionMethod = .full, retainRate: Double = Defaults.retainRate, kvBudget: Int? = nil,
                tspRate: Double = Defaults.tspRate, tspLength: Int? = nil, tspLayer: Int? = nil,
                windowSize: Int = Defaults.windowSize, kernelSize: Int = Defaults.kernelSize,
                pooling: Pooling = Defaults.pooling, adaAlpha: Double = Defaults.adaAlpha,
                headKVBeta: Double = Defaults.headKVBeta,
                headKVTemperature: Double = Defaults.headKVTemperature) throws(RequestError) {
        guard retainRate.isFinite, retainRate > 0, retainRate <= 1 else {
            throw .invalid(.kvRate, "must be in (0, 1], got \(retainRate)")
        }
        if let kvBudget, kvBudget < 1 { throw .invalid(.kvBudget, "must be ≥ 1, got \(kvBudget)") }
        guard tspRate.isFinite, tspRate > 0, tspRate <= 1 else {
            throw .invalid(.tspRate, "must be in (0, 1], got \(tspRate)")
        }
        if let tspLength, tspLength < 1 { throw .invalid(.tspLength, "must be ≥ 1, got \(tspLength)") }
        if let tspLayer, tspLayer < 0 { throw .invalid(.tspLayer, "must be ≥ 0, got \(tspLayer)") }
        guard windowSize >= 1 else { throw .invalid(.window, "must be ≥ 1, got \(windowSize)") }
        guard kernelSize >= 1, kernelSize % 2 == 1 else {
            throw .invalid(.kernel, "must be a positive odd number, got \(kernelSize)")
        }
        guard adaAlpha.isFinite, adaAlpha >= 0, adaAlpha <= 1 else {
            throw .invalid(.adaAlpha, "must be in [0, 1], got \(adaAlpha)")
        }
        guard headKVBeta.isFinite, headKVBeta >= 1, headKVBeta <= 1e6 else {
            throw .invalid(.headkvBeta, "must be in [1, 1e6] (each head's minimum share is B − ⌊B/β⌋), got \(headKVBeta)")
        }
        guard headKVTemperature.isFinite, headKVTemperature > 0, headKVTemperature <= 100 else {
            throw .invalid(.headkvTemperature, "must be in (0, 100], got \(headKVTemperature)")
        }
        self.method = method
        self.retainRate = retainRate
        self.kvBudget = kvBudget
        self.tspRate = tspRate
        self.tspLength = tspLength
        self.tspLayer = tspLayer
        self.windowSize = windowSize
        self.kernelSize = kernelSize
        self.pooling = pooling
        self.adaAlpha = adaAlpha
        self.headKVBeta = headKVBeta
        self.headKVTemperature = headKVTemperature
    }

    /// No compression: the whole prompt's KV.
    public static let full = try! CompressionConfig(method: .full)

    /// The same knobs applied to another method (commands that compare methods side by side).
    public func with(method: CompressionMethod) -> CompressionConfig {
        // Every knob was already checked and none of the checks depends on the method.
        try! CompressionConfig(method: method, retainRate: retainRate, kvBudget: kvBudget, tspRate: tspRate,
                               tspLength: tspLength, tspLayer: tspLayer, windowSize: windowSize,
                               kernelSize: kernelSize, pooling: pooling, adaAlpha: adaAlpha,
                               headKVBeta: headKVBeta, headKVTemperature: headKVTemperature)
    }

    /// The rules that need the model: ℓ_T inside the model, and FastKV leaving a layer after it.
    public func validate(layerCount: Int) throws(RequestError) {
        if let l = tspLayer, l >= layerCount {
            throw .invalid(.tspLayer, "must be in 0...\(layerCount - 1) for this \(layerCount)-layer model, got \(l)")
        }
        if method == .fastKV, resolvedTSPLayer(layerCount: layerCount) >= layerCount - 1 {
            throw .invalid(.tspLayer, "must leave at least one layer after it (the model has \(layerCount) layers)")
        }
    }

    /// ℓ_T: the configured layer, or L/2 − 1 (the first half of the layers sees the full context).
    public func resolvedTSPLayer(layerCount: Int) -> Int { tspLayer ?? max(0, layerCount / 2 - 1) }
}

extension CompressionConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case method, retainRate = "kv_rate", kvBudget = "kv_budget", tspRate = "tsp_rate", tspLength = "tsp_len"
        case tspLayer = "tsp_layer", windowSize = "window", kernelSize = "kernel", pooling
        case adaAlpha = "ada_alpha", headKVBeta = "headkv_beta", headKVTemperature = "headkv_temperature"
    }

    /// Absent keys take the defaults; present ones go through the same checks as the initializer.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(method: c.decodeIfPresent(CompressionMethod.self, forKey: .method) ?? .full,
                      retainRate: c.decodeIfPresent(Double.self, forKey: .retainRate) ?? Defaults.retainRate,
                      kvBudget: c.decodeIfPresent(Int.self, forKey: .kvBudget),
                      tspRate: c.decodeIfPresent(Double.self, forKey: .tspRate) ?? Defaults.tspRate,
                      tspLength: c.decodeIfPresent(Int.self, forKey: .tspLength),
                      tspLayer: c.decodeIfPresent(Int.self, forKey: .tspLayer),
                      windowSize: c.decodeIfPresent(Int.self, forKey: .windowSize) ?? Defaults.windowSize,
                      kernelSize: c.decodeIfPresent(Int.self, forKey: .kernelSize) ?? Defaults.kernelSize,
                      pooling: c.decodeIfPresent(Pooling.self, forKey: .pooling) ?? Defaults.pooling,
                      adaAlpha: c.decodeIfPresent(Double.self, forKey: .adaAlpha) ?? Defaults.adaAlpha,
                      headKVBeta: c.decodeIfPresent(Double.self, forKey: .headKVBeta) ?? Defaults.headKVBeta,
                      headKVTemperature: c.decodeIfPresent(Double.self, forKey: .headKVTemperature)
                          ?? Defaults.headKVTemperature)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(retainRate, forKey: .retainRate)
        try c.encodeIfPresent(kvBudget, forKey: .kvBudget)
        try c.encode(tspRate, forKey: .tspRate)
        try c.encodeIfPresent(tspLength, forKey: .tspLength)
        try c.encodeIfPresent(tspLayer, forKey: .tspLayer)
        try c.encode(windowSize, forKey: .windowSize)
        try c.encode(kernelSize, forKey: .kernelSize)
        try c.encode(pooling, forKey: .pooling)
        try c.encode(adaAlpha, forKey: .adaAlpha)
        try c.encode(headKVBeta, forKey: .headKVBeta)
        try c.encode(headKVTemperature, forKey: .headKVTemperature)
    }
}
